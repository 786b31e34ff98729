"""Title normalisation shared by indexing and querying.

The integ-test-zip server has no asciifolding or edge n-grams, so folding happens here, in one
function used on both sides: what the index holds and what a user types meet in the same form.
"""

from __future__ import annotations

import html
import re
import unicodedata

from movierec.search.domain import YEAR_MAX, YEAR_MIN

# Letters NFKD does not decompose into ASCII.
_SPECIAL = str.maketrans(
    {
        "ø": "o",
        "Ø": "o",
        "æ": "ae",
        "Æ": "ae",
        "œ": "oe",
        "Œ": "oe",
        "ß": "ss",
        "ł": "l",
        "Ł": "l",
        "đ": "d",
        "Đ": "d",
        "ð": "d",
        "þ": "th",
        "ı": "i",
    }
)
# "i", "v" and "x" are left alone: "I, Robot", "Malcolm X".
_ROMAN = {"ii": "2", "iii": "3", "iv": "4", "vi": "6", "vii": "7", "viii": "8", "ix": "9"}
# Leading articles, as MovieLens writes them when it moves them to the end ("Matrix, The"; "L'" glues to
# the next word). The one list: the pipeline restores them (search/titles.py), search strips them.
ARTICLES = ("The", "A", "An", "La", "Le", "Les", "L'", "El", "Los", "Las", "Il", "Der", "Die", "Das", "Une", "Un")
# Anything that is neither a letter, a digit nor a mark, in any script: Hebrew, Cyrillic, CJK, Arabic and
# Devanagari titles keep their words (an ASCII-only class made a Hebrew title "no letters or digits").
# Underscore is \w to `re` but punctuation here.
_NON_WORD = re.compile(r"[^\w\u0300-\u036f\u0900-\u0dff]+|_+")


def fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", html.unescape(text).translate(_SPECIAL))
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def normalize(text: str | None) -> str:
    """Lowercase words: Latin accents folded, `&` -> and, roman numerals -> digits, no punctuation.

    Letters and digits of every script are kept, so a title in any script can be found.
    """
    if not text:
        return ""
    text = fold(text).lower().replace("&", " and ")
    text = re.sub(r"['\u2019`]", "", text)  # "Schindler's" -> "schindlers", not "schindler s"
    tokens = _NON_WORD.sub(" ", text).split()
    return " ".join(_ROMAN.get(tok, tok) for tok in tokens)


def has_content(text: str | None) -> bool:
    """Whether `text` has letters or digits: something a title search can match."""
    return bool(normalize(text))


_LEADING_ARTICLES = frozenset(normalize(article) for article in ARTICLES)  # "L'" -> "l"


def strip_article(normalized: str) -> str:
    head, _, rest = normalized.partition(" ")
    return rest if head in _LEADING_ARTICLES and rest else normalized


def title_variants(*titles: str | None) -> list[str]:
    """Every normalised form a movie can be found under, without duplicates, in order."""
    seen: dict[str, None] = {}
    for title in titles:
        norm = normalize(title)
        for form in (norm, strip_article(norm)):
            if form:
                seen.setdefault(form)
    return list(seen)


def suggest_inputs(title: str | None, original_title: str | None, alt_titles: list[str] | None) -> list[str]:
    """The completion suggester's inputs; these three derive a movie document's search fields, used by the
    pipeline's export and by POST /movies alike."""
    return title_variants(title, original_title, *(alt_titles or []))


def alt_norms(title: str | None, original_title: str | None, alt_titles: list[str] | None) -> list[str]:
    main = normalize(title)
    forms = dict.fromkeys(normalize(t) for t in (original_title, *(alt_titles or [])))
    return [f for f in forms if f and f != main]


def title_keys(title: str | None, original_title: str | None, alt_titles: list[str] | None) -> list[str]:
    """Article-stripped forms ("matrix" for "The Matrix"): matched exactly, never as text, so that
    a bare "heat" prefers "Heat" over "The Heat"."""
    forms = dict.fromkeys(strip_article(normalize(t)) for t in (title, original_title, *(alt_titles or [])))
    return [f for f in forms if f]


def split_query_year(query: str) -> tuple[str, int | None]:
    """`heat 1995` -> (`heat`, 1995); a lone number (`1917`, `2012`) stays the title."""
    norm = normalize(query)
    tokens = norm.split()
    if len(tokens) > 1 and tokens[-1].isdigit() and len(tokens[-1]) == 4:
        year = int(tokens[-1])
        if YEAR_MIN <= year <= YEAR_MAX:
            return " ".join(tokens[:-1]), year
    return norm, None
