"""`movierec report` and the analysis behind it (also the notebook's): numbers, words and figures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from movierec import analysis
from movierec.genres import GENRE_PRIORITY, NO_GENRE, main_genre, vega_main_genre_expr

REPO = Path(__file__).resolve().parent.parent
SWEEP = REPO / "notebooks" / "sweep.json"


def tiny() -> analysis.RatingsData:
    day = 86400
    return analysis.RatingsData(
        user=np.array([1, 1, 1, 2, 2, 3]),
        movie=np.array([10, 20, 30, 10, 20, 10]),
        rating=np.array([4.0, 3.5, 5.0, 2.0, 4.0, 4.5]),
        ts=np.array([0, 10, 5 * day, 400 * day, 400 * day + 5, 800 * day]) + 1_000_000_000,
        movie_ids=np.array([10, 20, 30, 40]),
        titles=["Ten", "Twenty", "Thirty", "Forty"],
        years=np.array([1950, 1995, -1, 2001]),
        genres=[["Drama"], ["Comedy", "Animation"], [], ["Drama", "Crime"]],
    )


def test_main_genre_is_the_most_specific_and_vega_says_the_same():
    assert main_genre(["Adventure", "Animation", "Children", "Comedy", "Fantasy"]) == "Animation"
    assert main_genre(["Crime", "Drama"]) == "Crime"
    assert main_genre([]) == NO_GENRE and main_genre(["IMAX"]) == NO_GENRE
    expr = vega_main_genre_expr("g")
    assert expr.count("indexof(g,") == len(GENRE_PRIORITY) and expr.index("Animation") < expr.index("Drama")


def test_analysis_on_a_tiny_set():
    data = tiny()
    r = analysis.rating_distribution(data)
    assert r["n"] == 6 and r["share_half"] == pytest.approx(2 / 6) and r["mode"] == 4.0
    assert sum(r["counts"]) == 6 and r["share_users_using_half"] == pytest.approx(2 / 3)
    p = analysis.popularity(data)
    assert p["movies_rated"] == 3 and p["movies_in_catalogue"] == 4 and p["counts_sorted"] == [3, 2, 1]
    assert p["top"][0]["title"] == "Ten" and p["movies_with_1_rating"] == 1
    a = analysis.user_activity(data)
    assert a["users"] == 3 and a["max"] == 3 and a["share_users_single_day"] == pytest.approx(2 / 3)
    assert sum(a["ratings_per_year"]) == 6 and sum(a["new_users_per_year"]) == 3
    g = {row["genre"]: row for row in analysis.genres(data)}
    assert g["Drama"]["ratings"] == 3 and g["Drama"]["mean"] == pytest.approx(3.5)
    assert g["Drama"]["low"] < 3.5 < g["Drama"]["high"] and "Crime" not in g
    s = analysis.sparsity(data)
    assert s["density"] == pytest.approx(6 / 9)


def test_the_cached_sweep_is_complete_and_the_served_model_beats_popularity():
    sweep = json.loads(SWEEP.read_text())
    held = sweep["held_out"]
    assert held["als"]["ndcg"] > 1.2 * held["popularity"]["ndcg"]
    assert held["explicit"]["rmse"] < 0.87
    cells = {(row["rank"], row["reg_param"]) for row in sweep["grid"]}
    ranks = {r for r, _ in cells}
    regs = {g for _, g in cells}
    assert len(cells) == len(ranks) * len(regs) >= 12


@pytest.mark.es
@pytest.mark.spark
@pytest.mark.slow
def test_report_writes_insights_and_figures_from_the_data_and_the_indices(indexed, spark, tmp_path):
    import asyncio

    from movierec import report
    from movierec.pipeline.insights import load_cleaned
    from movierec.resources import bundled_dataset

    data = load_cleaned(spark, bundled_dataset())
    stats = report.summary(data)
    assert stats["sparsity"]["ratings"] == 100836 and stats["sparsity"]["users"] == 610
    view = asyncio.run(report.model_view(indexed.es_url, indexed.index_prefix))
    assert view.embedding["shown"] == 2000 and view.embedding["total"] > 9000
    seeds = [row["seed"] for row in view.neighbours]
    assert seeds == ["Toy Story", "The Godfather", "The Matrix", "Amelie"]
    written = report.write_report(tmp_path, stats, report.load_sweep(SWEEP), view)
    md = (tmp_path / "insights.md").read_text()
    for name, _ in report.FIGURES:
        png = tmp_path / "figures" / f"{name}.png"
        assert png in written and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
        assert f"](figures/{name}.png)" in md
    assert "100,836 ratings" in md and "## What matters for the product" in md
    assert f"{stats['ratings']['share_half']:.0%}" in md
    assert "| Toy Story |" in md


def test_the_report_command_is_registered():
    from typer.testing import CliRunner

    from movierec.cli import app

    result = CliRunner().invoke(app, ["report", "--help"])
    assert result.exit_code == 0 and "insights.md" in result.output
