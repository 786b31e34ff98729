"""notebooks/exploration.ipynb executes top to bottom against the session's indices (nbclient)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from movierec.config import get_settings

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK = REPO / "notebooks" / "exploration.ipynb"
BUDGET_S = 180


@pytest.mark.slow
@pytest.mark.es
@pytest.mark.spark
def test_the_notebook_runs_every_cell_and_interprets_every_section(indexed, monkeypatch, tmp_path):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("ES_URL", indexed.es_url)
    monkeypatch.setenv("MOVIEREC_INDEX_PREFIX", indexed.index_prefix)
    monkeypatch.delenv("MOVIEREC_NOTEBOOK_RECOMPUTE", raising=False)
    get_settings.cache_clear()
    nb = nbformat.read(NOTEBOOK, as_version=4)
    started = time.perf_counter()
    # Any cell error raises CellExecutionError and fails the test.
    NotebookClient(
        nb, timeout=BUDGET_S, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    ).execute()
    elapsed = time.perf_counter() - started
    get_settings.cache_clear()
    nbformat.write(nb, tmp_path / "executed.ipynb")
    assert elapsed < BUDGET_S, f"the notebook took {elapsed:.0f} s"

    texts = []
    images = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            images += "image/png" in data
            texts.append(data.get("text/markdown", "") + data.get("text/plain", "") + out.get("text", ""))
    joined = "\n".join(texts)
    assert images >= 8
    # An interpretation under every section, with numbers in it.
    interpretations = [t for t in texts if t.startswith("**Interpretation")]
    assert len(interpretations) >= 10
    assert all(any(ch.isdigit() for ch in t) for t in interpretations)
    assert "100,836 ratings" in joined
    assert any(c.cell_type == "markdown" and "What matters for the product" in c.source for c in nb.cells)
