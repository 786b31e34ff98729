"""Parse MovieLens titles: `Matrix, The (1999)` -> display title, alternatives, year.

Pure Python so the rules are tested without Spark; `clean.py` applies them on the driver.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from movierec.search.domain import YEAR_MAX, YEAR_MIN
from movierec.search.text import ARTICLES

# Release-format markers some MovieLens exports put after the year: "Foo (2001) (V)".
_FORMAT_MARKER = re.compile(r"\s*\((?:V|TV|TV Movie|Video|VG)\)\s*$", re.IGNORECASE)
_YEAR = re.compile(r"\s*\((\d{4})(?:\s*[-\u2013]\s*(\d{4})?)?\)\s*$")
_TRAILING_GROUP = re.compile(r"\s*\(([^()]*)\)\s*$")
_AKA = re.compile(r"^(?:a\.k\.a\.|aka)\s+", re.IGNORECASE)
_INVERTED = re.compile(r"^(?P<rest>.+?),\s*(?P<article>" + "|".join(re.escape(a) for a in ARTICLES) + r")$")


@dataclass(frozen=True)
class ParsedTitle:
    title: str
    original_title: str
    year: int | None
    alt_titles: list[str] = field(default_factory=list)


def restore_article(title: str) -> str:
    """`Matrix, The` -> `The Matrix`; `Auberge espagnole, L'` -> `L'Auberge espagnole`."""
    match = _INVERTED.match(title.strip())
    if not match:
        return title.strip()
    article, rest = match.group("article"), match.group("rest")
    return f"{article}{rest}" if article.endswith("'") else f"{article} {rest}"


def parse_title(raw: str | None) -> ParsedTitle:
    text = _FORMAT_MARKER.sub("", html.unescape(raw or "").strip())
    year = None
    match = _YEAR.search(text)
    if match:
        year = int(match.group(1))
        if not YEAR_MIN <= year <= YEAR_MAX:  # a typo in the data, not a release year: none rather than a wrong one
            year = None
        text = text[: match.start()].rstrip()
    original = text
    alts: list[str] = []
    # Alternative titles stand in trailing parentheses: `Seven (a.k.a. Se7en)`, `City of God (Cidade de Deus)`.
    while True:
        group = _TRAILING_GROUP.search(text)
        if not group or group.start() == 0:
            break
        inner = _AKA.sub("", group.group(1).strip())
        text = text[: group.start()].rstrip()
        if inner:
            alts.insert(0, restore_article(inner))
    title = restore_article(text) or original
    return ParsedTitle(title=title, original_title=original, year=year, alt_titles=[a for a in alts if a != title])
