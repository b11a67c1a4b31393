"""A line chart as a self-contained HTML page (inline SVG, no libraries), for the figures a load
run prints: one x axis, several named series."""

from __future__ import annotations

import html
from pathlib import Path

WIDTH, HEIGHT, PAD = 720, 360, 56
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd")


def element(name: str, text: str = "", **attributes: object) -> str:
    attrs = " ".join(
        f'{key.rstrip("_").replace("_", "-")}="{value}"' for key, value in attributes.items()
    )
    return f"<{name} {attrs}>{html.escape(text)}</{name}>"


def line_chart(
    path: Path,
    title: str,
    x_label: str,
    y_label: str,
    xs: list[float],
    series: dict[str, list[float]],
    bound: float | None = None,
) -> Path:
    """Writes the chart to path; `bound` draws a dashed horizontal line (e.g. the knee's limit)."""
    top = max([v for values in series.values() for v in values] + [bound or 0, 1e-9]) * 1.1
    left, right = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    bottom, end = HEIGHT - PAD, WIDTH - PAD

    def px(x: float) -> float:
        return round(PAD + (x - left) / (right - left) * (end - PAD), 1)

    def py(y: float) -> float:
        return round(bottom - y / top * (bottom - PAD), 1)

    parts = [
        element("line", x1=PAD, y1=bottom, x2=end, y2=bottom, stroke="#000"),
        element("line", x1=PAD, y1=PAD, x2=PAD, y2=bottom, stroke="#000"),
        element("text", x_label, x=WIDTH / 2, y=HEIGHT - 12, text_anchor="middle"),
        element(
            "text",
            y_label,
            x=14,
            y=HEIGHT / 2,
            text_anchor="middle",
            transform=f"rotate(-90 14 {HEIGHT / 2})",
        ),
    ]
    parts += [
        element("text", f"{x:g}", x=px(x), y=bottom + 16, text_anchor="middle", font_size=11)
        for x in xs
    ]
    parts += [
        element(
            "text",
            f"{top / 1.1 * s / 4:.3g}",
            x=PAD - 6,
            y=py(top / 1.1 * s / 4) + 4,
            text_anchor="end",
            font_size=11,
        )
        for s in range(5)
    ]
    if bound is not None:
        parts.append(
            element(
                "line",
                x1=PAD,
                y1=py(bound),
                x2=end,
                y2=py(bound),
                stroke="#888",
                stroke_dasharray="6 4",
            )
        )
    for number, (name, values) in enumerate(series.items()):
        colour = COLOURS[number % len(COLOURS)]
        points = " ".join(f"{px(x)},{py(y)}" for x, y in zip(xs, values, strict=True))
        parts.append(element("polyline", fill="none", stroke=colour, stroke_width=2, points=points))
        parts.append(
            element("text", name, x=PAD + 8, y=PAD + 16 * number, fill=colour, font_size=12)
        )
    svg = f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}">'
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title>"
        f"<h3>{html.escape(title)}</h3>{svg}{''.join(parts)}</svg>\n"
    )
    return path
