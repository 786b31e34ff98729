"""The analyst's numbers about the ratings: pure NumPy over plain arrays (no Spark, no Elasticsearch).

The notebook and `movierec report` compute every figure and every number they write from these
functions, so both say the same thing. The arrays come from the project's own loaders and cleaning
(`movierec.pipeline.insights.load_cleaned`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from movierec.genres import main_genre

Z95 = 1.96


@dataclass
class RatingsData:
    """Cleaned ratings and movies as arrays; `year` is -1 when the title has none."""

    user: np.ndarray  # int64
    movie: np.ndarray  # int64
    rating: np.ndarray  # float64
    ts: np.ndarray  # int64, epoch seconds
    movie_ids: np.ndarray  # int64, every cleaned movie
    titles: list[str]
    years: np.ndarray  # int64
    genres: list[list[str]]

    def __post_init__(self) -> None:
        self._pos = {int(m): i for i, m in enumerate(self.movie_ids)}

    def movie_index(self, movie_ids: np.ndarray) -> np.ndarray:
        return np.array([self._pos[int(m)] for m in movie_ids], dtype=np.int64)


def _ci(values: np.ndarray) -> tuple[float, float, float]:
    """(mean, low, high): a normal 95% interval of the mean (ratings treated as independent)."""
    n = len(values)
    mean = float(values.mean()) if n else float("nan")
    half = Z95 * float(values.std(ddof=1)) / np.sqrt(n) if n > 1 else float("nan")
    return mean, mean - half, mean + half


def rating_distribution(data: RatingsData) -> dict:
    values = np.round(data.rating * 2) / 2
    levels = np.arange(0.5, 5.01, 0.5)
    counts = np.array([(values == level).sum() for level in levels])
    half = values % 1 == 0.5
    users_half = np.unique(data.user[half])
    # When did half stars appear? MovieLens added them in 2003.
    first_half = int(data.ts[half].min()) if half.any() else None
    after = data.ts >= first_half if first_half else np.zeros(len(values), bool)
    return {
        "levels": levels.tolist(),
        "counts": counts.tolist(),
        "n": int(len(values)),
        "mean": float(values.mean()),
        "median": float(np.median(values)),
        "share_half": float(half.mean()),
        "share_half_since": float(half[after].mean()) if after.any() else 0.0,
        "first_half_star": datetime.fromtimestamp(first_half, UTC).date().isoformat() if first_half else None,
        "share_users_using_half": float(len(users_half) / len(np.unique(data.user))),
        "share_4_plus": float((values >= 4).mean()),
        "mode": float(levels[counts.argmax()]),
    }


def popularity(data: RatingsData) -> dict:
    """The long tail: how ratings concentrate on few movies."""
    ids, counts = np.unique(data.movie, return_counts=True)
    order = np.argsort(-counts)
    sorted_counts = counts[order]
    total = sorted_counts.sum()
    cum_share = np.cumsum(sorted_counts) / total

    def top_share(fraction: float) -> float:
        k = max(1, int(round(fraction * len(sorted_counts))))
        return float(cum_share[k - 1])

    lorenz = np.concatenate([[0.0], np.cumsum(np.sort(counts)) / total])
    gini = float(1 - 2 * np.trapezoid(lorenz, dx=1 / len(counts)))
    top = [
        {"movie_id": int(ids[i]), "title": data.titles[data.movie_index(ids[i : i + 1])[0]], "ratings": int(counts[i])}
        for i in order[:10]
    ]
    return {
        "movies_rated": int(len(ids)),
        "movies_in_catalogue": int(len(data.movie_ids)),
        "counts_sorted": sorted_counts.tolist(),
        "median_ratings_per_movie": float(np.median(counts)),
        "mean_ratings_per_movie": float(counts.mean()),
        "share_top_1pct": top_share(0.01),
        "share_top_10pct": top_share(0.10),
        "share_top_20pct": top_share(0.20),
        "movies_with_1_rating": int((counts == 1).sum()),
        "share_movies_under_5": float((counts < 5).mean()),
        "share_movies_50_plus": float((counts >= 50).mean()),
        "gini": gini,
        "top": top,
    }


def user_activity(data: RatingsData) -> dict:
    users, per_user = np.unique(data.user, return_counts=True)
    sorted_desc = np.sort(per_user)[::-1]
    top10 = max(1, int(round(0.1 * len(users))))
    # How much of a user's history is their first day: MovieLens asks newcomers to rate in bulk.
    order = np.lexsort((data.ts, data.user))
    u_sorted, day_sorted = data.user[order], data.ts[order] // 86400
    starts = np.r_[0, np.flatnonzero(np.diff(u_sorted)) + 1]
    first_day = np.repeat(day_sorted[starts], np.diff(np.r_[starts, len(u_sorted)]))
    same_day = (day_sorted == first_day).astype(float)
    on_first_day = np.bincount(np.searchsorted(users, u_sorted), weights=same_day, minlength=len(users))
    first_day_share = on_first_day / per_user
    span_days = (np.maximum.reduceat(data.ts[order], starts) - np.minimum.reduceat(data.ts[order], starts)) / 86400
    years = np.array([datetime.fromtimestamp(int(t), UTC).year for t in data.ts])
    year_values, year_counts = np.unique(years, return_counts=True)
    active = [int(len(np.unique(data.user[years == y]))) for y in year_values]
    first_year = np.array([years[order][s] for s in starts])
    new_users = [int((first_year == y).sum()) for y in year_values]
    return {
        "users": int(len(users)),
        "per_user": per_user.tolist(),
        "min": int(per_user.min()),
        "median": float(np.median(per_user)),
        "mean": float(per_user.mean()),
        "p90": float(np.percentile(per_user, 90)),
        "max": int(per_user.max()),
        "share_by_top10pct_users": float(sorted_desc[:top10].sum() / sorted_desc.sum()),
        "median_first_day_share": float(np.median(first_day_share)),
        "share_users_single_day": float((span_days < 1).mean()),
        "years": year_values.tolist(),
        "ratings_per_year": year_counts.tolist(),
        "active_users_per_year": active,
        "new_users_per_year": new_users,
        "busiest_year": int(year_values[year_counts.argmax()]),
    }


def genres(data: RatingsData) -> list[dict]:
    """Per genre: movies, ratings, mean rating with a 95% interval; sorted by mean rating."""
    idx = data.movie_index(data.movie)
    rows = []
    names = sorted({g for gs in data.genres for g in gs})
    for genre in names:
        has = np.array([genre in gs for gs in data.genres])
        mask = has[idx]
        if not mask.any():
            continue
        mean, low, high = _ci(data.rating[mask])
        rows.append(
            {
                "genre": genre,
                "movies": int(has.sum()),
                "ratings": int(mask.sum()),
                "mean": mean,
                "low": low,
                "high": high,
            }
        )
    return sorted(rows, key=lambda r: -r["mean"])


def sparsity(data: RatingsData) -> dict:
    users = len(np.unique(data.user))
    movies = len(np.unique(data.movie))
    return {
        "users": users,
        "movies_rated": movies,
        "ratings": int(len(data.rating)),
        "density": float(len(data.rating) / (users * movies)),
        "cells": int(users * movies),
    }


def drift(data: RatingsData) -> dict:
    """Mean rating by decade of release and by year the rating was given, with 95% intervals."""
    idx = data.movie_index(data.movie)
    release = data.years[idx]
    by_decade = []
    for decade in range(1900, 2030, 10):
        mask = (release >= decade) & (release < decade + 10)
        if mask.sum() >= 30:
            mean, low, high = _ci(data.rating[mask])
            by_decade.append({"decade": decade, "ratings": int(mask.sum()), "mean": mean, "low": low, "high": high})
    years = np.array([datetime.fromtimestamp(int(t), UTC).year for t in data.ts])
    by_year = []
    for year in np.unique(years):
        mask = years == year
        if mask.sum() >= 100:
            mean, low, high = _ci(data.rating[mask])
            by_year.append({"year": int(year), "ratings": int(mask.sum()), "mean": mean, "low": low, "high": high})
    # Age of the movie when rated: old movies that people still rate are the ones they chose to see.
    age = years - release
    known = release > 0
    slope = float(np.polyfit(age[known], data.rating[known], 1)[0]) if known.sum() > 2 else 0.0
    trend = float(np.polyfit(years, data.rating, 1)[0]) if len(np.unique(years)) > 1 else 0.0
    return {
        "by_decade": by_decade,
        "by_rating_year": by_year,
        "rating_per_decade_of_age": slope * 10,
        "rating_trend_per_year": trend,
        "users_per_rating_year": {
            int(y): int(len(np.unique(data.user[years == y]))) for y in (r["year"] for r in by_year)
        },
    }


def main_genres(genre_lists: list[list[str]]) -> list[str]:
    return [main_genre(g) for g in genre_lists]


def summary(data: RatingsData) -> dict:
    """Every data section at once (what the notebook and the report both show)."""
    return {
        "ratings": rating_distribution(data),
        "popularity": popularity(data),
        "activity": user_activity(data),
        "genres": genres(data),
        "sparsity": sparsity(data),
        "drift": drift(data),
    }
