"""Least-privilege Elasticsearch roles for movierec's two kinds of credentials.

`pipeline`: creates each run's versioned indices, switches the aliases, prunes old versions, and
writes the unversioned ones (model cards, deletions, consents). `api`: reads everything it serves,
writes ratings, users, movies (live statistics, added movies), consents and deletions, refreshes what
it wrote, and may create the three unversioned indices the API creates lazily; it cannot create,
delete or re-alias versions.
`movierec es up --security` creates an API key with each; the README prints them for other clusters.
"""

from __future__ import annotations


def pipeline_role(prefix: str = "movierec-") -> dict:
    return {
        "cluster": ["monitor"],
        "indices": [
            {
                "names": [f"{prefix}*"],
                # manage: create/delete indices, settings, refresh, and the aliases' atomic switch.
                "privileges": ["manage", "read", "write", "view_index_metadata"],
            }
        ],
    }


def api_role(prefix: str = "movierec-") -> dict:
    return {
        "cluster": ["monitor"],
        "indices": [
            {"names": [f"{prefix}models*"], "privileges": ["read", "view_index_metadata"]},
            {
                "names": [
                    f"{prefix}{kind}*"
                    for kind in ("movies", "users", "ratings", "consents", "deletions", "added_movies")
                ],
                # maintenance: the write path refreshes movies and users once per batch (so the next title
                # search and kNN lookup see it), and ratings when an added movie's item vector is refolded.
                "privileges": ["read", "write", "view_index_metadata", "maintenance"],
            },
            {
                "names": [f"{prefix}consents*", f"{prefix}deletions*", f"{prefix}added_movies*"],
                "privileges": ["create_index"],
            },
        ],
    }


ROLES = {"pipeline": pipeline_role, "api": api_role}
