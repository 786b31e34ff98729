"""`movierec report`: the notebook's findings without Jupyter: PNG figures and `insights.md`.

Data numbers come from the MovieLens folder through the pipeline's own loader and cleaning
(`movierec.analysis` over `movierec.pipeline.insights.load_cleaned`); model numbers from the serving
indices (embedding map, neighbours in both modes, the model card) and the cached sweep. The notebook
calls the same functions, so both say the same thing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from elasticsearch import AsyncElasticsearch

from movierec import analysis, figures
from movierec.genres import main_genre
from movierec.search import explore, movies, recommend
from movierec.search.indices import IndexNames

# A dozen titles everybody knows, labelled on the embedding map.
LABELLED = (
    "Toy Story",
    "The Matrix",
    "The Godfather",
    "Pulp Fiction",
    "Forrest Gump",
    "Star Wars: Episode IV - A New Hope",
    "Titanic",
    "The Shawshank Redemption",
    "Jurassic Park",
    "The Silence of the Lambs",
    "Amelie",
    "The Lion King",
)
NEIGHBOUR_SEEDS = ("Toy Story", "The Godfather", "The Matrix", "Amelie")
NEIGHBOURS_K = 8


@dataclass
class ModelView:
    embedding: dict
    neighbours: list[dict]
    card: dict = field(default_factory=dict)


def _list_stats(seed: dict, recs: list[dict]) -> dict:
    seed_genre = main_genre(seed.get("genres"))
    return {
        "titles": [f"{r['title']} ({r['year']})" if r.get("year") else r["title"] for r in recs],
        "mean_ratings": sum(r["num_ratings"] for r in recs) / max(len(recs), 1),
        "same_main_genre": sum(main_genre(r.get("genres")) == seed_genre for r in recs) / max(len(recs), 1),
        "ids": [r["movie_id"] for r in recs],
    }


async def model_view(
    es_url: str, prefix: str, *, seeds: tuple[str, ...] = NEIGHBOUR_SEEDS, limit: int = explore.MAP_LIMIT
) -> ModelView:
    """The serving model as the indices hold it: the embedding map, neighbours of famous titles, the card."""
    names = IndexNames(prefix)
    es = AsyncElasticsearch(es_url, request_timeout=60)
    try:
        embedding = await explore.embedding(es, names, limit=limit)
        rows = []
        for title in seeds:
            seed = await movies.resolve_title(es, names, title)
            audience = await recommend.for_movie(es, names, seed, k=NEIGHBOURS_K, mode="audience")
            similar = await recommend.for_movie(es, names, seed, k=NEIGHBOURS_K, mode="similar")
            a, s = _list_stats(seed.movie, audience), _list_stats(seed.movie, similar)
            rows.append(
                {
                    "seed": seed.movie["title"],
                    "seed_ratings": seed.movie["num_ratings"],
                    "seed_genre": main_genre(seed.movie.get("genres")),
                    "audience": a,
                    "similar": s,
                    "overlap": len(set(a["ids"]) & set(s["ids"])),
                }
            )
        card = {}
        try:
            aliased = await es.indices.get_alias(name=names.movies)
            version = next(iter(aliased)).removeprefix(names.concrete("movies", ""))
            doc = (await es.get(index=names.models, id=version, source_excludes=["item_gram"]))["_source"]
            card = {k: doc.get(k) for k in ("model_version", "params", "metrics", "counts")}
        except Exception:
            card = {}
        return ModelView(embedding, rows, card)
    finally:
        await es.close()


# ---- words from numbers -------------------------------------------------------------------------


def data_findings(s: dict) -> dict[str, str]:
    """One interpretation per data section, every number from `analysis.summary`."""
    r, p, a, g, sp, d = s["ratings"], s["popularity"], s["activity"], s["genres"], s["sparsity"], s["drift"]
    top_g, low_g = g[0], g[-1]
    decades = d["by_decade"]
    best_decade = max(decades, key=lambda row: row["mean"])
    worst_decade = min(decades, key=lambda row: row["mean"])
    years = d["by_rating_year"]
    hi_year = max(years, key=lambda row: row["mean"])
    lo_year = min(years, key=lambda row: row["mean"])
    users_hi, users_lo = d["users_per_rating_year"][hi_year["year"]], d["users_per_rating_year"][lo_year["year"]]
    return {
        "ratings": (
            f"{r['n']:,} ratings with a mean of {r['mean']:.2f} and a median of {r['median']:.1f} stars; "
            f"{r['mode']:g} stars is the most common value and {r['share_4_plus']:.0%} of ratings are 4 or more. "
            f"Half stars are {r['share_half']:.0%} of all ratings ({r['share_half_since']:.0%} since they first "
            f"appear on {r['first_half_star']}), and {r['share_users_using_half']:.0%} of users ever used one: "
            "people round to whole stars, so a 3.5 is a deliberate 'better than 3', and the scale is skewed "
            "to the positive side (people rate what they chose to watch)."
        ),
        "popularity": (
            f"{p['movies_rated']:,} of {p['movies_in_catalogue']:,} catalogue movies have a rating. The top 1% of "
            f"movies take {p['share_top_1pct']:.0%} of all ratings, the top 10% take {p['share_top_10pct']:.0%} and "
            f"the top 20% {p['share_top_20pct']:.0%} (Gini {p['gini']:.2f}). The median movie has "
            f"{p['median_ratings_per_movie']:.0f} ratings, {p['movies_with_1_rating']:,} movies have exactly one, and "
            f"only {p['share_movies_50_plus']:.0%} have 50 or more. Most of the catalogue is the long tail: a mean "
            "rating there is noise, which is why the product ranks by a damped average."
        ),
        "activity": (
            f"{a['users']:,} users gave between {a['min']} and {a['max']:,} ratings (median {a['median']:.0f}, "
            f"mean {a['mean']:.0f}, 90th percentile {a['p90']:.0f}). The most active 10% of users gave "
            f"{a['share_by_top10pct_users']:.0%} of all ratings. The median user gave "
            f"{a['median_first_day_share']:.0%} of their ratings on their first day and "
            f"{a['share_users_single_day']:.0%} of users rated everything within 24 hours: MovieLens asks newcomers "
            f"to rate in bulk, so ratings come in bursts (the busiest year is {a['busiest_year']}), not a steady "
            "stream, and a rating's date says when someone joined more than when they watched."
        ),
        "genres": (
            f"{top_g['genre']} is rated highest ({top_g['mean']:.2f}, 95% interval {top_g['low']:.2f}-"
            f"{top_g['high']:.2f}, {top_g['ratings']:,} ratings) and {low_g['genre']} lowest ({low_g['mean']:.2f}, "
            f"{low_g['low']:.2f}-{low_g['high']:.2f}). The spread between genres ({top_g['mean'] - low_g['mean']:.2f} "
            "stars) is larger than most intervals, so it is real, but the intervals treat ratings as independent: "
            "a few heavy users who like a small genre move it, so small genres deserve a wider margin."
        ),
        "sparsity": (
            f"{sp['users']:,} users x {sp['movies_rated']:,} rated movies = {sp['cells']:,} cells, of which "
            f"{sp['ratings']:,} are filled: a density of {sp['density']:.2%}. A user has rated a tiny part of the "
            "catalogue, so the model must generalise from overlaps; this is what matrix factorisation is for."
        ),
        "drift": (
            f"By release, the {best_decade['decade']}s are rated highest ({best_decade['mean']:.2f}, "
            f"{best_decade['ratings']:,} ratings) and the {worst_decade['decade']}s lowest "
            f"({worst_decade['mean']:.2f}, {worst_decade['ratings']:,} ratings); every ten years of age at "
            f"rating time adds {d['rating_per_decade_of_age']:+.2f} stars. That is survivorship: the old movies "
            "people still watch are the classics, while recent releases are rated whatever their quality. "
            f"By year of rating there is no trend ({d['rating_trend_per_year'] * 10:+.2f} stars per decade) "
            f"but large swings, from {lo_year['mean']:.2f} in {lo_year['year']} ({users_lo} active users) to "
            f"{hi_year['mean']:.2f} in {hi_year['year']} ({users_hi} users): with so few users a year, a year's "
            "mean is the taste of that year's cohort, not a change in how people rate."
        ),
    }


def model_findings(sweep: dict | None, view: ModelView) -> dict[str, str]:
    out = {}
    if sweep:
        h = sweep["held_out"]
        als, pop = h["als"], h["popularity"]
        grid = sweep["grid"]
        best = max(grid, key=lambda row: row["ndcg"])
        widest = max(grid, key=lambda row: row["coverage"])
        out["metrics"] = (
            f"On the held-out 20% the served implicit ALS model reaches NDCG@10 {als['ndcg']:.3f} against "
            f"{pop['ndcg']:.3f} for the popularity baseline ({als['ndcg'] / pop['ndcg']:.2f}x), precision@10 "
            f"{als['precision']:.3f} vs {pop['precision']:.3f}. Its top-10 lists cover {als['coverage']:.1%} of the "
            f"rated catalogue (popularity: {pop['coverage']:.1%}), and the movies it recommends sit on average at "
            f"the {als['mean_popularity_percentile']:.0%} popularity percentile: it personalises, but inside the "
            f"popular head. The biased explicit model predicts stars with RMSE {h['explicit']['rmse']:.3f}."
        )
        served_rank, served_reg = sweep["params"]["rank"], sweep["params"]["reg_param"]
        by_rank = sorted((r for r in grid if r["reg_param"] == served_reg), key=lambda r: r["rank"])
        by_reg = sorted((r for r in grid if r["rank"] == served_rank), key=lambda r: r["reg_param"])
        collapsed = sorted({r["reg_param"] for r in grid if r["ndcg"] < 0.5 * pop["ndcg"]})
        ranks_text = ", ".join(f"{r['rank']}: {r['ndcg']:.3f} / {r['coverage']:.1%}" for r in by_rank)
        regs_text = ", ".join(f"{r['reg_param']:g}: {r['ndcg']:.3f}" for r in by_reg)
        out["sweep"] = (
            f"At regParam {served_reg:g}, NDCG@10 / catalogue coverage by rank are {ranks_text}: more factors describe "
            f"more tastes, so accuracy rises until rank 16-24 and then flattens while coverage keeps growing. At rank "
            f"{served_rank}, NDCG@10 by regParam is {regs_text}. Below 1 regularisation hardly matters; at 1 it "
            "costs accuracy and coverage (every user is pulled towards the same popular direction)"
            + (
                f"; at {', '.join(f'{g:g}' for g in collapsed)} it shrinks every factor to zero and the model "
                "collapses (its top 10 is arbitrary, far below popularity)"
                if collapsed
                else ""
            )
            + f". Best cell here: rank {best['rank']}, regParam {best['reg_param']:g} ({best['ndcg']:.3f}), widest "
            f"coverage: rank {widest['rank']}, regParam {widest['reg_param']:g} ({widest['coverage']:.1%}); these are "
            "test-split numbers, so they describe the knobs, they do not pick them (tuning uses a validation split)."
        )
    emb = view.embedding
    e = embedding_stats(emb["points"])
    out["embedding"] = (
        f"The map shows the {emb['shown']:,} most rated of {emb['total']:,} movies with a vector. Popular movies "
        f"sit at the centre: the distance from the centre falls as the number of ratings grows (correlation with "
        f"log ratings r = {e['r_distance_popularity']:.2f}), and the {e['famous_found']} labelled famous titles lie "
        f"{e['famous_median_distance']:.2f} from the centre against {e['median_distance']:.2f} for the median movie. "
        f"The centre is what everybody watches; the rim is niche taste. Genres form overlapping regions rather than "
        f"islands: {e['far_genre']} movies lie furthest out on average ({e['far_genre_distance']:.2f}), "
        f"{e['near_genre']} closest ({e['near_genre_distance']:.2f}), because the factors encode who watches a "
        "movie, not what it is about. Two components keep only part of 24 dimensions: neighbours on the map are "
        "not always neighbours in the model."
    )
    lines = []
    for row in view.neighbours:
        a, s = row["audience"], row["similar"]
        lines.append(
            f"{row['seed']}: audience mode's picks have {a['mean_ratings']:.0f} ratings on average and "
            f"{a['same_main_genre']:.0%} share its main genre ({row['seed_genre']}); similar mode's have "
            f"{s['mean_ratings']:.0f} and {s['same_main_genre']:.0%}; the lists share {row['overlap']} of "
            f"{NEIGHBOURS_K}."
        )
    less = sum(row["audience"]["mean_ratings"] < row["similar"]["mean_ratings"] for row in view.neighbours)
    first = view.neighbours[0] if view.neighbours else None
    similar_example = f" ({first['seed']}'s similar list starts with {first['similar']['titles'][0]})" if first else ""
    audience_examples = "; ".join(f"{row['seed']}: {row['audience']['titles'][0]}" for row in view.neighbours[:2])
    out["neighbours"] = (
        " ".join(lines) + f" For {less} of {len(view.neighbours)} seeds the audience list is less rated on average "
        "than the similar list. 'Similar' ranks by the inner product with the movie's own vector, which favours "
        f"movies with large vectors, the much-rated ones{similar_example}; 'audience' ranks by the lift of the "
        "people who liked the movie over everyone, so it surfaces what that audience likes more than average "
        f"({audience_examples})."
    )
    return out


def embedding_stats(points: list[dict]) -> dict:
    xy = np.array([[p["x"], p["y"]] for p in points])
    distance = np.hypot(xy[:, 0], xy[:, 1])
    ratings = np.log([max(p["num_ratings"], 1) for p in points])
    famous = [d for p, d in zip(points, distance, strict=True) if p["title"] in LABELLED]
    by_genre: dict[str, list[float]] = {}
    for p, d in zip(points, distance, strict=True):
        by_genre.setdefault(p["genre"], []).append(float(d))
    means = {g: float(np.mean(ds)) for g, ds in by_genre.items() if len(ds) >= 20}
    far, near = max(means, key=means.get), min(means, key=means.get)
    return {
        "r_distance_popularity": float(np.corrcoef(distance, ratings)[0, 1]),
        "median_distance": float(np.median(distance)),
        "famous_found": len(famous),
        "famous_median_distance": float(np.median(famous)) if famous else float("nan"),
        "far_genre": far,
        "far_genre_distance": means[far],
        "near_genre": near,
        "near_genre_distance": means[near],
    }


def product_insights(s: dict, sweep: dict | None, view: ModelView) -> list[str]:
    p, a, r = s["popularity"], s["activity"], s["ratings"]
    items = [
        f"Trust needs counts: {1 - p['share_movies_50_plus']:.0%} of rated movies have fewer than 50 ratings, so "
        "rank lists by the damped average and show the number of ratings next to every mean.",
        f"Onboarding is a burst: the median user gives {a['median_first_day_share']:.0%} of their ratings on day one. "
        "The real-time fold-in matters most in the first session; ask for a handful of ratings up front.",
        f"Ratings are positive ({r['share_4_plus']:.0%} are 4+): treat a 3 as lukewarm, not as average, and use 4+ "
        "as 'liked' (the audience vectors do).",
        f"The head dominates ({p['share_top_10pct']:.0%} of ratings on 10% of movies): the popular fallback is a "
        "fine cold start, but personal lists should be pushed into the tail on purpose.",
    ]
    if sweep:
        als = sweep["held_out"]["als"]
        items.append(
            f"The model beats popularity ({als['ndcg']:.3f} vs {sweep['held_out']['popularity']['ndcg']:.3f} "
            f"NDCG@10) but its lists cover {als['coverage']:.1%} of the catalogue: add diversity or a tail boost if "
            "discovery is a goal."
        )
    if view.neighbours:
        overlaps = [row["overlap"] for row in view.neighbours]
        items.append(
            "Offer both modes and default to 'people who liked this also liked': the two lists share only "
            f"{min(overlaps)} to {max(overlaps)} of {NEIGHBOURS_K} titles, and 'similar' leans to the most rated "
            "movies, which a user has usually seen."
        )
    return items


# ---- the report ---------------------------------------------------------------------------------

FIGURES = (
    ("ratings", "Rating distribution"),
    ("long_tail", "The long tail of movie popularity"),
    ("activity", "User activity"),
    ("genres", "Mean rating by genre"),
    ("drift", "Ratings by release decade and by year of rating"),
    ("held_out", "Held-out metrics against popularity"),
    ("sweep", "Rank and regularisation sweep"),
    ("embedding", "Embedding map"),
)


def all_figures(s: dict, sweep: dict | None, view: ModelView) -> dict:
    figs = {
        "ratings": figures.rating_distribution(s["ratings"]),
        "long_tail": figures.long_tail(s["popularity"]),
        "activity": figures.user_activity(s["activity"]),
        "genres": figures.genres(s["genres"]),
        "drift": figures.drift(s["drift"]),
        "embedding": figures.embedding_map(view.embedding["points"], LABELLED),
    }
    if sweep:
        figs["held_out"] = figures.held_out(sweep["held_out"])
        figs["sweep"] = figures.sweep(sweep["grid"])
    return figs


def neighbours_table(view: ModelView) -> str:
    lines = ["| seed | people who liked this also liked | similar movies |", "|---|---|---|"]
    for row in view.neighbours:
        audience, similar = "; ".join(row["audience"]["titles"][:5]), "; ".join(row["similar"]["titles"][:5])
        lines.append(f"| {row['seed']} | {audience} | {similar} |")
    return "\n".join(lines)


def render_markdown(s: dict, sweep: dict | None, view: ModelView, figure_dir: str = "figures") -> str:
    data, model = data_findings(s), model_findings(sweep, view)

    def fig(name: str, title: str) -> str:
        return f"![{title}]({figure_dir}/{name}.png)\n"

    sp = s["sparsity"]
    parts = [
        "# movierec: what the data and the model show\n",
        f"Written by `movierec report` from {sp['ratings']:,} cleaned ratings (the pipeline's own loader and "
        "cleaning) and the serving Elasticsearch indices"
        + (f" (model {view.card.get('model_version')})" if view.card.get("model_version") else "")
        + ". The notebook `notebooks/exploration.ipynb` shows the same figures with the code.\n",
        "## The data\n",
        "### Ratings\n",
        fig("ratings", "Rating distribution"),
        data["ratings"] + "\n",
        "### The long tail\n",
        fig("long_tail", "Long tail"),
        data["popularity"] + "\n",
        "### Users\n",
        fig("activity", "User activity"),
        data["activity"] + "\n",
        "### Genres\n",
        fig("genres", "Genres"),
        data["genres"] + "\n",
        "### Sparsity\n",
        data["sparsity"] + "\n",
        "### Drift\n",
        fig("drift", "Drift"),
        data["drift"] + "\n",
        "## The model\n",
    ]
    if sweep:
        parts += [
            "### Held-out metrics\n",
            fig("held_out", "Held-out metrics"),
            model["metrics"] + "\n",
            "### Rank and regularisation\n",
            fig("sweep", "Sweep"),
            model["sweep"] + "\n",
        ]
    parts += [
        "### Embedding map\n",
        fig("embedding", "Embedding map"),
        model["embedding"] + "\n",
        "### Neighbours: 'similar' vs 'people who liked this also liked'\n",
        neighbours_table(view) + "\n",
        model["neighbours"] + "\n",
        "## What matters for the product\n",
        "\n".join(f"- {item}" for item in product_insights(s, sweep, view)) + "\n",
    ]
    return "\n".join(parts)


def write_report(out_dir: Path, s: dict, sweep: dict | None, view: ModelView) -> list[Path]:
    """`out_dir/insights.md` and `out_dir/figures/*.png`; returns the files written."""
    figure_dir = out_dir / "figures"
    figure_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, fig in all_figures(s, sweep, view).items():
        path = figure_dir / f"{name}.png"
        fig.savefig(path, dpi=110, metadata={"Software": None})
        written.append(path)
    md = out_dir / "insights.md"
    md.write_text(render_markdown(s, sweep, view), encoding="utf-8")
    return [md, *written]


def load_sweep(path: Path | None) -> dict | None:
    if path is None or not Path(path).is_file():
        return None
    return json.loads(Path(path).read_text(encoding="utf-8"))


def summary(data: analysis.RatingsData) -> dict:
    return analysis.summary(data)
