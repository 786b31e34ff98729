import pytest

from movierec.search.domain import YEAR_MAX, YEAR_MIN
from movierec.search.titles import parse_title, restore_article


@pytest.mark.parametrize(
    "raw, title, year, alts",
    [
        ("Toy Story (1995)", "Toy Story", 1995, []),
        ("Matrix, The (1999)", "The Matrix", 1999, []),
        ("American President, The (1995)", "The American President", 1995, []),
        ("Seven (a.k.a. Se7en) (1995)", "Seven", 1995, ["Se7en"]),
        ("Twelve Monkeys (a.k.a. 12 Monkeys) (1995)", "Twelve Monkeys", 1995, ["12 Monkeys"]),
        ("City of God (Cidade de Deus) (2002)", "City of God", 2002, ["Cidade de Deus"]),
        (
            "City of Lost Children, The (Cité des enfants perdus, La) (1995)",
            "The City of Lost Children",
            1995,
            ["La Cité des enfants perdus"],
        ),
        ("Death Note: Desu nôto (2006–2007)", "Death Note: Desu nôto", 2006, []),
        ("Babylon 5", "Babylon 5", None, []),
        ("From Dusk Till Dawn 2: Texas Blood Money (1999) ", "From Dusk Till Dawn 2: Texas Blood Money", 1999, []),
        ("(500) Days of Summer (2009)", "(500) Days of Summer", 2009, []),
        ("Auberge espagnole, L' (2002)", "L'Auberge espagnole", 2002, []),
        ("Hellraiser &#8230; (1987)", "Hellraiser …", 1987, []),
        ("Pokémon Heroes (2003) (V)", "Pokémon Heroes", 2003, []),
        ("Great Performances (1971) (TV)", "Great Performances", 1971, []),
        ("", "", None, []),
    ],
)
def test_parse_title(raw, title, year, alts):
    parsed = parse_title(raw)
    assert (parsed.title, parsed.year, parsed.alt_titles) == (title, year, alts)


def test_original_title_keeps_the_movielens_form_without_year():
    assert parse_title("Matrix, The (1999)").original_title == "Matrix, The"


def test_restore_article_only_moves_known_articles():
    assert restore_article("Godfather: Part II, The") == "The Godfather: Part II"
    assert restore_article("I, Robot") == "I, Robot"
    assert restore_article("Crouching Tiger, Hidden Dragon") == "Crouching Tiger, Hidden Dragon"


def test_a_year_outside_the_bounds_is_no_year():
    assert parse_title(f"Typo ({YEAR_MIN - 1})") == parse_title("Typo")
    assert parse_title(f"Far Future ({YEAR_MAX + 1})").year is None
    assert parse_title(f"Oldest ({YEAR_MIN})").year == YEAR_MIN
