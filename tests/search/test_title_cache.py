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


def test_a_seed_vector_is_kept_per_mode_with_its_document_version_and_goes_with_its_entry():
    cache = TitleResolutions(max_entries=1)
    cache.remember_vector("movies", "heat", "audience", ("movies-v1", 7, 1), [1.0, 0.0])
    assert cache.seed_vector("movies", "heat", "audience") is None  # only for a remembered title
    cache.remember("movies", "heat", 6, exact=True)
    cache.remember_vector("movies", "heat", "audience", ("movies-v1", 7, 1), [1.0, 0.0])
    assert cache.seed_vector("movies", "Heat!", "audience") == (("movies-v1", 7, 1), [1.0, 0.0])
    assert cache.seed_vector("movies", "heat", "similar") is None
    cache.remember("movies", "heat", 6, exact=True)  # the same movie again: its vector stays
    assert cache.seed_vector("movies", "heat", "audience") is not None
    cache.remember("movies", "heat", 9, exact=True)  # another movie: the old one's vector goes
    assert cache.seed_vector("movies", "heat", "audience") is None
    cache.remember_vector("movies", "heat", "audience", ("movies-v1", 8, 1), [0.0, 1.0])
    cache.remember("movies", "matrix", 2571, exact=True)  # evicts "heat", and its vector with it
    cache.remember("movies", "heat", 9, exact=True)
    assert cache.seed_vector("movies", "heat", "audience") is None


def test_doc_version_reads_a_hit_searched_with_seq_no_primary_term():
    from movierec.search.title_cache import doc_version

    assert doc_version({"_index": "m-v1", "_seq_no": 4, "_primary_term": 1}) == ("m-v1", 4, 1)
    assert doc_version({"_index": "m-v1"}) is None
