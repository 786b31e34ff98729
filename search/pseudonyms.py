"""Fresh pseudonymous ids for new anonymous users (`POST /users`).

An id is drawn at random from [ID_OFFSET, 2**31 - 1] and claimed with a conditional create
(`op_type=create`) in the unversioned pseudonyms index: two callers can never get the same id, because
the second create of a document id fails with 409 and that caller draws again. MovieLens user ids stay
far below ID_OFFSET (the largest set, ml-latest, has about 330,000 users), and an id that the users
index already holds (e.g. a synthetic set with large ids) is skipped, so a handed-out id never
collides with a trained user. Random rather than sequential ids, so one id tells nothing about others.
"""

from __future__ import annotations

import secrets
import time

from elasticsearch import AsyncElasticsearch, ConflictError

from movierec.errors import Conflict
from movierec.search.indices import WRITE_ATTEMPTS, IndexNames

ID_OFFSET = 1_000_000_000
ID_MAX = 2**31 - 1


class NoFreeId(Conflict):
    """Every drawn id was taken (practically impossible: a billion ids)."""


def pseudonyms_index(names: IndexNames) -> str:
    return names.alias("pseudonyms")


def draw_id() -> int:
    return ID_OFFSET + secrets.randbelow(ID_MAX - ID_OFFSET + 1)


async def new_user_id(es: AsyncElasticsearch, names: IndexNames, *, mapping: dict) -> int:
    """Claim a fresh id; the pseudonyms index is created with its mapping on first use."""
    index = pseudonyms_index(names)
    if not await es.indices.exists(index=index):  # 400: another worker created it first
        await es.options(ignore_status=400).indices.create(index=index, **mapping)
    for _ in range(WRITE_ATTEMPTS):
        user_id = draw_id()
        if await es.exists(index=names.users, id=str(user_id)):
            continue
        try:
            await es.create(
                index=index,
                id=str(user_id),
                document={"user_id": user_id, "created_at": int(time.time() * 1000)},
                refresh=True,
            )
        except ConflictError:
            continue
        return user_id
    raise NoFreeId(f"no free user id after {WRITE_ATTEMPTS} draws; try again")
