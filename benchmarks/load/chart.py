"""A line chart for the figures a load run prints (one x axis, several named series), drawn by
matplotlib as a PNG: plain numbers on both axes (no offsets, no scientific notation), their units
in the labels."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: files only

import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter, MaxNLocator


def plain(value: float, _position: object = None) -> str:
    """A tick's label as a person writes it: 4800, 1200, 0.5 - never 4.8e+03."""
    return f"{value:,.0f}" if abs(value) >= 10 or value == int(value) else f"{value:g}"


def line_chart(
    path: Path,
    title: str,
    x_label: str,
    y_label: str,
    xs: list[float],
    series: dict[str, list[float]],
    bound: float | None = None,
) -> Path:
    """Writes the chart to path (PNG); `bound` draws a dashed horizontal line (e.g. the knee's
    limit)."""
    figure, axes = plt.subplots(figsize=(9, 4.5), dpi=100)
    for name, values in series.items():
        axes.plot(xs, values, marker="o", label=name)
    if bound is not None:
        axes.axhline(bound, linestyle="--", color="grey", label=f"bound {plain(bound)} {y_label}")
    axes.set_title(title)
    axes.set_xlabel(x_label)
    axes.set_ylabel(y_label)
    axes.set_ylim(bottom=0)
    for axis in (axes.xaxis, axes.yaxis):
        axis.set_major_formatter(FuncFormatter(plain))
        axis.set_major_locator(MaxNLocator(nbins=8))
    axes.set_xticks(xs)
    axes.grid(True, alpha=0.3)
    axes.legend(loc="upper left")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path
