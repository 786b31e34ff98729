import pytest

from movierec.search import domain, titles
from movierec.search.text import (
    ARTICLES,
    has_content,
    normalize,
    split_query_year,
    strip_article,
    title_variants,
)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Amélie", "amelie"),
        ("Léon: The Professional", "leon the professional"),
        ("Schindler's List", "schindlers list"),
        ("Dumb & Dumber", "dumb and dumber"),
        ("Rocky IV", "rocky 4"),
        ("I, Robot", "i robot"),
        ("Malcolm X", "malcolm x"),
        ("Smørrebrød Straße", "smorrebrod strasse"),
        ("  WALL·E  ", "wall e"),
        ("Hellraiser &#8230;", "hellraiser"),
        ("", ""),
        (None, ""),
    ],
)
def test_normalize(raw, expected):
    assert normalize(raw) == expected


def test_strip_article_keeps_one_word_titles():
    assert strip_article("the matrix") == "matrix"
    assert strip_article("the") == "the"
    assert strip_article("her") == "her"


def test_variants_cover_article_and_alternatives_once():
    assert title_variants("The Matrix", "Matrix, The", "The Matrix") == ["the matrix", "matrix", "matrix the"]


@pytest.mark.parametrize(
    "query, expected",
    [
        ("heat 1995", ("heat", 1995)),
        ("1917", ("1917", None)),
        ("blade runner 2049", ("blade runner", 2049)),
        ("titanic 1997", ("titanic", 1997)),
        ("apollo 13", ("apollo 13", None)),
    ],
)
def test_split_query_year(query, expected):
    assert split_query_year(query) == expected


def test_one_article_list_for_restoring_and_stripping():
    """Every article the pipeline moves back to the front, search can drop."""
    assert titles.ARTICLES is ARTICLES
    for article in (a for a in ARTICLES if not a.endswith("'")):  # "L'" glues: "L'Homme" -> "lhomme"
        restored = titles.restore_article(f"Homme et une femme, {article}")
        assert strip_article(normalize(restored)) == "homme et une femme", article


def test_has_content_means_something_a_search_can_match():
    assert has_content("Léon") and has_content("1917") and has_content("8½")
    assert not has_content("!!!") and not has_content("   ") and not has_content("") and not has_content(None)


def test_a_year_outside_the_bounds_is_not_split_off():
    assert split_query_year(f"heat {domain.YEAR_MIN - 1}") == (f"heat {domain.YEAR_MIN - 1}", None)
    assert split_query_year(f"heat {domain.YEAR_MAX}") == ("heat", domain.YEAR_MAX)
