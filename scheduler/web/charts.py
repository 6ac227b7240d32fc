"""Charts for the Insights page, drawn on the server as inline SVG: no script, no CDN, nothing to build.

Each chart is an image with a name (``role="img"``, ``<title>``) and a description that says in words what it
shows, so a screen reader gets the figures too; every piece of text is escaped. Sizes are a viewBox: the chart
scales to its container (a phone's 375 px as well as a desktop).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from markupsafe import Markup, escape

_ids = itertools.count(1)
INK = "#3d4a52"  # labels: 9:1 on white
LINE = "#0b5cad"
EMPTY = "#eef1f2"
# The heat map's scale, from a low rate to the highest: light to dark blue (the darkest holds white text).
SCALE = ("#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#3182bd", "#08519c")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _open(width: float, height: float, title: str, desc: str, css: str) -> tuple[str, str]:
    n = next(_ids)
    head = (f'<svg class="{css}" viewBox="0 0 {width:g} {height:g}" role="img" '
            f'aria-labelledby="chart-t{n} chart-d{n}" xmlns="http://www.w3.org/2000/svg">'
            f'<title id="chart-t{n}">{escape(title)}</title><desc id="chart-d{n}">{escape(desc)}</desc>')
    return head, "</svg>"


def sparkline(values: Sequence[float], *, title: str, desc: str, width: int = 120, height: int = 28) -> Markup:
    """A line through ``values`` (oldest first), scaled to the highest; a dot on the newest."""
    head, tail = _open(width, height, title, desc, "spark")
    if not values:
        return Markup(head + tail)
    top = max(max(values), 1e-12)
    pad = 3
    step = (width - 2 * pad) / max(len(values) - 1, 1)
    points = [(pad + i * step, height - pad - (v / top) * (height - 2 * pad)) for i, v in enumerate(values)]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    x, y = points[-1]
    body = (f'<polyline points="{path}" fill="none" stroke="{LINE}" stroke-width="2" stroke-linejoin="round"/>'
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{LINE}"/>')
    return Markup(head + body + tail)


def heat_map(cells: Sequence[tuple[int, int, int, float | None]], *, title: str, desc: str) -> Markup:
    """Weekday (rows, Monday first) x hour (columns) of ``(weekday, hour, posts, rate)``; a darker cell had a
    higher mean rate, an empty one had no post. Each cell's own title gives its figures."""
    cell, left, top = 14, 34, 16
    width, height = left + 24 * cell + 2, top + 7 * cell + 2
    head, tail = _open(width, height, title, desc, "heat")
    rates = [rate for _, _, posts, rate in cells if posts and rate is not None]
    low, high = (min(rates), max(rates)) if rates else (0.0, 0.0)
    out = [head]
    for hour in range(0, 24, 3):
        out.append(f'<text x="{left + hour * cell + 1}" y="11" font-size="9" fill="{INK}">{hour:02d}</text>')
    for day, name in enumerate(WEEKDAYS):
        out.append(f'<text x="0" y="{top + day * cell + 10}" font-size="10" fill="{INK}">{name}</text>')
    for day, hour, posts, rate in cells:
        if posts and rate is not None:
            share = 0.0 if high == low else (rate - low) / (high - low)
            fill = SCALE[min(int(share * len(SCALE)), len(SCALE) - 1)]
            label = f"{WEEKDAYS[day]} {hour:02d}:00: {posts} post{'s' if posts != 1 else ''}, {rate:.2%}"
        else:
            fill, label = EMPTY, f"{WEEKDAYS[day]} {hour:02d}:00: no post"
        out.append(f'<rect x="{left + hour * cell}" y="{top + day * cell}" width="{cell - 1}" height="{cell - 1}" '
                   f'fill="{fill}"><title>{escape(label)}</title></rect>')
    out.append(tail)
    return Markup("".join(out))


def bars(rows: Sequence[tuple[str, float, str]], *, title: str, desc: str) -> Markup:
    """Horizontal bars of ``(label, value, value as text)``, scaled to the largest."""
    row, label_w, bar_w, text_w = 22, 70, 180, 80
    width, height = label_w + bar_w + text_w, max(len(rows), 1) * row + 4
    head, tail = _open(width, height, title, desc, "bars")
    top = max((value for _, value, _ in rows), default=0.0) or 1.0
    out = [head]
    for i, (label, value, shown) in enumerate(rows):
        y = i * row + 4
        length = max(bar_w * value / top, 1 if value else 0)
        out.append(f'<text x="0" y="{y + 14}" font-size="12" fill="{INK}">{escape(label)}</text>'
                   f'<rect x="{label_w}" y="{y + 2}" width="{length:.1f}" height="{row - 8}" fill="{LINE}"/>'
                   f'<text x="{label_w + length + 6:.1f}" y="{y + 14}" font-size="12" fill="{INK}">'
                   f'{escape(shown)}</text>')
    out.append(tail)
    return Markup("".join(out))
