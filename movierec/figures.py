"""The analyst's figures, drawn from plain numbers (movierec.analysis, the sweep, the serving indices).

The notebook shows them inline and `movierec report` writes them as PNG files: one function per
figure, each returning a matplotlib Figure built without pyplot (no global state, any backend).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from movierec.genres import GENRE_COLOURS, GENRE_PRIORITY, NO_GENRE

BLUE, ORANGE, GREY, INK = "#2f6fb0", "#e07b1a", "#9aa5b1", "#1f2933"


def _fig(width: float = 8.0, height: float = 4.2, cols: int = 1) -> tuple[Figure, list]:
    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    axes = fig.subplots(1, cols)
    axes = list(axes) if cols > 1 else [axes]
    for ax in axes:
        ax.spines[["top", "right"]].set_visible(False)
    return fig, axes


def rating_distribution(stats: dict) -> Figure:
    fig, (ax,) = _fig(7.5, 3.8)
    colours = [ORANGE if level % 1 else BLUE for level in stats["levels"]]
    ax.bar([f"{v:g}" for v in stats["levels"]], stats["counts"], color=colours)
    ax.set_xlabel("stars")
    ax.set_ylabel("ratings")
    ax.set_title(
        f"{stats['n']:,} ratings: whole stars (blue) dominate, half stars (orange) are {stats['share_half']:.0%}"
    )
    for x, count in enumerate(stats["counts"]):
        ax.annotate(f"{count / stats['n']:.0%}", (x, count), ha="center", va="bottom", fontsize=8)
    return fig


def long_tail(pop: dict) -> Figure:
    fig, (ax, ax2) = _fig(10, 3.8, cols=2)
    counts = np.array(pop["counts_sorted"])
    ax.plot(np.arange(1, len(counts) + 1), counts, color=BLUE)
    ax.set_yscale("log")
    ax.set_xlabel("movies, most rated first")
    ax.set_ylabel("ratings (log scale)")
    ax.set_title(f"Long tail: median movie has {pop['median_ratings_per_movie']:.0f} ratings")
    share = np.cumsum(counts) / counts.sum()
    ax2.plot(np.arange(1, len(counts) + 1) / len(counts) * 100, share * 100, color=ORANGE)
    ax2.axvline(10, color=GREY, ls="--")
    ax2.annotate(f"top 10% of movies: {pop['share_top_10pct']:.0%} of ratings", (11, pop["share_top_10pct"] * 100 - 8))
    ax2.set_xlabel("% of rated movies, most rated first")
    ax2.set_ylabel("% of all ratings")
    ax2.set_title("Cumulative share of ratings")
    return fig


def user_activity(act: dict) -> Figure:
    fig, (ax, ax2) = _fig(10, 3.8, cols=2)
    per_user = np.array(act["per_user"])
    bins = np.logspace(np.log10(max(per_user.min(), 1)), np.log10(per_user.max() + 1), 30)
    ax.hist(per_user, bins=bins, color=BLUE)
    ax.set_xscale("log")
    ax.axvline(act["median"], color=ORANGE, ls="--", label=f"median {act['median']:.0f}")
    ax.legend(frameon=False)
    ax.set_xlabel("ratings per user (log scale)")
    ax.set_ylabel("users")
    ax.set_title(f"{act['users']:,} users: top 10% gave {act['share_by_top10pct_users']:.0%} of ratings")
    ax2.bar(act["years"], act["ratings_per_year"], color=BLUE, label="ratings")
    ax2.set_ylabel("ratings per year")
    ax2.set_xlabel("year the rating was given")
    twin = ax2.twinx()
    twin.plot(act["years"], act["active_users_per_year"], color=ORANGE, marker="o", ms=3, label="active users")
    twin.set_ylabel("active users", color=ORANGE)
    twin.spines[["top"]].set_visible(False)
    ax2.set_title("Activity over time: bursts, not a steady stream")
    return fig


def genres(rows: Sequence[dict]) -> Figure:
    rows = sorted(rows, key=lambda r: r["mean"])
    fig, (ax,) = _fig(8, 5.2)
    y = np.arange(len(rows))
    means = np.array([r["mean"] for r in rows])
    err = np.array([[r["mean"] - r["low"] for r in rows], [r["high"] - r["mean"] for r in rows]])
    ax.barh(y, means, xerr=err, color=BLUE, ecolor=INK, capsize=2)
    ax.set_yticks(y, [f"{r['genre']} ({r['ratings']:,})" for r in rows])
    lo = min(r["low"] for r in rows)
    ax.set_xlim(max(0, lo - 0.2), max(r["high"] for r in rows) + 0.1)
    ax.set_xlabel("mean rating (stars), 95% interval; ratings in brackets")
    ax.set_title("Mean rating by genre")
    return fig


def drift(d: dict) -> Figure:
    fig, (ax, ax2) = _fig(10, 3.8, cols=2)
    for axis, rows, key, label in (
        (ax, d["by_decade"], "decade", "decade of release"),
        (ax2, d["by_rating_year"], "year", "year the rating was given"),
    ):
        xs = [r[key] for r in rows]
        means = [r["mean"] for r in rows]
        axis.fill_between(xs, [r["low"] for r in rows], [r["high"] for r in rows], color=BLUE, alpha=0.2)
        axis.plot(xs, means, color=BLUE, marker="o", ms=3)
        axis.set_xlabel(label)
        axis.set_ylabel("mean rating (stars)")
    ax.set_title("Older movies are rated higher")
    ax2.set_title("Mean rating by year of rating")
    return fig


def held_out(metrics: dict) -> Figure:
    fig, (ax,) = _fig(7.5, 3.6)
    names = ["precision", "recall", "ndcg", "map"]
    x = np.arange(len(names))
    ax.bar(x - 0.2, [metrics["als"][n] for n in names], 0.4, color=BLUE, label="ALS (served model)")
    ax.bar(x + 0.2, [metrics["popularity"][n] for n in names], 0.4, color=GREY, label="popularity")
    ax.set_xticks(x, [f"{n.upper() if n in ('ndcg', 'map') else n.capitalize()}@10" for n in names])
    ax.legend(frameon=False)
    ratio = metrics["als"]["ndcg"] / metrics["popularity"]["ndcg"]
    ax.set_title(f"Held-out top-10 quality: ALS NDCG@10 is {ratio:.2f}x popularity's")
    return fig


def sweep(grid: Sequence[dict]) -> Figure:
    ranks = sorted({r["rank"] for r in grid})
    regs = sorted({r["reg_param"] for r in grid})
    fig, (ax, ax2) = _fig(10, 3.9, cols=2)
    for axis, key, title in (
        (ax, "ndcg", "NDCG@10 (held out)"),
        (ax2, "coverage", "catalogue coverage of top-10 lists"),
    ):
        cells = np.array(
            [[next(r[key] for r in grid if r["rank"] == k and r["reg_param"] == g) for g in regs] for k in ranks]
        )
        image = axis.imshow(cells, cmap="viridis", aspect="auto")
        axis.set_xticks(range(len(regs)), [f"{g:g}" for g in regs])
        axis.set_yticks(range(len(ranks)), [str(k) for k in ranks])
        axis.set_xlabel("regularisation (regParam)")
        axis.set_ylabel("rank")
        axis.set_title(title)
        for i in range(len(ranks)):
            for j in range(len(regs)):
                light = cells[i, j] > cells.min() + 0.6 * (cells.max() - cells.min())
                colour = INK if light else "white"
                axis.text(j, i, f"{cells[i, j]:.3f}", ha="center", va="center", color=colour, fontsize=8)
        fig.colorbar(image, ax=axis, shrink=0.8)
    return fig


def embedding_map(points: Sequence[dict], labelled: Sequence[str]) -> Figure:
    fig, (ax,) = _fig(9, 6.4)
    present = [g for g in (*GENRE_PRIORITY, NO_GENRE) if any(p["genre"] == g for p in points)]
    most = max((p["num_ratings"] for p in points), default=1)
    for genre in present:
        sel = [p for p in points if p["genre"] == genre]
        ax.scatter(
            [p["x"] for p in sel],
            [p["y"] for p in sel],
            s=[4 + 120 * (p["num_ratings"] / most) for p in sel],
            color=GENRE_COLOURS[genre],
            alpha=0.65,
            linewidths=0,
            label=genre,
        )
    # The famous titles sit close together near the centre: labels fan out around them with leader lines.
    wanted = [p for p in points if p["title"].lower() in {t.lower() for t in labelled}]
    for i, p in enumerate(sorted(wanted, key=lambda p: np.arctan2(p["y"], p["x"]))):
        angle = 2 * np.pi * i / max(len(wanted), 1)
        ax.annotate(
            p["title"],
            (p["x"], p["y"]),
            xytext=(95 * np.cos(angle), 75 * np.sin(angle)),
            textcoords="offset points",
            ha="center",
            va="center",
            fontsize=8,
            arrowprops={"arrowstyle": "-", "color": INK, "lw": 0.6},
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": GREY, "alpha": 0.9},
        )
    ax.legend(frameon=False, fontsize=7, loc="center left", bbox_to_anchor=(1, 0.5), title="main genre")
    ax.set_xlabel("component 1")
    ax.set_ylabel("component 2")
    ax.set_title(f"Embedding map: {len(points):,} most rated movies (PCA of ALS item factors)")
    return fig
