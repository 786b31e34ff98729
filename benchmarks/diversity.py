"""What `diversity` buys and costs on the bundled data, offline, and whether the node agrees.

    .venv/bin/python benchmarks/diversity.py [--levels 0,0.25,0.5,0.75] [--check-node N]

Offline protocol (the quality benchmark's): ml-latest-small, random 80/20 split (seed 42), the
pipeline's implicit ALS (rank 24, reg 0.1, alpha 1, 15 iterations) trained on the 80%. For every test
user, the kNN candidates the service asks Elasticsearch for (5 x k = 50 best unseen movies by inner
product) are re-ranked by the same MMR that the `diversify` retriever runs, reimplemented in NumPy
(MMRResultDiversification: Lucene's max-inner-product similarity for both terms, lambda = 1 - d,
greedy picks starting from the most relevant, picks returned in the candidates' order).
Querying the node instead would measure the served model, which was trained on every rating, so there
is nothing held out to score; the NumPy re-ranking runs on the held-out model and `--check-node N`
shows it picks what the node picks (N indexed users, ES_URL / MOVIEREC_INDEX_PREFIX).

Measures, mean over test users, top 10:
- intra-list similarity: mean pairwise cosine similarity of the 10 item vectors (lower = more varied);
- genre coverage: distinct genres among the 10 movies;
- genre overlap: mean pairwise Jaccard similarity of the 10 movies' genre sets (lower = more varied);
- catalogue coverage: distinct movies over every user's top 10;
- NDCG@10 against the user's held-out ratings (every test rating relevant).
"""

from __future__ import annotations

import argparse
import asyncio
import csv

import numpy as np

from movierec import resources
from movierec.search.queries import MMR_CANDIDATE_FACTOR

K = 10


def mip_similarity(dots: np.ndarray) -> np.ndarray:
    """Lucene's MAXIMUM_INNER_PRODUCT score: dot + 1 when positive, 1 / (1 - dot) otherwise."""
    return np.where(dots < 0, 1.0 / (1.0 - dots), dots + 1.0)


def mmr(query: np.ndarray, candidates: np.ndarray, k: int, lam: float) -> list[int]:
    """Indices into `candidates` (kNN order) that the diversify retriever keeps, in that order."""
    qsim = mip_similarity(candidates @ query)
    pair = mip_similarity(candidates @ candidates.T)
    picked = [int(np.argmax(qsim))]
    max_sim = np.full(len(candidates), -np.inf, dtype=qsim.dtype)
    while len(picked) < min(k, len(candidates)):
        max_sim = np.maximum(max_sim, pair[:, picked[-1]])
        score = lam * qsim - (1 - lam) * max_sim
        score[picked] = -np.inf
        picked.append(int(np.argmax(score)))
    return sorted(picked)


def intra_list_similarity(vectors: np.ndarray) -> float:
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    sims = unit @ unit.T
    n = len(vectors)
    return float((sims.sum() - n) / (n * (n - 1)))


def genre_overlap(genre_sets: list[set[str]]) -> float:
    pairs = [(a, b) for i, a in enumerate(genre_sets) for b in genre_sets[i + 1 :]]
    return float(np.mean([len(a & b) / len(a | b) if a | b else 0.0 for a, b in pairs]))


def movie_genres() -> dict[int, set[str]]:
    with (resources.bundled_dataset() / "movies.csv").open(newline="", encoding="utf-8") as fh:
        return {
            int(row["movieId"]): {g for g in row["genres"].split("|") if g != "(no genres listed)"}
            for row in csv.DictReader(fh)
        }


def offline(levels: list[float]) -> list[dict]:
    from movierec.config import Settings
    from movierec.pipeline import als, clean, evaluate
    from movierec.pipeline.load import load_movielens
    from movierec.pipeline.metrics import ranking_metrics, top_k_excluding
    from movierec.pipeline.spark import build_session

    spark = build_session(Settings(), app_name="movierec-diversity")
    spark.sparkContext.setCheckpointDir("/tmp/movierec-diversity-ckpt")
    ratings, _ = clean.clean_ratings(load_movielens(spark, resources.bundled_dataset()).ratings)
    train, test = evaluate.random_split(ratings.cache(), test_fraction=0.2, seed=42)
    model = als.fit_als(train, als.AlsParams())
    items = model.itemFactors.orderBy("id").collect()
    item_ids = np.array([row["id"] for row in items])
    item_vectors = np.array([row["features"] for row in items], dtype=np.float32)
    position = {int(i): n for n, i in enumerate(item_ids)}
    users = {row["id"]: np.array(row["features"], dtype=np.float32) for row in model.userFactors.collect()}
    seen = evaluate._items_by_user(train)
    relevant_by_user = evaluate._items_by_user(test)
    spark.stop()

    user_ids = [u for u in relevant_by_user if u in users]
    exclude = [np.array([position[i] for i in seen.get(u, ()) if i in position], dtype=np.int64) for u in user_ids]
    relevant = [{int(i) for i in relevant_by_user[u]} for u in user_ids]
    user_matrix = np.array([users[u] for u in user_ids], dtype=np.float32)
    candidates = top_k_excluding(user_matrix, item_vectors, exclude, K * MMR_CANDIDATE_FACTOR)
    genres = movie_genres()

    rows = []
    for d in levels:
        lists, ils, coverage, overlap = [], [], [], []
        for n, cand in enumerate(candidates):
            picks = cand[:K] if d == 0 else cand[mmr(user_matrix[n], item_vectors[cand], K, 1.0 - d)]
            ids = item_ids[picks]
            lists.append(ids.tolist())
            ils.append(intra_list_similarity(item_vectors[picks].astype(np.float64)))
            sets = [genres.get(int(i), set()) for i in ids]
            coverage.append(len(set().union(*sets)))
            overlap.append(genre_overlap(sets))
        metrics = ranking_metrics(lists, relevant, K)
        rows.append(
            {
                "d": d,
                "ils": float(np.mean(ils)),
                "genres": float(np.mean(coverage)),
                "overlap": float(np.mean(overlap)),
                "catalogue": len({i for ids in lists for i in ids}),
                "ndcg": metrics["ndcg"],
                "users": len(user_ids),
            }
        )
    return rows


async def check_node(levels: list[float], n_users: int) -> dict[float, float]:
    """Share of users whose diversified list from the node equals the NumPy MMR over the node's candidates."""
    from elasticsearch import AsyncElasticsearch

    from movierec.config import get_settings
    from movierec.search import queries, recommend
    from movierec.search.indices import IndexNames

    settings = get_settings()
    names = IndexNames(settings.index_prefix)
    es = AsyncElasticsearch(settings.es_url)
    agree = dict.fromkeys(levels, 0)
    try:
        hits = await es.search(index=names.users, size=n_users, query={"exists": {"field": "user_vector"}})
        for hit in hits["hits"]["hits"]:
            user_id, vector = hit["_source"]["user_id"], np.array(hit["_source"]["user_vector"], dtype=np.float32)
            rated = await recommend.rated_movie_ids(es, names, user_id)
            flt = queries.filter_clause(queries.MovieFilter(exclude_ids=tuple(rated)))
            window = queries.mmr_window(K)
            body = queries.knn_body(vector.tolist(), k=window, filter=flt, source=["movie_id"])
            cand = [h["_source"]["movie_id"] for h in (await es.search(index=names.movies, body=body))["hits"]["hits"]]
            docs = (await es.mget(index=names.movies, ids=[str(c) for c in cand], source_includes=["item_vector"]))[
                "docs"
            ]
            cand_vectors = np.array([d["_source"]["item_vector"] for d in docs], dtype=np.float32)
            for d in levels:
                mine = cand[:K] if d == 0 else [cand[i] for i in mmr(vector, cand_vectors, K, 1.0 - d)]
                node = await recommend.for_user(es, names, user_id, k=K, diversity=d)
                agree[d] += [r["movie_id"] for r in node.recommendations] == mine
        total = len(hits["hits"]["hits"])
    finally:
        await es.close()
    return {d: agree[d] / total for d in levels}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default="0,0.25,0.5,0.75")
    parser.add_argument("--check-node", type=int, default=0, metavar="N", help="compare with the node for N users")
    args = parser.parse_args()
    levels = [float(x) for x in args.levels.split(",")]
    rows = offline(levels)
    base = rows[0]
    print(f"offline, ml-latest-small 80/20 seed 42, {base['users']} test users, top {K} of {K * MMR_CANDIDATE_FACTOR}")
    print(
        f"{'d':>5} {'lambda':>6} {'intra-list sim':>14} {'genres in top 10':>16} {'genre overlap':>13} "
        f"{'catalogue':>9} {'NDCG@10':>8} {'NDCG vs d=0':>11}"
    )
    for r in rows:
        change = (r["ndcg"] / base["ndcg"] - 1) * 100 if base["ndcg"] else float("nan")
        cells = (
            f"{r['ils']:>14.3f} {r['genres']:>16.2f} {r['overlap']:>13.3f} {r['catalogue']:>9} "
            f"{r['ndcg']:>8.4f} {change:>+10.1f}%"
        )
        print(f"{r['d']:>5.2f} {1 - r['d']:>6.2f} {cells}")
    if args.check_node:
        agreement = asyncio.run(check_node(levels, args.check_node))
        print(f"node's diversify retriever vs this NumPy MMR, same candidates, {args.check_node} users:")
        for d, share in agreement.items():
            print(f"  d={d:.2f}: identical top {K} for {share:.0%} of users")


if __name__ == "__main__":
    main()
