"""The report's charts, drawn with matplotlib's object API (no pyplot: no global state, safe in
the desk's worker threads, no display needed). Series are told apart by line style and marker
as well as colour, so a chart still reads when printed in black and white.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

WIDE = (9.0, 4.2)  # inches: one chart across an A4 landscape page
STYLES = (("-", None), ("--", None), (":", None), ("-.", None))
TOP_SLICES = 10  # the allocation pie: the ten largest and "others"


def _figure(size=WIDE) -> Figure:
    fig = Figure(figsize=size, dpi=120, layout="constrained")
    fig.set_facecolor("white")
    return fig


def _pct_axis(axis, decimals: int = 0) -> None:
    axis.set_major_formatter(PercentFormatter(1.0, decimals=decimals))


def curves(
    dates, series: Mapping[str, np.ndarray], title: str, ylabel: str, log: bool = False
) -> Figure:
    """Lines over dates (equity curves, growth of capital)."""
    fig = _figure()
    ax = fig.add_subplot()
    for (label, y), (style, _) in zip(series.items(), STYLES * 3, strict=False):
        ax.plot(dates, y, linestyle=style, linewidth=1.3, label=label)
    if log:
        ax.set_yscale("log")
    ax.yaxis.set_major_formatter(
        FuncFormatter(lambda v, _: f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.2f}")
    )
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return fig


def steps(
    dates,
    values: np.ndarray,
    title: str,
    ylabel: str,
    band: tuple[float, float, float] | None = None,
) -> Figure:
    """A value held between dates (beta at each rebalance), markers at each change;
    ``band`` = (target, low, high) draws the target and its band.
    """
    fig = _figure()
    ax = fig.add_subplot()
    ax.step(dates, values, where="post", linewidth=1.0, label=ylabel)
    ax.plot(dates, values, linestyle="none", marker=".", markersize=3)
    if band is not None:
        target, lo, hi = band
        ax.axhline(target, linestyle="--", linewidth=1.0, color="black", label="target")
        ax.axhspan(lo, hi, alpha=0.12, color="grey", label="band")
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return fig


def frontier(
    vols: Sequence[float],
    rets: Sequence[float],
    chosen: tuple[float, float, str],
    assets: Mapping[str, tuple[float, float]],
) -> Figure:
    """The efficient frontier (annualised volatility, return), each asset, and the chosen
    portfolio.
    """
    fig = _figure()
    ax = fig.add_subplot()
    ax.plot(
        vols,
        rets,
        linestyle="-",
        marker="o",
        markersize=3,
        linewidth=1.3,
        label="efficient frontier",
    )
    for name, (v, r) in assets.items():
        ax.plot([v], [r], linestyle="none", marker="x", color="grey")
        ax.annotate(name, (v, r), fontsize=7, xytext=(3, 2), textcoords="offset points")
    v, r, label = chosen
    ax.plot([v], [r], linestyle="none", marker="*", markersize=14, color="black", label=label)
    _pct_axis(ax.xaxis)
    _pct_axis(ax.yaxis)
    ax.set_xlabel("annualised volatility")
    ax.set_ylabel("annualised expected return")
    ax.set_title("Efficient frontier")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return fig


def allocation_pie(weights: Mapping[str, float], title: str) -> Figure:
    """Shares of the gross allocation: the TOP_SLICES largest by size and the rest as others."""
    items = sorted(((k, abs(v)) for k, v in weights.items() if abs(v) > 0), key=lambda kv: -kv[1])
    top, rest = items[:TOP_SLICES], items[TOP_SLICES:]
    labels = [k for k, _ in top] + (["others"] if rest else [])
    sizes = [v for _, v in top] + ([sum(v for _, v in rest)] if rest else [])
    fig = _figure((6.5, 4.2))
    ax = fig.add_subplot()
    hatches = ["", "//", "..", "xx", "\\\\", "oo", "--", "++", "**", "||", "OO"]
    wedges, _texts, _auto = ax.pie(
        sizes,
        labels=labels,
        autopct="%1.1f%%",
        startangle=90,
        counterclock=False,
        textprops={"fontsize": 7},
        wedgeprops={"linewidth": 0.8, "edgecolor": "white"},
    )
    for w, h in zip(wedges, hatches * 2, strict=False):
        w.set_hatch(h)
    ax.set_title(title)
    ax.axis("equal")
    return fig


def bars(
    values: Mapping[str, float],
    title: str,
    xlabel: str,
    limits: Mapping[str, tuple[float | None, float | None]] | None = None,
) -> Figure:
    """Horizontal bars of fractions (weights, allocations), with each bar's minimum and maximum
    marked where ``limits`` gives them.
    """
    names = list(values)
    fig = _figure((9.0, max(2.2, 0.32 * len(names) + 1.2)))
    ax = fig.add_subplot()
    y = np.arange(len(names))
    ax.barh(y, [values[n] for n in names], color="#4c72b0", edgecolor="black", linewidth=0.5)
    if limits:
        for i, n in enumerate(names):
            lo, hi = limits.get(n, (None, None))
            if lo is not None:
                ax.plot(
                    [lo, lo],
                    [i - 0.4, i + 0.4],
                    color="black",
                    linewidth=2.0,
                    label="minimum" if i == 0 else None,
                )
            if hi is not None:
                ax.plot(
                    [hi, hi],
                    [i - 0.4, i + 0.4],
                    color="black",
                    linewidth=1.0,
                    linestyle=":",
                    label="maximum" if i == 0 else None,
                )
        ax.legend(loc="best", fontsize=8)
    ax.set_yticks(y, names, fontsize=8)
    ax.invert_yaxis()
    _pct_axis(ax.xaxis)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    ax.axvline(0.0, color="black", linewidth=0.6)
    return fig


def top_columns(values: Mapping[str, float], title: str, n: int = TOP_SLICES) -> Figure:
    """The ``n`` largest positions by size as columns, largest first, each labelled with its
    value (the study's "top holdings" bar chart); a short position is drawn below zero, hatched.
    """
    top = sorted(values.items(), key=lambda kv: -abs(kv[1]))[:n]
    fig = _figure()
    ax = fig.add_subplot()
    x = np.arange(len(top))
    heights = [v for _, v in top]
    cols = ax.bar(x, heights, color="#55a868", edgecolor="black", linewidth=0.5)
    for col, v in zip(cols, heights, strict=True):
        if v < 0:
            col.set_hatch("//")
    ax.bar_label(cols, labels=[f"{v:.1%}" for v in heights], fontsize=7, padding=2)
    ax.set_xticks(x, [k for k, _ in top], fontsize=8, rotation=30, ha="right")
    _pct_axis(ax.yaxis)
    ax.set_ylabel("weight")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    ax.axhline(0.0, color="black", linewidth=0.6)
    ax.margins(y=0.12)  # room for the labels above the tallest column
    return fig


def heatmap(
    matrix: np.ndarray,
    rows: Sequence[str],
    cols: Sequence[str],
    title: str,
    label: str,
    fmt: str = "{:.2f}",
    diverging: bool = False,
) -> Figure:
    """A grid of values with each cell's number printed in it (readable without colour)."""
    m = np.asarray(matrix, dtype=np.float64)
    size = (min(9.0, max(5.5, 1.6 + 0.7 * len(cols))), min(6.5, max(2.6, 1.2 + 0.42 * len(rows))))
    fig = _figure(size)
    ax = fig.add_subplot()
    finite = m[np.isfinite(m)]
    if diverging:
        lim = float(np.max(np.abs(finite))) if finite.size else 1.0
        im = ax.imshow(m, cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
    else:
        im = ax.imshow(m, cmap="viridis", aspect="auto")
    fig.colorbar(im, ax=ax, label=label, shrink=0.9)
    ax.set_xticks(range(len(cols)), cols, fontsize=7, rotation=45 if len(cols) > 6 else 0)
    ax.set_yticks(range(len(rows)), rows, fontsize=7)
    mid = float(np.nanmean(finite)) if finite.size else 0.0
    small = len(rows) * len(cols) <= 400
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            if small and np.isfinite(m[i, j]):
                dark = (abs(m[i, j]) > 0.5 * lim) if diverging else m[i, j] < mid
                ax.text(
                    j,
                    i,
                    fmt.format(m[i, j]),
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="white" if dark else "black",
                )
    ax.set_title(title)
    return fig


def dashboard(
    returns: np.ndarray,
    dates,
    equity: np.ndarray,
    metrics: Sequence[tuple[str, str]],
    sizes: Mapping[str, float],
    var: float,
    cvar: float,
    title: str,
) -> Figure:
    """The risk dashboard: the daily return distribution with VaR and CVaR, cumulative
    performance, the key metrics, and position sizes.
    """
    fig = _figure((11.0, 6.6))
    fig.suptitle(title)
    grid = fig.add_gridspec(2, 2)
    ax = fig.add_subplot(grid[0, 0])
    ax.hist(returns, bins=50, color="#4c72b0", edgecolor="black", linewidth=0.3)
    ax.axvline(-var, color="black", linestyle="--", label=f"VaR {100 * var:.2f}%")
    ax.axvline(-cvar, color="black", linestyle=":", label=f"CVaR {100 * cvar:.2f}%")
    _pct_axis(ax.xaxis, 1)
    ax.set_title("daily return distribution", fontsize=9)
    ax.legend(fontsize=7)
    ax = fig.add_subplot(grid[0, 1])
    ax.plot(dates, equity - 1.0, linewidth=1.2)
    _pct_axis(ax.yaxis)
    ax.set_title("cumulative performance", fontsize=9)
    ax.grid(alpha=0.3)
    ax = fig.add_subplot(grid[1, 0])
    ax.axis("off")
    ax.set_title("key metrics", fontsize=9)
    for i, (name, value) in enumerate(metrics):
        y = 0.95 - i * 0.11
        ax.text(0.02, y, name, fontsize=8, transform=ax.transAxes, va="top")
        ax.text(
            0.98,
            y,
            value,
            fontsize=8,
            transform=ax.transAxes,
            va="top",
            ha="right",
            family="monospace",
        )
    ax = fig.add_subplot(grid[1, 1])
    top = sorted(sizes.items(), key=lambda kv: -abs(kv[1]))[:12]
    names = [k for k, _ in top]
    ax.barh(
        np.arange(len(top)), [v for _, v in top], color="#55a868", edgecolor="black", linewidth=0.4
    )
    ax.set_yticks(np.arange(len(top)), names, fontsize=7)
    ax.invert_yaxis()
    _pct_axis(ax.xaxis)
    ax.set_title("position sizes (share of NAV)", fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    return fig
