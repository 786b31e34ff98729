"""Server-made SVG charts for the page's explore view: no JavaScript library, readable by screen readers.

Every chart is an `<svg role="img">` with a `<title>` and a `<desc>` that says what it shows in words,
a `viewBox` so it scales to a phone's width, and a `<title>` per mark: hovering a bar or a point shows
its value (the embedding map: the movie's title and genres).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from movierec.genres import GENRE_COLOURS, GENRE_PRIORITY, NO_GENRE

W, H = 640, 360
M = {"left": 64, "right": 16, "top": 36, "bottom": 56}
INK, GRID, ACCENT = "#1f2933", "#d9dee3", "#2f6fb0"


def _frame(chart_id: str, title: str, desc: str, body: list[str], *, height: int = H, width: int = W) -> str:
    return "".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" class="chart" '
            f'aria-labelledby="{chart_id}-t {chart_id}-d" font-family="system-ui, sans-serif" font-size="12">',
            f'<title id="{chart_id}-t">{escape(title)}</title><desc id="{chart_id}-d">{escape(desc)}</desc>',
            f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="15" font-weight="600" fill="{INK}">'
            f"{escape(title)}</text>",
            *body,
            "</svg>",
        ]
    )


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** len(str(int(value))) / 10
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return value


def _fmt(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.2f}".rstrip("0").rstrip(".") if value % 1 else f"{int(value)}"


def _value_axis(lo: float, hi: float, height: int, title: str) -> list[str]:
    out = []
    plot_h = height - M["top"] - M["bottom"]
    for i in range(5):
        value = lo + (hi - lo) * i / 4
        y = M["top"] + plot_h - plot_h * i / 4
        out.append(f'<line x1="{M["left"]}" x2="{W - M["right"]}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>')
        out.append(f'<text x="{M["left"] - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{INK}">{_fmt(value)}</text>')
    mid = M["top"] + plot_h / 2
    label = f'<text transform="translate(14 {mid:.0f}) rotate(-90)" text-anchor="middle" fill="{INK}">'
    out.append(f"{label}{escape(title)}</text>")
    return out


def bar_chart(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    *,
    x_title: str,
    y_title: str,
    desc: str,
    low: Sequence[float] | None = None,
    high: Sequence[float] | None = None,
    y_min: float = 0.0,
    y_max: float | None = None,
    rotate: bool = False,
) -> str:
    """Vertical bars; with `low`/`high`, a 95% interval whisker on each bar."""
    height = H + (40 if rotate else 0)
    top = y_max if y_max is not None else _nice_max(max([*values, *(high or [])], default=1))
    plot_w = W - M["left"] - M["right"]
    plot_h = height - M["top"] - M["bottom"] - (40 if rotate else 0)
    step = plot_w / max(len(values), 1)

    def y_of(v: float) -> float:
        return M["top"] + plot_h - plot_h * (v - y_min) / ((top - y_min) or 1)

    body = _value_axis(y_min, top, height - (40 if rotate else 0), y_title)
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        x = M["left"] + i * step + step * 0.15
        y = y_of(value)
        tip = f"{label}: {_fmt(value)}"
        if low is not None and high is not None:
            tip += f" (95% interval {low[i]:.2f}-{high[i]:.2f})"
        body.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{step * 0.7:.1f}" height="{max(0.0, y_of(y_min) - y):.1f}" '
            f'fill="{ACCENT}" class="bar"><title>{escape(tip)}</title></rect>'
        )
        if low is not None and high is not None:
            cx = x + step * 0.35
            body.append(
                f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{y_of(low[i]):.1f}" y2="{y_of(high[i]):.1f}" '
                f'stroke="{INK}" stroke-width="1.5"/>'
            )
        lx, ly = x + step * 0.35, M["top"] + plot_h + 16
        if rotate:
            body.append(
                f'<text transform="translate({lx:.1f} {ly - 6:.1f}) rotate(-45)" text-anchor="end" '
                f'fill="{INK}">{escape(label)}</text>'
            )
        else:
            body.append(f'<text x="{lx:.1f}" y="{ly:.1f}" text-anchor="middle" fill="{INK}">{escape(label)}</text>')
    body.append(
        f'<text x="{M["left"] + plot_w / 2:.0f}" y="{height - 8}" text-anchor="middle" fill="{INK}">'
        f"{escape(x_title)}</text>"
    )
    return _frame(chart_id, title, desc, body, height=height)


def line_chart(
    chart_id: str,
    title: str,
    xs: Sequence[int],
    ys: Sequence[float],
    *,
    x_title: str,
    y_title: str,
    desc: str,
) -> str:
    top = _nice_max(max(ys, default=1))
    plot_w = W - M["left"] - M["right"]
    plot_h = H - M["top"] - M["bottom"]
    span = (max(xs) - min(xs)) or 1 if xs else 1

    def xy(x: float, y: float) -> tuple[float, float]:
        return M["left"] + plot_w * (x - min(xs)) / span, M["top"] + plot_h - plot_h * y / top

    body = _value_axis(0, top, H, y_title)
    points = [xy(x, y) for x, y in zip(xs, ys, strict=True)]
    body.append(
        f'<polyline fill="none" stroke="{ACCENT}" stroke-width="2" '
        f'points="{" ".join(f"{px:.1f},{py:.1f}" for px, py in points)}"/>'
    )
    for (px, py), x, y in zip(points, xs, ys, strict=True):
        body.append(
            f'<circle cx="{px:.1f}" cy="{py:.1f}" r="4" fill="{ACCENT}" class="dot">'
            f"<title>{x}: {_fmt(y)}</title></circle>"
        )
    every = max(1, len(xs) // 8)
    for i, x in enumerate(xs):
        if i % every == 0:
            px, _ = xy(x, 0)
            body.append(f'<text x="{px:.1f}" y="{M["top"] + plot_h + 16}" text-anchor="middle" fill="{INK}">{x}</text>')
    body.append(
        f'<text x="{M["left"] + plot_w / 2:.0f}" y="{H - 8}" text-anchor="middle" fill="{INK}">{escape(x_title)}</text>'
    )
    return _frame(chart_id, title, desc, body)


def scatter(chart_id: str, title: str, points: Sequence[dict], *, desc: str) -> str:
    """The embedding map: one circle per movie, coloured by main genre, its title on hover."""
    width, height = 1000, 560
    legend_w = 120
    plot_w = width - M["left"] - M["right"] - legend_w
    plot_h = height - M["top"] - 24
    if not points:
        return _frame(
            chart_id, title, desc, ['<text x="40" y="80">no movies to show</text>'], height=height, width=width
        )
    xs = [p["x"] for p in points]
    ys = [p["y"] for p in points]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    most = max(p["num_ratings"] for p in points) or 1
    body = [f'<rect x="{M["left"]}" y="{M["top"]}" width="{plot_w}" height="{plot_h}" fill="none" stroke="{GRID}"/>']
    # Least rated first, so the well-known movies are drawn on top.
    for p in sorted(points, key=lambda p: p["num_ratings"]):
        cx = M["left"] + plot_w * (p["x"] - x0) / ((x1 - x0) or 1)
        cy = M["top"] + plot_h - plot_h * (p["y"] - y0) / ((y1 - y0) or 1)
        r = 1.5 + 7 * (p["num_ratings"] / most) ** 0.5
        year = f" ({p['year']})" if p.get("year") else ""
        tip = f"{p['title']}{year}: {', '.join(p['genres']) or 'no genre'}; {p['num_ratings']} ratings"
        body.append(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{r:.1f}" fill="{GENRE_COLOURS.get(p["genre"], "#999")}" '
            f'fill-opacity="0.75" class="point" data-movie-id="{p["movie_id"]}"><title>{escape(tip)}</title></circle>'
        )
    present = {p["genre"] for p in points}
    ly = M["top"]
    for genre in (g for g in (*GENRE_PRIORITY, NO_GENRE) if g in present):
        lx = width - legend_w + 4
        body.append(f'<circle cx="{lx}" cy="{ly + 6}" r="5" fill="{GENRE_COLOURS[genre]}"/>')
        body.append(f'<text x="{lx + 10}" y="{ly + 10}" fill="{INK}">{escape(genre)}</text>')
        ly += 17
    body.append(
        f'<text x="{M["left"] + plot_w / 2:.0f}" y="{height - 6}" text-anchor="middle" fill="{INK}">'
        "component 1 (PCA of item factors)</text>"
    )
    return _frame(chart_id, title, desc, body, height=height, width=width)
