import asyncio

import pytest
from elasticsearch import AsyncElasticsearch

from movierec.search import movies
from movierec.search.indices import IndexNames
from movierec.search.title_queries import TITLE_QUERIES

pytestmark = [pytest.mark.es, pytest.mark.spark]


@pytest.fixture(scope="module")
def ranked(indexed):
    """query -> top-3 movie ids, from the real node over the pipeline's documents."""

    async def run():
        es = AsyncElasticsearch(indexed.es_url)
        names = IndexNames(indexed.index_prefix)
        try:
            return {
                q: [hit["movie_id"] for hit in await movies.search_titles(es, names, q, limit=3)]
                for q, _, _ in TITLE_QUERIES
            }
        finally:
            await es.close()

    return asyncio.run(run())


@pytest.mark.parametrize("query, expected, kind", TITLE_QUERIES, ids=[q for q, _, _ in TITLE_QUERIES])
def test_intended_movie_is_first(ranked, query, expected, kind):
    assert ranked[query][:1] == [expected], f"{kind}: {query!r} -> {ranked[query]}"


def test_table_is_large_enough():
    assert len(TITLE_QUERIES) >= 40
