"""A movie's main genre, for colouring maps: pure, shared by the page, the notebook, the report and Kibana.

MovieLens lists a movie's genres alphabetically, so the first one says nothing. The main genre is the
most specific one the movie has, by a fixed order from narrow (Animation, Documentary, Film-Noir) to
broad (Comedy, Drama): Toy Story is Animation, Star Wars Sci-Fi, The Godfather Crime.
"""

from __future__ import annotations

from collections.abc import Iterable

GENRE_PRIORITY = (
    "Animation",
    "Documentary",
    "Film-Noir",
    "Western",
    "Horror",
    "Musical",
    "Sci-Fi",
    "Children",
    "War",
    "Fantasy",
    "Crime",
    "Mystery",
    "Thriller",
    "Action",
    "Adventure",
    "Romance",
    "Comedy",
    "Drama",
)
NO_GENRE = "(none)"

# Tableau 20, one colour per main genre (in GENRE_PRIORITY order, then NO_GENRE); the page, the report and the
# notebook use the same colours.
PALETTE = [
    "#1f77b4",
    "#aec7e8",
    "#ff7f0e",
    "#ffbb78",
    "#2ca02c",
    "#98df8a",
    "#d62728",
    "#ff9896",
    "#9467bd",
    "#c5b0d5",
    "#8c564b",
    "#c49c94",
    "#e377c2",
    "#f7b6d2",
    "#7f7f7f",
    "#c7c7c7",
    "#bcbd22",
    "#dbdb8d",
    "#17becf",
]
GENRE_COLOURS = dict(zip((*GENRE_PRIORITY, NO_GENRE), PALETTE, strict=True))


def main_genre(genres: Iterable[str] | None) -> str:
    """The most specific of `genres` by GENRE_PRIORITY; NO_GENRE when none is known (IMAX is a format)."""
    present = set(genres or ())
    return next((g for g in GENRE_PRIORITY if g in present), NO_GENRE)


def vega_main_genre_expr(field: str) -> str:
    """The same rule as a Vega expression over an array field (nested conditionals, no loop needed)."""
    expr = f"'{NO_GENRE}'"
    for genre in reversed(GENRE_PRIORITY):
        expr = f"indexof({field}, '{genre}') >= 0 ? '{genre}' : ({expr})"
    return expr
