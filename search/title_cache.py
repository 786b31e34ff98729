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


class TitleResolutions:
    """(movies index, normalised query) -> (movie id, exact match), see the module's rule."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._ids: OrderedDict[tuple[str, str], tuple[int, bool]] = OrderedDict()

    @staticmethod
    def key(index: str, query: str) -> tuple[str, str]:
        return index, normalize(query)

    def get(self, index: str, query: str) -> tuple[int, bool] | None:
        return self._ids.get(self.key(index, query))

    def remember(self, index: str, query: str, movie_id: int, *, exact: bool) -> None:
        key = self.key(index, query)
        self._ids[key] = (movie_id, exact)
        self._ids.move_to_end(key)
        while len(self._ids) > self.max_entries:
            self._ids.popitem(last=False)

    def forget(self, index: str, query: str) -> None:
        self._ids.pop(self.key(index, query), None)

    def __len__(self) -> int:
        return len(self._ids)
