"""Erasure reaches every file the project writes: a user in the MovieLens file, in rejected rows and
in API ratings carried over by a retrain, erased through the API, leaves nothing of them in the runs
folder or in the indices (the deletion record aside), and a later run writes none of it back."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from elasticsearch import helpers
from fastapi.testclient import TestClient

from movierec.pipeline.run import PipelineConfig, RunOptions, run_pipeline
from movierec.search import indices
from tests.pipeline.test_guards import dataset

pytestmark = [pytest.mark.es, pytest.mark.spark, pytest.mark.slow]
USER = 987_123  # distinctive, so a match on disk is this user and not a count or another id


def traces(user: int) -> list[bytes]:
    """The user id as text and as the binary integers Spark, Parquet and Java serialisation write."""
    return [str(user).encode(), *(struct.pack(f, user) for f in ("<i", ">i", "<q", ">q"))]


def files_holding(root: Path, user: int) -> list[str]:
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        found += [f"{path.relative_to(root)} ({t!r})" for t in traces(user) if t in data]
    return found


def indices_holding(es, prefix: str, user: int) -> list[str]:
    names = indices.IndexNames(prefix)
    deletions = set(es.indices.get(index=names.deletions, ignore_unavailable=True))
    found = []
    for index in sorted(es.indices.get(index=f"{prefix}*", expand_wildcards="open")):
        if index in deletions:  # the erasure's own record: that the id was erased, and when
            continue
        es.indices.refresh(index=index)
        for hit in helpers.scan(es, index=index, query={"query": {"match_all": {}}}):
            if str(user) in hit["_id"] or mentions(hit["_source"], user):
                found.append(f"{index}/{hit['_id']}")
    return found


def mentions(value, user: int) -> bool:
    """Whether a document holds the id anywhere (an int field, or inside a string); floats (vectors)
    are not ids, and their digits could match by chance."""
    if isinstance(value, dict):
        return any(mentions(v, user) for v in value.values())
    if isinstance(value, list):
        return any(mentions(v, user) for v in value)
    if isinstance(value, bool | float):
        return False
    if isinstance(value, int):
        return value == user
    return isinstance(value, str) and str(user) in value


def test_an_erased_user_is_in_no_file_and_no_index(spark, es, settings, tmp_path):
    config = PipelineConfig.of(settings)
    own_rows = "".join(f"{USER},{m},4.0,{1_100_000_000 + m}\n" for m in range(1, 13))
    rejected = f"{USER},13,9.0,1100000013\n{USER},14,4.0,1100000014,surplus\n{USER},1,3.0,1000000000\n"
    folder = dataset(tmp_path / "d", extra_rows=own_rows + rejected)
    run_pipeline(spark, config, RunOptions(data=folder, evaluate=False), es, lambda _: None)
    from movierec.service.main import create_app

    with TestClient(create_app()) as client:
        assert client.post(f"/users/{USER}/ratings", json={"movie_id": 20, "rating": 2.5}).status_code == 200
    # A retrain carries the API rating over (trained on, indexed) and rejects the three rows again.
    second = run_pipeline(spark, config, RunOptions(data=folder, evaluate=False), es, lambda _: None)
    assert second.cleaning.counts.get("live ratings carried over") == 1
    rejected_rows = (settings.runs_dir / second.version / "rejected").glob("part-*.json")
    lines = [json.loads(line) for part in rejected_rows for line in part.read_text().splitlines()]
    assert sum(r["line"].startswith("<userId>,") for r in lines) == 3  # the rows are reported, without the id

    with TestClient(create_app()) as client:
        assert client.delete(f"/users/{USER}").status_code == 200
    assert files_holding(settings.runs_dir, USER) == []
    assert indices_holding(es, settings.index_prefix, USER) == []

    # A later run reads the MovieLens file that still holds the user: it drops them, writes none of it.
    third = run_pipeline(spark, config, RunOptions(data=folder, evaluate=False), es, lambda _: None)
    assert third.cleaning.counts.get("ratings of erased users (dropped)") == 12
    assert files_holding(settings.runs_dir, USER) == []
    assert indices_holding(es, settings.index_prefix, USER) == []
    for folder in settings.runs_dir.glob("v*"):  # run folders: the owner's only; no checkpoints left
        assert folder.stat().st_mode & 0o777 == 0o700 and not (folder / "checkpoints").exists(), folder
