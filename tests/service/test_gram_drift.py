"""The user fold-in's item Gram leaves out added movies' fold-in vectors: the drift, measured on the real model.

The served model of the bundled ml-latest-small (the session pipeline run), its card's YtY and user XtX, its
item and user vectors and stored ratings, all read back from the node. K added movies get their vectors the
way the write path gives them (`fold_in_item` over 10 real raters with their real ratings); a sample of real
users is then refolded with the served G and with the exact G + sum(y y^T), and the change is compared with
`gram_drift`'s bound and with the bound the README states.
"""

import os
import uuid

import numpy as np
import pytest
from elasticsearch.helpers import scan

from movierec.modelcard import card_from_document
from movierec.search.foldin import fold_in_item, fold_in_user, gram_drift, item_gram
from movierec.search.indices import IndexNames, serving_version

pytestmark = [pytest.mark.es, pytest.mark.spark]
RATERS = 10  # per added movie: the "done when" of the issue has 10 raters
USERS = 100  # refolded users


@pytest.fixture(scope="module")
def served(es, indexed):
    names = IndexNames(indexed.index_prefix)
    version = serving_version(es, names)
    card = card_from_document(version, es.get(index=names.models, id=version)["_source"])
    # Trained vectors only: other tests of the session add movies and fold users in.
    trained = {"query": {"term": {"vector_source": "als"}}}
    items = {
        h["_source"]["movie_id"]: np.array(h["_source"]["item_vector"])
        for h in scan(es, index=names.movies, query=trained, _source=["movie_id", "item_vector"], size=2000)
    }
    users = {
        h["_source"]["user_id"]: np.array(h["_source"]["user_vector"])
        for h in scan(es, index=names.users, query=trained, _source=["user_id", "user_vector"], size=2000)
    }
    ratings = [
        (h["_source"]["user_id"], h["_source"]["movie_id"], h["_source"]["rating"])
        for h in scan(es, index=names.ratings, _source=["user_id", "movie_id", "rating"], size=5000)
    ]
    return card, items, users, ratings


def test_the_cards_item_gram_is_the_served_items_yty(served):
    # Otherwise the drift below would be measured against the wrong baseline.
    card, items, _, _ = served
    assert card.implicit and card.user_gram is not None
    assert np.allclose(card.gram, item_gram(np.array(list(items.values()))), rtol=1e-6, atol=1e-6)


# Measured (README "New movies"): the largest change of a sampled user's vector 0.15%, 0.36%, 1.7% for K = 1, 10,
# 100 against the stated 0.5%, 1%, 3%; the guaranteed bound (loose: G's smallest eigenvalue is small) 7%, 8-10%, 38-45%.
@pytest.mark.parametrize(
    ("added", "most_user_change", "most_bound"), [(1, 0.005, 0.15), (10, 0.01, 0.2), (100, 0.03, 0.75)]
)
def test_added_movies_move_user_fold_ins_less_than_the_stated_bound(served, added, most_user_change, most_bound):
    card, items, users, ratings = served
    rng = np.random.default_rng(added)
    by_movie: dict[int, list[tuple[int, float]]] = {}
    by_user: dict[int, list[tuple[int, float]]] = {}
    for user, movie, rating in ratings:
        if user in users:
            by_movie.setdefault(movie, []).append((user, rating))
        if movie in items:
            by_user.setdefault(user, []).append((movie, rating))
    # Each added movie is rated like a real movie with enough raters: 10 of its real raters, their real stars.
    eligible = sorted(m for m, r in by_movie.items() if len(r) >= RATERS)
    vectors = []
    for movie in rng.choice(eligible, size=added, replace=False):
        picked = [by_movie[movie][i] for i in rng.choice(len(by_movie[movie]), size=RATERS, replace=False)]
        vectors.append(
            fold_in_item(
                np.array([users[u] for u, _ in picked]),
                [r for _, r in picked],
                reg_param=card.reg_param,
                implicit=True,
                alpha=card.alpha,
                gram=card.user_gram,
            )
        )
    added_vectors = np.array(vectors)
    drift = gram_drift(card.gram, added_vectors, reg_param=card.reg_param)
    exact = card.gram + added_vectors.T @ added_vectors
    catalogue_ids = sorted(items)
    catalogue = np.array([items[m] for m in catalogue_ids])
    changes, overlaps = [], []
    for user in rng.choice(sorted(by_user), size=USERS, replace=False):
        rated = by_user[user]
        y, r = np.array([items[m] for m, _ in rated]), [x for _, x in rated]
        common = {"reg_param": card.reg_param, "implicit": True, "alpha": card.alpha}
        served_vector = fold_in_user(y, r, gram=card.gram, **common)
        exact_vector = fold_in_user(y, r, gram=exact, **common)
        changes.append(np.linalg.norm(exact_vector - served_vector) / np.linalg.norm(served_vector))
        top = [set(np.argsort(-(catalogue @ v))[:10]) for v in (served_vector, exact_vector)]
        overlaps.append(len(top[0] & top[1]) / 10)
    report = (
        f"K={added}: S/G spectral {drift.relative_spectral:.2e}, Frobenius {drift.relative_frobenius:.2e}, "
        f"bound {drift.user_bound:.2e}; user change max {max(changes):.2e} median {np.median(changes):.2e}; "
        f"top-10 overlap min {min(overlaps):.2f} mean {np.mean(overlaps):.3f}"
    )
    if os.environ.get("MOVIEREC_PRINT_DRIFT"):
        print(report)
    assert drift.items == added
    assert max(changes) <= drift.user_bound, report  # the theorem, on real data
    assert max(changes) < most_user_change and drift.user_bound < most_bound, report
    assert np.mean(overlaps) >= 0.95, report  # the users' top 10 barely move


def test_health_reports_the_drift_of_the_added_movies_fold_in_vectors(api, es, indexed, served):
    card = served[0]
    names = IndexNames(indexed.index_prefix)

    def folded_in() -> np.ndarray:
        es.indices.refresh(index=names.movies)
        query = {"query": {"term": {"vector_source": "fold-in"}}}
        hits = scan(es, index=names.movies, query=query, _source=["item_vector"])
        return np.array([h["_source"]["item_vector"] for h in hits]).reshape(-1, card.gram.shape[0])

    before = api.get("/health").json()["user_fold_in_drift"]
    assert before["items"] == len(folded_in())
    movie_id = api.post("/movies", json={"title": f"Gramdrift Quennit {uuid.uuid4().hex[:6]}", "year": 2034}).json()[
        "movie"
    ]["movie_id"]
    for user in (985_001, 985_002):  # each gets a vector from a film of the files, then refolds the new movie's
        assert api.post(f"/users/{user}/ratings", json={"movie_id": 1, "rating": 5.0}).status_code == 200
        assert api.post(f"/users/{user}/ratings", json={"movie_id": movie_id, "rating": 5.0}).status_code == 200
    after = api.get("/health").json()["user_fold_in_drift"]
    vectors = folded_in()
    assert after["items"] == before["items"] + 1 == len(vectors)
    expected = gram_drift(card.gram, vectors, reg_param=card.reg_param)
    assert after["user_bound"] == pytest.approx(expected.user_bound) and after["user_bound"] > 0
    # ||S||_F grows with every vector added to S (the others are bounds and ratios, not monotone).
    assert after["relative_frobenius"] > before["relative_frobenius"]
    assert after["relative_spectral"] == pytest.approx(expected.relative_spectral)
