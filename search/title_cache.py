"""Which movie a typed title means, remembered per process, and checked on every use.

The rule (so an entry never serves a stale resolution):
- An entry is a prediction, never an answer: every request that uses it runs a title search in the same
  `_msearch` as the kNN (which looks the remembered movie's vector up), and is answered only if that
  search's top hit is still the remembered movie. Otherwise the entry is dropped and the request takes
  the full path (full title search, then the kNN). So a movie added later (POST /movies) that now wins
  the title is served on its first request, and a new serving version needs no invalidation: ids are
  stable and each use is checked.
- Exact resolutions (the query's normalised form, with or without its leading article, is one of the
  top movie's own normalised titles or keys, and a year in the query is the movie's year) are checked
  with the title search without its fuzzy clause, half its cost; the check also requires the top hit
  to be still exact. Only an exact duplicate can displace such a movie, and the year is part of the key
  (`heat 1995` and `heat` are two entries), so same-title movies of different years are told apart as
  the full search tells them apart.
- Other resolutions (typos, prefixes) are checked with the full title search: the answer is the one
  the full path gives, in one request instead of two.
- Bounded: the oldest entries go first beyond `max_entries`.

A remembered title may also keep the seed's query vector for a mode (`seed_vector`), with the version of
the movie document it was read from (concrete index, `_seq_no`, `_primary_term`). The `_msearch` then
sends that vector with the kNN instead of a `lookup` (which costs about 1 ms inside Elasticsearch:
5.95 -> 5.25 ms p50 for the pair, /tmp probe of the 50 table titles in turns, bare kNN 3.76 ms), and its
title search returns the hits' versions: the answer stands only if the top hit is the same document
version, so a movie whose statistics or audience changed live (every write bumps `_seq_no`) is never
answered with its old vector: that request takes the full path, which remembers the new version.
"""

from __future__ import annotations

from collections import OrderedDict

from movierec.search.text import normalize, split_query_year, strip_article

# The fields an exactness check reads from a title search hit.
KEY_FIELDS = ("title_norm", "alt_titles_norm", "title_keys")


def query_forms(query: str) -> tuple[set[str], int | None]:
    """The normalised forms a query matches exactly (with and without its article), and its year."""
    text, year = split_query_year(query)
    if not text:
        text, year = normalize(query), None
    return {text, strip_article(text)}, year


def is_exact(query: str, source: dict) -> bool:
    """Whether the movie (`_source` with KEY_FIELDS and year) is an exact match for the query."""
    forms, year = query_forms(query)
    keys: set[str] = set()
    for field in KEY_FIELDS:
        value = source.get(field)
        keys.update(value if isinstance(value, list) else [value] if value else [])
    return bool(forms & keys) and (year is None or source.get("year") == year)


DocVersion = tuple[str, int, int]  # (concrete index, _seq_no, _primary_term) of a search hit


def doc_version(hit: dict) -> DocVersion | None:
    """The version of a hit searched with `seq_no_primary_term` (None without it)."""
    if "_seq_no" not in hit or "_primary_term" not in hit:
        return None
    return hit["_index"], hit["_seq_no"], hit["_primary_term"]


class TitleResolutions:
    """(movies index, normalised query) -> (movie id, exact match), see the module's rule; and per mode
    the seed's query vector with the document version it was read from."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._ids: OrderedDict[tuple[str, str], tuple[int, bool]] = OrderedDict()
        self._vectors: dict[tuple[str, str], dict[str, tuple[DocVersion, list[float]]]] = {}

    @staticmethod
    def key(index: str, query: str) -> tuple[str, str]:
        return index, normalize(query)

    def get(self, index: str, query: str) -> tuple[int, bool] | None:
        return self._ids.get(self.key(index, query))

    def remember(self, index: str, query: str, movie_id: int, *, exact: bool) -> None:
        key = self.key(index, query)
        if self._ids.get(key, (None,))[0] != movie_id:
            self._vectors.pop(key, None)
        self._ids[key] = (movie_id, exact)
        self._ids.move_to_end(key)
        while len(self._ids) > self.max_entries:
            old, _ = self._ids.popitem(last=False)
            self._vectors.pop(old, None)

    def remember_vector(self, index: str, query: str, mode: str, version: DocVersion, vector: list[float]) -> None:
        """The seed's query vector for `mode`, read from that document version (a remembered title only)."""
        key = self.key(index, query)
        if key in self._ids:
            self._vectors.setdefault(key, {})[mode] = (version, list(vector))

    def seed_vector(self, index: str, query: str, mode: str) -> tuple[DocVersion, list[float]] | None:
        return self._vectors.get(self.key(index, query), {}).get(mode)

    def forget(self, index: str, query: str) -> None:
        key = self.key(index, query)
        self._ids.pop(key, None)
        self._vectors.pop(key, None)

    def __len__(self) -> int:
        return len(self._ids)
