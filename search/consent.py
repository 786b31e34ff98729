"""Consent to personalisation: without it a user gets no taste profile (no vector) and popular movies.

Consent records live in an unversioned index, so they hold across retrains and rollbacks. Without a
record the deployment's default applies: personalised (opt-out), or not until asked for
(`MOVIEREC_CONSENT_REQUIRED=true`, opt-in).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from elasticsearch import AsyncElasticsearch, ConflictError, NotFoundError

from movierec.errors import Conflict
from movierec.modelcard import ModelCard
from movierec.search.domain import VectorSource, now_ms
from movierec.search.indices import (
    WRITE_ATTEMPTS,
    IndexNames,
    ensure_shared_index,
    kind_indices,
    replace_if_unchanged,
)
from movierec.search.writes import move_audience, stored_entries

log = logging.getLogger(__name__)


class VectorNotRemoved(Conflict):
    """The withdrawal is recorded, but the user's vector kept changing under the removal."""


@dataclass
class Consent:
    user_id: int
    personalisation: bool
    recorded: bool  # False: no record, the deployment's default applies
    updated_at: int | None = None  # epoch milliseconds


async def get_consent(es: AsyncElasticsearch, names: IndexNames, user_id: int, *, default: bool) -> Consent:
    try:
        doc = (await es.get(index=names.consents, id=str(user_id)))["_source"]
    except NotFoundError:  # no record, or no consents index yet
        return Consent(user_id, default, recorded=False)
    return Consent(user_id, bool(doc["personalisation"]), recorded=True, updated_at=doc.get("updated_at"))


async def record_consent(
    es: AsyncElasticsearch, names: IndexNames, user_id: int, personalisation: bool, *, model: ModelCard | None = None
) -> Consent:
    """Store the user's choice; on withdrawal their vector is removed from every kept version and (with
    the serving `model`) from the audience sums of the movies they liked, at once."""
    await ensure_shared_index(es, names, "consents")
    now = now_ms()
    doc = {"user_id": user_id, "personalisation": personalisation, "updated_at": now}
    await es.index(index=names.consents, id=str(user_id), document=doc, refresh=True)
    if not personalisation:
        leaving = await _serving_contribution(es, names, user_id) if model is not None else None
        await _remove_vectors(es, names, user_id)
        if leaving is not None and leaving[1]:
            await move_audience(es, names, model, leaving[0], leaving[1], None)
    return Consent(user_id, personalisation, recorded=True, updated_at=now)


async def _serving_contribution(
    es: AsyncElasticsearch, names: IndexNames, user_id: int
) -> tuple[dict[int, dict], list[float] | None] | None:
    """The user's ratings and vector in the serving version: what they add to the movies' aggregates."""
    try:
        doc = (await es.get(index=names.users, id=str(user_id)))["_source"]
    except NotFoundError:
        return None
    return await stored_entries(es, names, user_id, doc), doc.get("user_vector")


async def _remove_vectors(es: AsyncElasticsearch, names: IndexNames, user_id: int) -> None:
    """Remove the vector from every kept version; VectorNotRemoved (409) if one kept changing under us."""
    stuck = [index for index in await kind_indices(es, names, "users") if not await _remove_vector(es, index, user_id)]
    if stuck:  # the vector may still be stored: say so, never answer as if it were gone
        log.warning("user %s: vector not removed from %s after %d conflicts", user_id, stuck, WRITE_ATTEMPTS)
        raise VectorNotRemoved(
            f"user {user_id}: the withdrawal of consent is recorded, but the vector could not be removed yet "
            "(the profile was being updated at the same time); try again"
        )


async def _remove_vector(es: AsyncElasticsearch, index: str, user_id: int) -> bool:
    """False if every attempt lost a race with another write (a rating being folded in)."""
    # No scripting on every build (the integ-test-zip has no painless): rewrite the document without it.
    for _ in range(WRITE_ATTEMPTS):
        try:
            doc = await es.get(index=index, id=str(user_id))
        except NotFoundError:
            return True
        source = {k: v for k, v in doc["_source"].items() if k != "user_vector"}
        source["vector_source"] = VectorSource.NO_CONSENT
        try:
            await replace_if_unchanged(es, doc, source)
        except ConflictError:
            continue
        return True
    return False
