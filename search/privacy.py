"""A user's data: export it (portability) and erase it (right to erasure) in every kept version.

Erasure first records itself in the deletions index, so the next pipeline run drops the user's rows
from the MovieLens files too, and a failure half-way is finished by calling it again. With the serving
model, the user's ratings and vector leave the serving version's live movie statistics and audience
sums first (search/writes.py); the older kept version's aggregates are rebuilt at the next run.
"""

from __future__ import annotations

from dataclasses import dataclass

from elasticsearch import AsyncElasticsearch, NotFoundError

from movierec.errors import NotFound
from movierec.modelcard import ModelCard
from movierec.search.domain import now_ms
from movierec.search.indices import IndexNames, ensure_shared_index, kind_indices
from movierec.search.writes import move_audience, stored_entries, user_hits

BULK_DELETES = 5000  # delete operations per bulk request


class NothingStored(NotFound):
    """No document and no rating of this user in any kept version."""


@dataclass
class Erasure:
    user_id: int
    ratings_deleted: int
    user_documents_deleted: int
    indices_searched: list[str]
    erased_at: int  # epoch milliseconds


async def erase_user(
    es: AsyncElasticsearch, names: IndexNames, user_id: int, *, model: ModelCard | None = None
) -> Erasure:
    """Delete the user everywhere; with the serving `model`, their ratings and vector leave the live
    statistics and audience sums of the movies they rated first, at once."""
    rating_indices = await kind_indices(es, names, "ratings")
    user_indices = await kind_indices(es, names, "users")
    if rating_indices:  # rating writes do not refresh: the search below must see the latest ones
        await es.indices.refresh(index=",".join(rating_indices))
    found = {index: [h["_id"] for h in await user_hits(es, index, user_id, source=False)] for index in rating_indices}
    docs = [index for index in user_indices if await es.exists(index=index, id=str(user_id))]
    has_consent = await es.exists(index=names.consents, id=str(user_id))
    if not docs and not any(found.values()) and not has_consent:
        raise NothingStored(f"nothing is stored for user {user_id}")
    erased_at = now_ms()
    if model is not None:
        await _subtract_contribution(es, names, model, user_id)
    await ensure_shared_index(es, names, "deletions")
    await es.index(
        index=names.deletions,
        id=f"user_{user_id}",
        document={"kind": "user", "user_id": user_id, "date": erased_at},
        refresh=True,
    )
    operations = [{"delete": {"_index": index, "_id": doc_id}} for index, ids in found.items() for doc_id in ids]
    operations += [{"delete": {"_index": index, "_id": str(user_id)}} for index in docs]
    for start in range(0, len(operations), BULK_DELETES):
        await es.bulk(operations=operations[start : start + BULK_DELETES], refresh=True)
    await es.options(ignore_status=404).delete(index=names.consents, id=str(user_id), refresh=True)
    return Erasure(user_id, sum(map(len, found.values())), len(docs), rating_indices + user_indices, erased_at)


async def _subtract_contribution(es: AsyncElasticsearch, names: IndexNames, model: ModelCard, user_id: int) -> None:
    try:
        doc = (await es.get(index=names.users, id=str(user_id)))["_source"]
    except NotFoundError:
        doc = None
    entries = await stored_entries(es, names, user_id, doc)
    if entries:
        vector = doc.get("user_vector") if doc else None
        await move_audience(es, names, model, entries, vector, None, statistics=True, user_id=user_id)


async def export_user(es: AsyncElasticsearch, names: IndexNames, user_id: int) -> dict:
    """Everything the serving version holds about the user, plus the deletions they asked for."""
    try:
        user = (await es.get(index=names.users, id=str(user_id)))["_source"]
    except NotFoundError:
        user = None
    if user is not None and "ratings" in user:  # real time: the ids from the profile, the documents by id
        ids = [f"{user_id}_{r['movie_id']}" for r in user["ratings"]]
        docs = (await es.mget(index=names.ratings, ids=ids))["docs"] if ids else []
        ratings = [d["_source"] for d in docs if d.get("found")]
    else:
        ratings = [hit["_source"] for hit in await user_hits(es, names.ratings, user_id, source=True)]
    if user is None and not ratings:
        raise NothingStored(f"nothing is stored for user {user_id}")
    deletions = []
    if await es.indices.exists(index=names.deletions):
        await es.indices.refresh(index=names.deletions)  # written without a refresh; exports are rare
        deletions = [hit["_source"] for hit in await user_hits(es, names.deletions, user_id, source=True)]
    try:
        consent = (await es.get(index=names.consents, id=str(user_id)))["_source"]
    except NotFoundError:
        consent = None
    return {
        "user_id": user_id,
        "exported_at": now_ms(),
        "profile": user,
        "consent": consent,
        "ratings": ratings,
        "deletions": deletions,
    }
