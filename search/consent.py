"""Consent to personalisation: without it a user gets no taste profile (no vector) and popular movies.

Consent records live in an unversioned index, so they hold across retrains and rollbacks. Without a
record the deployment's default applies: personalised (opt-out), or not until asked for
(`MOVIEREC_CONSENT_REQUIRED=true`, opt-in).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from elasticsearch import AsyncElasticsearch, ConflictError, NotFoundError

from movierec.search.indices import WRITE_ATTEMPTS, IndexNames, ensure_index, kind_indices, replace_if_unchanged


@dataclass
class Consent:
    user_id: int
    personalisation: bool
    recorded: bool  # False: no record, the deployment's default applies
    updated_at: int | None = None


async def get_consent(es: AsyncElasticsearch, names: IndexNames, user_id: int, *, default: bool) -> Consent:
    try:
        doc = (await es.get(index=names.consents, id=str(user_id)))["_source"]
    except NotFoundError:  # no record, or no consents index yet
        return Consent(user_id, default, recorded=False)
    return Consent(user_id, bool(doc["personalisation"]), recorded=True, updated_at=doc.get("updated_at"))


async def record_consent(
    es: AsyncElasticsearch, names: IndexNames, user_id: int, personalisation: bool, *, mapping: dict
) -> Consent:
    """Store the user's choice; on withdrawal their vector is removed from every kept version."""
    await ensure_index(es, names.consents, mapping)
    now = int(time.time())
    doc = {"user_id": user_id, "personalisation": personalisation, "updated_at": now}
    await es.index(index=names.consents, id=str(user_id), document=doc, refresh=True)
    if not personalisation:
        await _remove_vectors(es, names, user_id)
    return Consent(user_id, personalisation, recorded=True, updated_at=now)


async def _remove_vectors(es: AsyncElasticsearch, names: IndexNames, user_id: int) -> None:
    # No scripting on every build (the integ-test-zip has no painless): rewrite the document without it.
    for index in await kind_indices(es, names, "users"):
        for _ in range(WRITE_ATTEMPTS):  # a rating being folded in at the same moment: read again
            try:
                doc = await es.get(index=index, id=str(user_id))
            except NotFoundError:
                break
            source = {k: v for k, v in doc["_source"].items() if k != "user_vector"}
            source["vector_source"] = "no-consent"
            try:
                await replace_if_unchanged(es, doc, source)
            except ConflictError:
                continue
            break
