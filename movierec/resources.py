"""Files shipped inside the package: index mappings, Kibana saved objects, the MovieLens sample.

Read through `importlib.resources`, so they are found the same way in a checkout, an editable
install and a wheel in site-packages. Mappings are parsed once per process and copied per use.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib.resources import files
from pathlib import Path

MAPPING_KINDS = ("movies", "users", "ratings", "models", "deletions", "consents", "pseudonyms", "added_movies")


def _folder(package: str) -> Path:
    # Regular (non-zip) installs only: Spark and Elasticsearch need real paths.
    return Path(str(files(package)))


def mappings_dir() -> Path:
    return _folder("movierec.mappings")


def dashboards_file() -> Path:
    return _folder("movierec.dashboards") / "movierec.ndjson"


def bundled_dataset() -> Path:
    """GroupLens's ml-latest-small, shipped in the wheel under its own license (see README.txt there)."""
    return _folder("movierec.data") / "ml-latest-small"


@cache
def _mapping_text(kind: str) -> dict:
    if kind not in MAPPING_KINDS:
        raise ValueError(f"unknown index kind {kind!r}; expected one of {', '.join(MAPPING_KINDS)}")
    return json.loads((mappings_dir() / f"{kind}.json").read_text(encoding="utf-8"))


def mapping(kind: str) -> dict:
    """The index body of `mappings/<kind>.json` (a fresh copy the caller may change)."""
    return copy.deepcopy(_mapping_text(kind))
