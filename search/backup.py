"""Backups of what exists only in Elasticsearch: Elasticsearch snapshots of the serving version and of
every unversioned index under the prefix.

API ratings, deletions, consents, model cards and movies added through the API live nowhere else: the
MovieLens files give back only what the pipeline made from them. A snapshot holds the serving
version's indices (movies, users, ratings of one version) and every index under the prefix that is not
versioned (models, deletions, consents and whatever other unversioned index is present, e.g. added
movies or rating events), found by name rather than from a fixed list. A restore brings them back
with their aliases and points the versioned aliases at the restored version.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from elasticsearch import ApiError, Elasticsearch, NotFoundError

from movierec.errors import Failed, NotFound
from movierec.search import indices

log = logging.getLogger(__name__)

# `<prefix><kind>-v20260101120000-ab12`: a pipeline version (indices.new_version); anything else under
# the prefix is unversioned (`<prefix>models-v2` carries a schema version, not a run).
VERSIONED = re.compile(r"-(v\d{14}-[0-9a-f]{4})$")
META_PREFIX = "movierec_prefix"


class BackupError(Failed):
    pass


class NoSnapshot(NotFound):
    pass


@dataclass(frozen=True)
class Snapshot:
    name: str
    version: str | None  # the serving version it holds
    indices: tuple[str, ...]
    started: str
    state: str


def backup_indices(es: Elasticsearch, names: indices.IndexNames) -> tuple[str | None, list[str]]:
    """(serving version, the indices a backup holds): the serving version's and every unversioned one."""
    serving = indices.serving_version(es, names)
    found = es.indices.get(index=f"{names.prefix}*", expand_wildcards="open", ignore_unavailable=True)
    chosen = []
    for index in sorted(found):
        match = VERSIONED.search(index)
        if match is None or match.group(1) == serving:
            chosen.append(index)
    return serving, chosen


def ensure_repository(es: Elasticsearch, repository: str, location: str) -> None:
    try:
        es.snapshot.get_repository(name=repository)
        return
    except NotFoundError:
        if not location:
            raise BackupError(
                f"no snapshot repository '{repository}' is registered: register one (fs, s3, gcs, azure; "
                "PUT _snapshot/<name>) or set MOVIEREC_SNAPSHOT_LOCATION to a folder under the node's path.repo"
            ) from None
    try:
        es.snapshot.create_repository(name=repository, repository={"type": "fs", "settings": {"location": location}})
    except ApiError as exc:
        reason = _reason(exc)
        raise BackupError(
            f"could not register the fs snapshot repository '{repository}' at '{location}': {reason}; "
            "the node needs path.repo (set by `movierec es up`), or register a repository of any type yourself"
        ) from None
    log.info("registered fs snapshot repository %s at %s", repository, location)


def _reason(exc: ApiError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error", {})
    return (error.get("reason") if isinstance(error, dict) else None) or str(exc.message)


def create(
    es: Elasticsearch, names: indices.IndexNames, repository: str, location: str, *, now: datetime | None = None
) -> Snapshot:
    """Snapshot the serving version plus the unversioned indices; waits until it is done."""
    ensure_repository(es, repository, location)
    serving, chosen = backup_indices(es, names)
    if not chosen:
        raise BackupError(f"nothing to back up: no index under {names.prefix}*")
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d%H%M%S")
    name = f"{names.prefix}{serving or 'unversioned'}-{stamp}".lower()
    answer = es.snapshot.create(
        repository=repository,
        snapshot=name,
        indices=",".join(chosen),
        include_global_state=False,
        wait_for_completion=True,
        metadata={META_PREFIX: names.prefix, "serving_version": serving},
    )
    info = answer["snapshot"]
    if info["state"] != "SUCCESS" or info["shards"]["failed"]:
        raise BackupError(f"snapshot {name} ended {info['state']} with {info['shards']['failed']} failed shards")
    return Snapshot(name, serving, tuple(sorted(info["indices"])), info.get("start_time", ""), info["state"])


def snapshots(es: Elasticsearch, names: indices.IndexNames, repository: str) -> list[Snapshot]:
    """This prefix's snapshots in `repository`, oldest first."""
    try:
        found = es.snapshot.get(repository=repository, snapshot="*")["snapshots"]
    except NotFoundError:
        return []
    ours = [s for s in found if (s.get("metadata") or {}).get(META_PREFIX) == names.prefix]
    return [
        Snapshot(
            s["snapshot"],
            s["metadata"].get("serving_version"),
            tuple(sorted(s["indices"])),
            s["start_time"],
            s["state"],
        )
        for s in sorted(ours, key=lambda s: s["start_time_in_millis"])
    ]


def restore(
    es: Elasticsearch, names: indices.IndexNames, repository: str, *, snapshot: str | None = None, replace: bool = False
) -> Snapshot:
    """Restore a snapshot (default: this prefix's newest) with its aliases; the versioned aliases then
    point at its version. Indices that exist are left alone unless `replace`, which deletes them first."""
    kept = snapshots(es, names, repository)
    chosen = next((s for s in kept if s.name == snapshot), None) if snapshot else (kept[-1] if kept else None)
    if chosen is None:
        what = f"snapshot {snapshot}" if snapshot else f"a snapshot of {names.prefix}*"
        raise NoSnapshot(f"no {what} in repository '{repository}' (`movierec backup` makes one)")
    present = [i for i in chosen.indices if es.indices.exists(index=i)]
    if present and not replace:
        raise BackupError(
            f"{len(present)} of the snapshot's indices exist ({', '.join(present[:4])}"
            f"{', ...' if len(present) > 4 else ''}): re-run with --replace to delete them and restore"
        )
    for start in range(0, len(present), 50):
        es.indices.delete(index=",".join(present[start : start + 50]))
    es.snapshot.restore(
        repository=repository,
        snapshot=chosen.name,
        indices=",".join(chosen.indices),
        include_aliases=True,
        include_global_state=False,
        wait_for_completion=True,
    )
    es.cluster.health(index=",".join(chosen.indices), wait_for_status="yellow", timeout="60s")
    if chosen.version:  # a newer version may hold the aliases now: one atomic switch back
        indices.switch_to(es, names, chosen.version)
    return chosen
