"""A movie added through the API: its rules, its normalisation and its documents (pure).

The title goes through the pipeline's own parser (search/titles.py: article restored, alternative titles
from parentheses, a year in parentheses) and the search fields come from the pipeline's own helpers
(search/text.py), so an added movie is found exactly like one from movies.csv.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from movierec.errors import BadInput
from movierec.genres import GENRE_PRIORITY
from movierec.search.domain import YEAR_MAX, YEAR_MIN, RatingSource, VectorSource
from movierec.search.text import alt_norms, normalize, suggest_inputs, title_keys
from movierec.search.titles import parse_title

# Added movies get ids from here up. MovieLens ids are far below (ml-32m's largest is 292,757, and they
# grow by about 10,000 a year), so no data file collides with them for centuries; the upper end is the
# movies mapping's integer (and the API's MovieId path parameter).
ADDED_ID_MIN = 1_000_000_000
ADDED_ID_MAX = 2**31 - 1
# The longest title in ml-32m has 184 characters; 300 leaves room for alternative titles in parentheses.
TITLE_MAX_CHARS = 300
# Every genre MovieLens uses (IMAX is a format, listed as a genre by the files).
KNOWN_GENRES = (*sorted(GENRE_PRIORITY), "IMAX")
MAX_GENRES = 20
# Cold start: the peers whose mean item vector a new movie starts from (README "New movies").
MIN_PEERS = 5  # fewer movies with all its genres than this: fall back to movies with any of them
MAX_PEERS = 500  # the most rated peers only: their trained vectors are the reliable ones

MOVIE_KIND, KEY_KIND, SEQUENCE_KIND = "movie", "key", "sequence"
# A movie's `vector_source` (movies index): `als` when trained, an added movie's CONTENT, then FOLD_IN.
CONTENT, FOLD_IN = "content", VectorSource.FOLD_IN.value
SEQUENCE_ID = "sequence"


class InvalidMovie(BadInput):
    """A POST /movies body that breaks a rule: nothing was written."""


@dataclass(frozen=True)
class NewMovie:
    title: str
    original_title: str
    year: int | None
    alt_titles: list[str] = field(default_factory=list)
    genres: list[str] = field(default_factory=list)
    imdb_id: str | None = None
    tmdb_id: str | None = None

    @property
    def title_norm(self) -> str:
        return normalize(self.title)

    @property
    def key(self) -> str:
        """Same normalised title and year: the same movie (the duplicate rule of POST /movies and the merge)."""
        return dedupe_key(self.title_norm, self.year)


def dedupe_key(title_norm: str, year: int | None) -> str:
    return f"{title_norm}|{year if year is not None else ''}"


def key_id(key: str) -> str:
    """The document id of a duplicate key (hashed: a 300-character title stays under the 512-byte id limit)."""
    return "key-" + hashlib.sha256(key.encode()).hexdigest()


def is_added_id(movie_id: int) -> bool:
    return ADDED_ID_MIN <= movie_id <= ADDED_ID_MAX


def added_id(sequence_value: int) -> int:
    """The n-th added movie's id (n from 1: the sequence document's version)."""
    movie_id = ADDED_ID_MIN + sequence_value - 1
    if movie_id > ADDED_ID_MAX:
        raise InvalidMovie(f"the added-movie id range {ADDED_ID_MIN}..{ADDED_ID_MAX} is exhausted")
    return movie_id


def canonical_genres(genres: Iterable[str], new_genres: Iterable[str] = ()) -> list[str]:
    """The genres spelled as MovieLens does ("sci-fi" -> "Sci-Fi"); an unknown one only when also listed in
    `new_genres` (so a typo is not a new genre)."""
    known = {g.casefold(): g for g in KNOWN_GENRES}
    allowed = {g.strip().casefold(): g.strip() for g in new_genres if g.strip()}
    out: dict[str, None] = {}
    for raw in genres:
        name = raw.strip()
        if not name:
            raise InvalidMovie("a genre is empty")
        if name.casefold() in known:
            out.setdefault(known[name.casefold()])
        elif name.casefold() in allowed:
            if "|" in name:
                raise InvalidMovie(f"genre {name!r}: '|' separates genres in MovieLens files")
            out.setdefault(name)
        else:
            raise InvalidMovie(
                f"unknown genre {name!r}; known genres: {', '.join(KNOWN_GENRES)}. "
                "To add a new genre, list it in `new_genres` too"
            )
    if len(out) > MAX_GENRES:
        raise InvalidMovie(f"{len(out)} genres; at most {MAX_GENRES}")
    return list(out)


def imdb_id(raw: str | None) -> str | None:
    """`tt0114709`, `0114709` or `114709` -> `tt0114709`, the form the pipeline writes (pipeline/clean.py)."""
    if raw is None or not raw.strip():
        return None
    digits = raw.strip().removeprefix("tt")
    if not digits.isdigit() or not digits.isascii() or len(digits) > 10:
        raise InvalidMovie(f"imdb_id {raw!r} is not an IMDb id (tt followed by digits)")
    return "tt" + digits.zfill(7)


def tmdb_id(raw: str | int | None) -> str | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    text = str(raw).strip()
    if not text.isdigit() or not text.isascii() or len(text) > 10:
        raise InvalidMovie(f"tmdb_id {raw!r} is not a TMDb id (digits)")
    return str(int(text))


def new_movie(
    title: str,
    year: int | None = None,
    genres: Sequence[str] = (),
    *,
    new_genres: Sequence[str] = (),
    imdb: str | None = None,
    tmdb: str | int | None = None,
) -> NewMovie:
    """Validate and normalise a POST /movies body; InvalidMovie (422) names the first broken rule."""
    if len(title) > TITLE_MAX_CHARS:
        raise InvalidMovie(f"title has {len(title)} characters; at most {TITLE_MAX_CHARS}")
    parsed = parse_title(title)
    if not normalize(parsed.title):
        raise InvalidMovie(f"title {title!r} has no letters or digits")
    if year is not None and not YEAR_MIN <= year <= YEAR_MAX:
        raise InvalidMovie(f"year {year} is outside {YEAR_MIN}..{YEAR_MAX}")
    if parsed.year is not None and year is not None and parsed.year != year:
        raise InvalidMovie(f"the title says {parsed.year} and year says {year}")
    return NewMovie(
        title=parsed.title,
        original_title=parsed.original_title,
        year=year if year is not None else parsed.year,
        alt_titles=parsed.alt_titles,
        genres=canonical_genres(genres, new_genres),
        imdb_id=imdb_id(imdb),
        tmdb_id=tmdb_id(tmdb),
    )


def record(movie: NewMovie, movie_id: int, added_at: int) -> dict:
    """The added-movies index's record: what the next pipeline run adds to the catalogue."""
    return {
        "kind": MOVIE_KIND,
        "movie_id": movie_id,
        "title": movie.title,
        "original_title": movie.original_title,
        "alt_titles": movie.alt_titles,
        "year": movie.year,
        "genres": movie.genres,
        "imdb_id": movie.imdb_id,
        "tmdb_id": movie.tmdb_id,
        "key": movie.key,
        "added_at": added_at,
    }


def from_record(src: dict) -> NewMovie:
    return NewMovie(
        title=src["title"],
        original_title=src.get("original_title") or src["title"],
        year=src.get("year"),
        alt_titles=list(src.get("alt_titles") or []),
        genres=list(src.get("genres") or []),
        imdb_id=src.get("imdb_id"),
        tmdb_id=src.get("tmdb_id"),
    )


def movie_document(
    movie: NewMovie,
    movie_id: int,
    model_version: str,
    *,
    item_vector: Sequence[float] | None,
    audience_vector: Sequence[float] | None,
) -> dict:
    """The movies-index document: the fields the pipeline's export writes (pipeline/export.py
    movie_documents), statistics at zero or null as for a movie nobody rated, vectors from the content."""
    titles = (movie.title, movie.original_title, movie.alt_titles)
    doc = {
        "movie_id": movie_id,
        "title": movie.title,
        "original_title": movie.original_title,
        "alt_titles": movie.alt_titles,
        "title_norm": movie.title_norm,
        "alt_titles_norm": alt_norms(*titles),
        "title_keys": title_keys(*titles),
        "suggest": {"input": suggest_inputs(*titles), "weight": 0},
        "year": movie.year,
        "genres": movie.genres,
        "imdb_id": movie.imdb_id,
        "tmdb_id": movie.tmdb_id,
        "num_ratings": 0,
        "avg_rating": None,
        "damped_rating": None,
        "popularity": 0.0,
        "audience_size": 0,
        "embedding_x": None,
        "embedding_y": None,
        "model_version": model_version,
        "source": RatingSource.API.value,
        "vector_source": CONTENT if item_vector is not None else None,
    }
    if item_vector is not None:
        doc["item_vector"] = [float(x) for x in item_vector]
    if audience_vector is not None:
        doc["audience_vector"] = [float(x) for x in audience_vector]
    return {k: v for k, v in doc.items() if v is not None}


def content_vector(vectors: Sequence[Sequence[float]]) -> list[float] | None:
    """The mean of the peers' vectors: a new movie's starting point (None without peers)."""
    if len(vectors) == 0:
        return None
    return [float(x) for x in np.asarray(vectors, dtype=np.float64).mean(axis=0)]
