"""recommend.py without a server: a fake client answers as the server did in the cases measured."""

import asyncio

import pytest

from movierec.search import recommend
from movierec.search.indices import IndexNames


def test_diversity_on_an_index_written_by_8x_is_a_clear_error():
    """Seen on a cluster upgraded from 8.19: the retriever finds 25 candidates and returns none of them."""

    class Upgraded8xIndex:
        async def search(self, index, body):
            return {"hits": {"total": {"value": 25, "relation": "eq"}, "hits": []}}

    with pytest.raises(recommend.DiversityUnavailable, match="run `movierec pipeline run`"):
        asyncio.run(recommend.knn_movies(Upgraded8xIndex(), IndexNames("x-"), [1.0], k=5, flt=None, diversity=0.5))
    empty = asyncio.run(recommend.knn_movies(Upgraded8xIndex(), IndexNames("x-"), [1.0], k=5, flt=None))
    assert empty == []
