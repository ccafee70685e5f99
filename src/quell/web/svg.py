"""Server-drawn SVG: the dependency graph of the AI systems and the metrics charts.

Drawn here rather than in the browser so the pages need no JavaScript and no chart library.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

NODE_W, NODE_H, COL_GAP, ROW_GAP, PAD = 230, 54, 80, 26, 24


@dataclass(frozen=True)
class GraphNode:
    name: str
    kind: str
    criticality: str
    open_incidents: int


def depths(upstream: Mapping[str, set[str]]) -> dict[str, int]:
    """Layer of each system: 0 for those with no upstream, else one more than its deepest."""
    memo: dict[str, int] = {}

    def depth(name: str, trail: frozenset[str]) -> int:
        if name in memo:
            return memo[name]
        parents = [p for p in upstream.get(name, ()) if p in upstream and p not in trail]
        value = 1 + max((depth(p, trail | {name}) for p in parents), default=-1)
        memo[name] = value
        return value

    for name in upstream:
        depth(name, frozenset())
    return memo


def dependency_graph_svg(nodes: Sequence[GraphNode], upstream: Mapping[str, set[str]]) -> Markup:
    """Systems in layers by dependency depth, arrows from upstream to downstream."""
    if not nodes:
        return Markup("")
    layer = depths(upstream)
    columns: dict[int, list[GraphNode]] = {}
    for node in sorted(nodes, key=lambda n: n.name):
        columns.setdefault(layer.get(node.name, 0), []).append(node)
    position: dict[str, tuple[int, int]] = {}
    for col, members in columns.items():
        for row, node in enumerate(members):
            position[node.name] = (PAD + col * (NODE_W + COL_GAP), PAD + row * (NODE_H + ROW_GAP))
    width = PAD * 2 + (max(columns) + 1) * NODE_W + max(columns) * COL_GAP
    rows = max(len(m) for m in columns.values())
    height = PAD * 2 + rows * NODE_H + (rows - 1) * ROW_GAP + 22
    hot = [n.name for n in nodes if n.open_incidents]
    desc = f"{len(nodes)} AI systems; arrows point from a system to those that depend on it."
    if hot:
        desc += " In open incidents: " + ", ".join(hot) + "."
    parts = [
        f'<svg class="graph" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        'role="img" aria-labelledby="graph-title graph-desc" xmlns="http://www.w3.org/2000/svg">',
        '<title id="graph-title">Dependency graph of the AI systems</title>',
        f'<desc id="graph-desc">{escape(desc)}</desc>',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" '
        'markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'class="arrowhead"/></marker></defs>',
    ]
    for name, parents in sorted(upstream.items()):
        if name not in position:
            continue
        x2, y2 = position[name]
        for parent in sorted(parents):
            if parent not in position:
                continue
            x1, y1 = position[parent]
            sx, sy, ex, ey = x1 + NODE_W, y1 + NODE_H // 2, x2 - 2, y2 + NODE_H // 2
            mid = (sx + ex) // 2
            parts.append(
                f'<path class="edge" d="M{sx},{sy} C{mid},{sy} {mid},{ey} {ex},{ey}" '
                'marker-end="url(#arrow)"><title>'
                f"{escape(parent)} → {escape(name)}</title></path>"
            )
    for node in nodes:
        x, y = position[node.name]
        state = "node hot" if node.open_incidents else "node"
        badge = (
            f"{node.open_incidents} open incident" + ("s" if node.open_incidents > 1 else "")
            if node.open_incidents
            else f"{node.criticality} criticality"
        )
        parts.append(
            f'<a href="/systems/{escape(node.name)}" class="{state}">'
            f'<rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="6"/>'
            f'<text x="{x + 10}" y="{y + 21}" class="name">{escape(node.name)}</text>'
            f'<text x="{x + 10}" y="{y + 41}" class="meta">{escape(node.kind)} · '
            f"{escape(badge)}</text></a>"
        )
    parts.append(
        f'<text x="{PAD}" y="{height - 8}" class="legend">Arrows: upstream → downstream. '
        "Red outline: the system is in an open incident.</text>"
    )
    parts.append("</svg>")
    return Markup("".join(parts))


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    css: str  # class that colours it: s1, s2


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    step = 10 ** len(str(int(value))) / 10
    for mult in (1, 2, 2.5, 5, 10):
        if value <= step * mult:
            return step * mult
    return value


def line_chart(
    title: str, labels: Sequence[str], series: Sequence[Series], unit: str, chart_id: str
) -> Markup:
    """A line chart over time buckets; gaps (None) break the line, points are marked."""
    return _chart(title, labels, series, unit, chart_id, bars=False)


def bar_chart(
    title: str, labels: Sequence[str], series: Sequence[Series], unit: str, chart_id: str
) -> Markup:
    """Grouped bars per time bucket."""
    return _chart(title, labels, series, unit, chart_id, bars=True)


def _chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    unit: str,
    chart_id: str,
    *,
    bars: bool,
) -> Markup:
    width, height, left, right, top, bottom = 620, 260, 56, 16, 34, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for s in series for v in s.values if v is not None]
    top_value = _nice_max(max(values, default=0.0))
    if all(float(v).is_integer() for v in values):
        top_value = max(top_value, 4.0)  # whole counts get whole-number gridlines
    n = max(len(labels), 1)
    slot = plot_w / n

    def y_of(v: float) -> float:
        return top + plot_h - (v / top_value) * plot_h

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{chart_id}-t" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
    ]
    for i in range(5):
        tick = top_value * i / 4
        y = y_of(tick)
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" class="tick" text-anchor="end">'
            f"{tick:g}</text>"
        )
    parts.append(
        f'<text x="12" y="{top + plot_h / 2:.0f}" class="tick" '
        f'transform="rotate(-90 12 {top + plot_h / 2:.0f})" text-anchor="middle">'
        f"{escape(unit)}</text>"
    )
    every = max(1, n // 8)
    for i, text in enumerate(labels):
        if i % every == 0:
            x = left + slot * (i + 0.5)
            parts.append(
                f'<text x="{x:.1f}" y="{height - bottom + 16}" class="tick" '
                f'text-anchor="middle">{escape(text)}</text>'
            )
    if not values:
        parts.append(
            f'<text x="{left + plot_w / 2:.0f}" y="{top + plot_h / 2:.0f}" class="empty" '
            'text-anchor="middle">no data in this period</text>'
        )
    for k, s in enumerate(series):
        if bars:
            bar_w = slot * 0.8 / max(len(series), 1)
            for i, v in enumerate(s.values):
                if v is None:
                    continue
                x = left + slot * i + slot * 0.1 + k * bar_w
                y = y_of(v)
                parts.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" '
                    f'height="{top + plot_h - y:.1f}" class="{s.css}">'
                    f"<title>{escape(labels[i])}: {escape(s.name)} {v:g}</title></rect>"
                )
        else:
            path: list[str] = []
            for i, v in enumerate(s.values):
                if v is None:
                    path.append("")
                    continue
                x, y = left + slot * (i + 0.5), y_of(v)
                path.append(f"{x:.1f},{y:.1f}")
                parts.append(
                    f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" class="{s.css}">'
                    f"<title>{escape(labels[i])}: {escape(s.name)} {v:.1f} {escape(unit)}"
                    "</title></circle>"
                )
            for run in " ".join(p or "|" for p in path).split("|"):
                points = run.split()
                if len(points) > 1:
                    parts.append(f'<polyline points="{" ".join(points)}" class="line {s.css}"/>')
        lx = left + 110 * k
        parts.append(
            f'<rect x="{lx}" y="9" width="12" height="12" class="{s.css}"/>'
            f'<text x="{lx + 16}" y="19" class="tick">{escape(s.name)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
