"""Layers point one way: pure core -> Elasticsearch store -> pipeline / service -> CLI.

Read from the source with `ast`, so a wrong import fails here even if nothing executes it.
"""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# The pure core: no Elasticsearch, Spark, FastAPI or HTTP client, and nothing above it.
PURE = {
    "movierec/config.py",
    "movierec/errors.py",
    "movierec/resources.py",
    "movierec/modelcard.py",
    "movierec/genres.py",
    "movierec/analysis.py",
    "movierec/figures.py",
    "search/text.py",
    "search/domain.py",
    "search/queries.py",
    "search/foldin.py",
    "search/live.py",
    "search/title_queries.py",
    "search/titles.py",
    "pipeline/metrics.py",
    "pipeline/params.py",
}
ENGINES = ("elasticsearch", "elastic_transport", "pyspark", "fastapi", "starlette", "httpx", "aiohttp", "uvicorn")
PIPELINE = "movierec.pipeline"
SERVICE = "movierec.service"
CLI = ("movierec.cli", "movierec.doctor", "movierec.esnode", "movierec.kibana", "movierec.report")


def modules(folder: str) -> list[Path]:
    return sorted((REPO / folder).rglob("*.py"))


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def offending(path: Path, prefixes: tuple[str, ...]) -> list[str]:
    return sorted(n for n in imported(path) if any(n == p or n.startswith(p + ".") for p in prefixes))


@pytest.mark.parametrize("rel", sorted(PURE))
def test_the_pure_core_imports_no_engine_and_nothing_above_it(rel):
    path = REPO / rel
    above = (PIPELINE, SERVICE, "movierec.search", *CLI)
    bad = [n for n in offending(path, ENGINES + above) if not _pure_search(n)]
    assert not bad, f"{rel} imports {bad}"


PURE_SEARCH = {"text", "domain", "queries", "foldin", "title_queries", "live", "titles", "newmovie"}


def _pure_search(name: str) -> bool:
    # `from movierec.search import text` names the (empty) package too.
    parts = name.split(".")
    return name == "movierec.search" or (parts[:2] == ["movierec", "search"] and parts[2] in PURE_SEARCH)


def test_the_store_imports_neither_pipeline_nor_service_nor_cli():
    for path in modules("search"):
        assert not offending(path, (PIPELINE, SERVICE, *CLI)), path


def test_pipeline_and_service_never_import_each_other_or_the_cli():
    for path in modules("pipeline"):
        assert not offending(path, (SERVICE, *CLI, "fastapi")), path
        assert "movierec.config" not in imported(path), f"{path}: the pipeline takes plain values, not Settings"
    for path in modules("service"):
        assert not offending(path, (PIPELINE, *CLI, "pyspark")), path


def test_a_violation_is_caught(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from movierec.service.main import create_app\nimport pyspark.sql\n")
    found = offending(bad, (SERVICE, "pyspark"))
    assert found == ["movierec.service.main", "movierec.service.main.create_app", "pyspark.sql"]
