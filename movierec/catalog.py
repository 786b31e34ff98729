"""The data catalog: what each index holds, where it comes from, what is personal, how long it stays.

It lives in the mappings' `_meta`, so the files that define the indices document them, and a running
cluster answers `GET <index>/_mapping` with the same catalog.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from movierec import resources
from movierec.errors import BadInput

CLASSES = {
    "public": "published movie metadata",
    "aggregate": "computed over all users who rated a movie (with one or two ratings, close to one person's)",
    "pseudonymous id": "MovieLens ids: no name or contact detail is stored",
    "personal": "what a user did (pseudonymised personal data under the GDPR)",
    "derived personal": "computed from one user's ratings",
    "operational": "bookkeeping",
}
REQUIRED = ("description", "source", "personal_data", "retention", "fields")


class CatalogError(BadInput):
    pass


@dataclass(frozen=True)
class Field:
    name: str
    data_class: str
    description: str


@dataclass(frozen=True)
class IndexEntry:
    kind: str
    description: str
    source: str
    personal_data: bool
    retention: str
    fields: tuple[Field, ...]
    comment: str = ""  # what a reader must know across fields (units, for one)


def load_catalog(mappings_dir: Path | None = None) -> list[IndexEntry]:
    """Every mapping's `_meta`, checked against its properties: no field goes undocumented."""
    entries = []
    for path in sorted(Path(mappings_dir or resources.mappings_dir()).glob("*.json")):
        mapping = json.loads(path.read_text())["mappings"]
        meta = mapping.get("_meta", {})
        missing = [key for key in REQUIRED if key not in meta]
        if missing:
            raise CatalogError(f"{path.name}: _meta lacks {', '.join(missing)}")
        undocumented = sorted(set(mapping["properties"]) - set(meta["fields"]))
        stale = sorted(set(meta["fields"]) - set(mapping["properties"]))
        if undocumented or stale:
            raise CatalogError(
                f"{path.name}: fields without a catalog entry {undocumented}, entries without a field {stale}"
            )
        fields = []
        for name in mapping["properties"]:
            entry = meta["fields"][name]
            if entry.get("class") not in CLASSES:
                raise CatalogError(
                    f"{path.name}: {name} has class {entry.get('class')!r}, not one of {sorted(CLASSES)}"
                )
            fields.append(Field(name, entry["class"], entry.get("description", "")))
        entries.append(
            IndexEntry(
                path.stem,
                meta["description"],
                meta["source"],
                bool(meta["personal_data"]),
                meta["retention"],
                tuple(fields),
                meta.get("comment", ""),
            )
        )
    return entries


@dataclass(frozen=True)
class FileEntry:
    """A file or folder movierec writes outside Elasticsearch."""

    path: str
    description: str
    personal_data: bool
    retention: str
    kind: str = "file"


# Every file the project writes (under MOVIEREC_RUNS_DIR unless said otherwise). Only Spark's
# checkpoints hold personal data (ALS blocks keyed by user id): owner-only (the run folder is 0700),
# deleted when the run ends, and by the next run's retention pass when a run did not finish.
FILES = (
    FileEntry(
        "runs/<version>/model_card.json",
        "the run's parameters, data checksum, counts, metrics and timings",
        False,
        "the newest MOVIEREC_RUNS_RETENTION run folders are kept (default 5), older ones deleted",
    ),
    FileEntry(
        "runs/<version>/rejected/part-*.json",
        "rejected input rows: file, line number, reason and the raw line with its user id replaced by "
        "<userId> (invalid ids such as -5 are kept: they identify nobody); mode 0600",
        False,
        "as the run folder (MOVIEREC_RUNS_RETENTION)",
    ),
    FileEntry(
        "runs/<version>/checkpoints/",
        "Spark checkpoints of the ALS training (user and item blocks keyed by id); mode 0700",
        True,
        "deleted when the run ends; a run that did not finish leaves them to the next run, which deletes "
        "them (and every run folder beyond MOVIEREC_RUNS_RETENTION)",
    ),
    FileEntry(
        "<tmp>/movierec-data-*/",
        "a MovieLens zip given to `pipeline run --data` unpacked (the ratings, with user ids)",
        True,
        "deleted when the run ends",
    ),
    FileEntry(
        "Elasticsearch snapshots (MOVIEREC_SNAPSHOT_REPOSITORY)",
        "`movierec backup`: copies of the serving version and of every unversioned index",
        True,
        "kept until deleted (DELETE _snapshot/<repository>/<name>); an erasure does not reach into "
        "existing snapshots, so keep only as many as the erasure policy allows and re-run `backup` after erasures",
    ),
)


def render_markdown(entries: list[IndexEntry], prefix: str = "movierec-") -> str:
    lines = ["# movierec data catalog", "", "| class | meaning |", "|---|---|"]
    lines += [f"| {name} | {meaning} |" for name, meaning in CLASSES.items()]
    for entry in entries:
        lines += [
            "",
            f"## `{prefix}{entry.kind}`",
            "",
            entry.description,
            "",
            f"- source: {entry.source}",
            f"- personal data: {'yes' if entry.personal_data else 'no'}",
            f"- retention: {entry.retention}",
            *([f"- note: {entry.comment}"] if entry.comment else []),
            "",
            "| field | class | description |",
            "|---|---|---|",
        ]
        lines += [f"| `{f.name}` | {f.data_class} | {f.description} |" for f in entry.fields]
    lines += ["", "## Files outside Elasticsearch", "", "| path | personal | what | retention |", "|---|---|---|---|"]
    lines += [f"| `{f.path}` | {'yes' if f.personal_data else 'no'} | {f.description} | {f.retention} |" for f in FILES]
    return "\n".join(lines) + "\n"
