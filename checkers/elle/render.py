"""Drawing a cycle: Graphviz dot text, or an SVG we write ourselves (no Graphviz needed).

The transactions sit on a circle; each step is an arrow labelled like Elle's edges
(``rw(x,1->2)``). Used for the files written next to a run's results.
"""

from __future__ import annotations

import math
from html import escape

from .explain import short_step

_COLORS = {"ww": "#1f77b4", "wr": "#2ca02c", "rw": "#d62728", "process": "#7f7f7f",
           "realtime": "#9467bd"}


def cycle_dot(expl: dict) -> str:
    """Graphviz ``digraph`` text for one explained cycle."""
    lines = [f'digraph "{expl["type"]}" {{', "  rankdir=LR; node [shape=box, fontname=monospace];"]
    idx = expl["cycle"]
    for i in idx[:-1]:
        lines.append(f'  "T{i}" [label="op {i}"];')
    for (a, b), s in zip(zip(idx, idx[1:]), expl["steps"]):
        color = _COLORS.get(s["type"], "black")
        label = short_step(s).replace('"', '\\"')
        lines.append(f'  "T{a}" -> "T{b}" [label="{label}", color="{color}", fontcolor="{color}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def cycle_svg(expl: dict, size: int = 480) -> str:
    """A standalone SVG drawing of one explained cycle."""
    idx = expl["cycle"][:-1]
    n = len(idx)
    cx = cy = size / 2
    r = size / 2 - 70
    pos = [(cx + r * math.cos(2 * math.pi * i / n - math.pi / 2),
            cy + r * math.sin(2 * math.pi * i / n - math.pi / 2)) for i in range(n)]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size + 30}" '
           f'font-family="monospace" font-size="12">',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
           'markerHeight="8" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z"/>'
           '</marker></defs>',
           f'<text x="10" y="20" font-size="14">{escape(expl["type"])}</text>']
    for i, s in enumerate(expl["steps"]):
        (x1, y1), (x2, y2) = pos[i], pos[(i + 1) % n]
        dx, dy = x2 - x1, y2 - y1
        d = math.hypot(dx, dy) or 1
        ux, uy = dx / d, dy / d
        sx, sy, ex, ey = x1 + ux * 32, y1 + uy * 32, x2 - ux * 32, y2 - uy * 32
        # Bend each arrow outwards so two-node cycles show both directions.
        mx, my = (sx + ex) / 2 + uy * 30, (sy + ey) / 2 - ux * 30
        color = _COLORS.get(s["type"], "black")
        out.append(f'<path d="M {sx:.1f} {sy:.1f} Q {mx:.1f} {my:.1f} {ex:.1f} {ey:.1f}" '
                   f'fill="none" stroke="{color}" stroke-width="2" marker-end="url(#arrow)"/>')
        out.append(f'<text x="{mx:.1f}" y="{my:.1f}" fill="{color}" text-anchor="middle">'
                   f'{escape(short_step(s))}</text>')
    for i, (x, y) in zip(idx, pos):
        out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="28" fill="#fff" stroke="#000"/>')
        out.append(f'<text x="{x:.1f}" y="{y + 4:.1f}" text-anchor="middle">op {i}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
