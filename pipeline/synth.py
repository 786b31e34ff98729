"""Synthetic MovieLens-shaped data for scale tests: `movierec data synth --ratings 10000000 OUT`.

Shape taken from ml-25m: about 155 ratings per user and 400 per movie on average, long-tailed
(a few heavy users and blockbusters, many light users and obscure titles), ratings in half
stars with a mean near 3.5, driven by latent tastes so that ALS has structure to find.
Written in the ml-latest layout (movies.csv, ratings.csv, links.csv; header, CRLF).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

GENRES = (
    "Action",
    "Adventure",
    "Animation",
    "Children",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)
WORDS = (
    "Night",
    "Return",
    "Dark",
    "Love",
    "City",
    "Last",
    "Secret",
    "Star",
    "House",
    "River",
    "King",
    "Dream",
    "Ghost",
    "Road",
    "Summer",
    "War",
    "Blue",
    "Iron",
    "Silent",
    "Wild",
    "Golden",
    "Lost",
    "Empire",
    "Storm",
)
RATINGS_PER_USER = 155
RATINGS_PER_MOVIE = 400
CHUNK = 1_000_000


def synthesize(
    out: Path, n_ratings: int, *, seed: int = 42, progress: Callable[[int, int], None] | None = None
) -> dict:
    rng = np.random.default_rng(seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    n_users = max(100, n_ratings // RATINGS_PER_USER)
    n_movies = max(1000, n_ratings // RATINGS_PER_MOVIE)  # small sets: ml-100k has 1682
    rank = 8

    # Long tails: Zipf-like movie popularity, log-normal user activity.
    movie_weight = 1.0 / np.arange(1, n_movies + 1) ** 0.9
    rng.shuffle(movie_weight)
    movie_p = movie_weight / movie_weight.sum()
    activity = rng.lognormal(mean=0.0, sigma=1.0, size=n_users)
    # Nobody rates more than half the catalogue; the others make up what the cap removes.
    cap, scale = n_movies // 2, n_ratings / activity.sum()
    for _ in range(30):
        scale *= n_ratings / np.minimum(activity * scale, cap).sum()
    per_user = np.clip(np.round(activity * scale), 1, cap).astype(np.int64)

    user_taste = rng.normal(0, 0.6, size=(n_users, rank)).astype(np.float32)
    movie_taste = rng.normal(0, 0.6, size=(n_movies, rank)).astype(np.float32)
    movie_quality = rng.normal(0.0, 0.45, size=n_movies).astype(np.float32)
    user_bias = rng.normal(0.0, 0.35, size=n_users).astype(np.float32)

    _write_movies(out, n_movies, rng)
    written = 0
    with (out / "ratings.csv").open("w", newline="") as fh:
        fh.write("userId,movieId,rating,timestamp\r\n")
        start = 0
        while start < n_users:
            # Users in blocks of about CHUNK ratings, items sampled by popularity, duplicates dropped.
            end = start + 1
            while end < n_users and per_user[start:end].sum() < CHUNK:
                end += 1
            users, items = _sample_block(
                rng, np.arange(start, end), per_user[start:end], movie_p, user_taste, movie_taste
            )
            affinity = np.einsum("ij,ij->i", user_taste[users], movie_taste[items])
            raw = user_bias[users] + movie_quality[items] + affinity + rng.normal(0, 0.5, len(users))
            # People pick what they expect to like, so affinity is high on average: centre on MovieLens's mean.
            raw += 3.5 - raw.mean()
            stars = np.clip(np.round(raw * 2) / 2, 0.5, 5.0)
            stamps = rng.integers(825_000_000, 1_700_000_000, size=len(users))
            lines = [
                f"{u + 1},{m + 1},{r:.1f},{t}\r\n"
                for u, m, r, t in zip(users.tolist(), items.tolist(), stars.tolist(), stamps.tolist(), strict=False)
            ]
            fh.writelines(lines)
            written += len(lines)
            start = end
            if progress:
                progress(min(written, n_ratings), n_ratings)
    return {"users": n_users, "movies": n_movies, "ratings": written}


def _sample_block(
    rng: np.random.Generator,
    block_users: np.ndarray,
    wanted: np.ndarray,
    movie_p: np.ndarray,
    user_taste: np.ndarray,
    movie_taste: np.ndarray,
    *,
    rounds: int = 12,
    oversample: int = 8,
):
    """Distinct (user, movie) pairs. Candidates are drawn by popularity and each user keeps the ones
    that suit their taste best (with noise): people watch what they expect to like, which is the
    signal implicit ALS learns. Re-draws top up what dedup removed, from a flatter distribution
    after a few rounds (a heavy user has seen the blockbusters)."""
    n_movies = len(movie_p)
    flat_p = np.sqrt(movie_p) / np.sqrt(movie_p).sum()
    have = np.zeros(0, dtype=np.int64)
    deficit = wanted.copy()
    for round_ in range(rounds):
        counts = deficit * oversample
        users = np.repeat(block_users, counts)
        if len(users) == 0:
            break
        items = rng.choice(n_movies, size=len(users), p=movie_p if round_ < 3 else flat_p)
        score = np.einsum("ij,ij->i", user_taste[users], movie_taste[items]) + 0.5 * rng.gumbel(size=len(users))
        order = np.lexsort((-score, users))
        users, items = users[order], items[order]
        rank_in_user = np.arange(len(users)) - np.repeat(np.cumsum(counts) - counts, counts)
        keep = rank_in_user < deficit[users - block_users[0]]
        have = np.union1d(have, users[keep].astype(np.int64) * n_movies + items[keep])
        got = np.bincount((have // n_movies - block_users[0]).astype(np.int64), minlength=len(block_users))
        deficit = np.maximum(wanted - got, 0)
    return have // n_movies, have % n_movies


def _write_movies(out: Path, n_movies: int, rng: np.random.Generator) -> None:
    years = rng.integers(1920, 2024, size=n_movies)
    with (out / "movies.csv").open("w", newline="") as movies, (out / "links.csv").open("w", newline="") as links:
        movies.write("movieId,title,genres\r\n")
        links.write("movieId,imdbId,tmdbId\r\n")
        for i in range(n_movies):
            title = " ".join(rng.choice(WORDS, size=rng.integers(1, 4), replace=False)) + f" {i + 1}"
            if rng.random() < 0.15:
                title += ", The"  # MovieLens's inverted article
            title = f"{title} ({years[i]})"
            if "," in title:
                title = f'"{title}"'
            genres = "|".join(rng.choice(GENRES, size=rng.integers(1, 4), replace=False))
            movies.write(f"{i + 1},{title},{genres}\r\n")
            links.write(f"{i + 1},{i + 100000:07d},{i + 1}\r\n")
