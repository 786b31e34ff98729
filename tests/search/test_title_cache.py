"""The title cache (pure): what counts as an exact match; the year is part of the key."""

from movierec.search.title_cache import TitleResolutions, is_exact

HEAT = {"title_norm": "heat", "alt_titles_norm": [], "title_keys": ["heat"], "year": 1995}
MATRIX = {"title_norm": "the matrix", "alt_titles_norm": [], "title_keys": ["matrix"], "year": 1999}
AMELIE = {"title_norm": "amelie", "alt_titles_norm": ["fabuleux destin damelie poulain le"], "title_keys": ["amelie"]}


def test_exact_means_a_normalised_title_key_or_alternative_and_the_year_if_given():
    assert is_exact("Heat", HEAT) and is_exact("heat 1995", HEAT)
    assert not is_exact("heat 1986", HEAT)  # another year is another movie
    assert is_exact("The Matrix", MATRIX) and is_exact("matrix", MATRIX)
    assert not is_exact("matrix, the", MATRIX)  # found by the full search every time, never remembered
    assert is_exact("Amélie", AMELIE)
    assert not is_exact("heet", HEAT) and not is_exact("mat", MATRIX)  # typos and prefixes: checked in full


def test_resolutions_are_keyed_by_index_and_normalised_query_and_bounded():
    cache = TitleResolutions(max_entries=2)
    cache.remember("movies", "The Matrix", 2571, exact=True)
    assert cache.get("movies", "the  matrix!") == (2571, True)
    assert cache.get("other-movies", "the matrix") is None
    cache.remember("movies", "heat 1995", 6, exact=True)
    assert cache.get("movies", "heat") is None  # the year is part of the key
    cache.remember("movies", "heat", 6, exact=True)
    assert len(cache) == 2 and cache.get("movies", "the matrix") is None  # the oldest went first
    cache.forget("movies", "heat")
    assert cache.get("movies", "heat") is None
