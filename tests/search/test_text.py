import pytest

from movierec.search.text import normalize, split_query_year, strip_article, title_variants


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
