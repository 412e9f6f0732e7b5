"""Reports for a risk committee: the book, the optimisation, sweep runs and a backtest, written
as ``report.md`` with PNG charts, ``report.pdf`` and ``report.json``.

``build_report`` assembles the sections from the engine (nothing here recomputes a figure the
engine already gives); ``write_report`` renders them. The CLI's ``hedgedesk report`` and the
desk's report key both come through here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hedgedesk.core.config import DeskConfig
from hedgedesk.core.data.market import MarketData
from hedgedesk.core.errors import HedgedeskError
from hedgedesk.core.report.document import Col, Report, Section, Table
from hedgedesk.core.report.provenance import code_version, data_fingerprint, file_digest
from hedgedesk.core.report.render import write_report

if TYPE_CHECKING:  # the optimiser and the ledger load only with the parts that need them
    from hedgedesk.core.optimize.engine import OptimizeRequest
    from hedgedesk.core.sweep.ledger import Ledger, RunRecord

__all__ = ["REPORT_PARTS", "ReportRequest", "build_report", "parse_what", "write_report"]

REPORT_PARTS = ("book", "optimize", "sweep:RUN", "backtest")


@dataclass(frozen=True)
class ReportRequest:
    """What to report. ``what``: parts in order ("book", "optimize", "sweep:<run>",
    "backtest"). ``optimize``: the OptimizeRequest to solve (the CLI's, or the optimiser
    screen's); ``backtest``: run_backtest's parameters; ``shocks``: what-if price shocks on the
    book; ``nav``: the NAV the book's sizing and trade list are for (None: the book's own).
    """

    what: tuple[str, ...]
    optimize: OptimizeRequest | None = None
    backtest: dict[str, Any] | None = None
    nav: float | None = None
    shocks: dict[str, float] | None = None


def parse_what(text: str) -> tuple[str, ...]:
    """``book,optimize,sweep:RUN,backtest`` as a tuple; HedgedeskError names a bad part."""
    parts = tuple(p.strip() for p in text.split(",") if p.strip())
    if not parts:
        raise HedgedeskError(
            f"--what: nothing to report; expected some of {', '.join(REPORT_PARTS)}"
        )
    for p in parts:
        if p.startswith("sweep"):
            if not p.startswith("sweep:") or not p[len("sweep:") :]:
                raise HedgedeskError(
                    f"--what: {p!r}: name the run, e.g. sweep:last or sweep:20261122-101500-ab12"
                )
        elif p not in REPORT_PARTS:
            raise HedgedeskError(
                f"--what: unknown part {p!r}; expected some of {', '.join(REPORT_PARTS)}"
            )
    twice = sorted({p for p in parts if parts.count(p) > 1})
    if twice:
        raise HedgedeskError(f"--what: listed twice: {', '.join(twice)}")
    return parts


def _conventions(cfg: DeskConfig, market: MarketData | None) -> list[str]:
    """The book's conventions at its data's frequency (the benchmark's: CONVENTIONS' N)."""
    from hedgedesk.core.data.calendar import period_words

    r = cfg.risk
    n = market.periods_per_year([cfg.data.benchmark]) if market is not None else 252
    often, one = period_words(n)
    daily = often == "daily"
    return [
        f"Returns are {often} simple returns P[t]/P[t-1] - 1 on the dates every series shares "
        "(inner join, never forward-filled).",
        f"Annualisation: returns x{n} (arithmetic means) or geometric over the span, volatility "
        f"x sqrt({n})" + ("; 365 for a book of crypto alone." if daily else "."),
        f"Sharpe = mean(R - rf_{one[0]}) / std(R) x sqrt({n}), rf {r.rf:.2%} a year compounded "
        f"to a {often} rate; Sortino uses the downside deviation.",
        f"VaR and CVaR: 1-{one} losses as positive fractions of NAV; historical (quantile with "
        f"linear interpolation) at {r.var_confidence:.0%} over {r.var_window} {one}s unless "
        "stated, parametric = normal.",
        f"Beta: OLS slope of {often} returns on the benchmark ({cfg.data.benchmark}) over "
        f"{r.beta_window} returns; the book's beta is the sum of beta-dollars / NAV.",
        "Greeks in dollars: delta-adjusted notional, gamma per 1 % move, vega per volatility "
        "point, theta per calendar day.",
    ]


def _sweep_conventions(runs: list[RunRecord]) -> list[str]:
    rates = ", ".join(f"{rec.id} {float(rec.params.get('rf', 0.0)):.2%}" for rec in runs)
    return [
        "Sweep runs: the CONVENTIONS dynamic-beta backtest per configuration on daily simple "
        "returns on the dates each leg and its hedge share (never forward-filled); returns, "
        "drawdowns and costs as fractions; annual figures with each leg's periods per year "
        "(252; 365 for crypto alone); max drawdown <= 0 on the equity curve from 1.",
        f"Sweep Sharpe net of each run's own risk-free rate ({rates}); score as CONVENTIONS "
        "'Sweep scoring', ranked under the costliest scenario; PBO by CSCV.",
    ]


def run_title(rec: RunRecord) -> str:
    """A sweep run as a report's title names it: its id, legs and hedge, the span of its legs'
    daily returns (else the dates it asked for) and its data (the ``--data`` files or folders
    it ran on, else its desk config's data with the run's data fingerprint).

    Parameters
    ----------
    rec : RunRecord
        The run as the ledger holds it.

    Returns
    -------
    str
        e.g. ``sweep run 20261207-0412: AAPL, MSFT hedged with SP500, 2021-01-05..2023-12-29,
        data mag7, etf``.
    """
    grid = rec.params.get("grid", {})
    legs = ", ".join(grid.get("legs", [])) or "no legs"
    hedge = grid.get("hedge") or "?"
    summary = rec.summary
    if summary is not None and summary.legs:
        first = min(leg.first_return for leg in summary.legs)
        last = max(leg.last_return for leg in summary.legs)
        span = f"{first}..{last}"
    else:
        span = f"{rec.params.get('start') or 'first'}..{rec.params.get('end') or 'last'}"
    paths = rec.params.get("data") or []
    data = (
        ", ".join(Path(p).name for p in paths)
        if paths
        else f"its desk config's (fingerprint {rec.fingerprint[:12]})"
    )
    return f"sweep run {rec.id}: {legs} hedged with {hedge}, {span}, data {data}"


def _tickers_of(cfg: DeskConfig, req: ReportRequest) -> set[str]:
    """Every ticker the report's figures may read: the config's, the optimiser's universe and
    the backtest's legs.
    """
    from hedgedesk.core.config import referenced_tickers

    tickers = {t for _, t in referenced_tickers(cfg)}
    if req.optimize is not None:
        tickers |= set(req.optimize.tickers)
    if req.backtest is not None:
        tickers |= {*req.backtest["long"], req.backtest["hedge"]}
    return tickers


def build_report(
    cfg: DeskConfig,
    market: MarketData | None,
    req: ReportRequest,
    ledger: Ledger | None = None,
    now: dt.datetime | None = None,
) -> Report:
    """The report's sections in ``req.what`` order.

    Parameters
    ----------
    cfg : DeskConfig
        The desk's configuration: the book, its targets and the data range.
    market : MarketData or None
        The market data; None only for a report of sweep runs alone.
    req : ReportRequest
        The parts to report and their inputs.
    ledger : Ledger or None
        The sweep run ledger, needed for ``sweep:RUN`` parts.
    now : datetime or None
        The generation time printed in the parameters (default: now, UTC).

    Returns
    -------
    Report
        The parameters table, the sections and the conventions they follow.
    """
    sections: list[Section] = []
    runs: list[RunRecord] = []  # the sweep runs reported, for the parameter table
    for part in req.what:
        if part.startswith("sweep:"):
            from hedgedesk.core.report.sweep import sweep_section

            if ledger is None:
                raise HedgedeskError(f"report {part}: no run ledger to read")
            rec = ledger.get(part[len("sweep:") :])
            if any(r.id == rec.id for r in runs):  # e.g. sweep:last and the same run's id
                raise HedgedeskError(f"--what: run {rec.id} is named twice")
            # a run that kept no table: the section says what is left out; one whose table
            # was kept but is gone is an error, not a report with the charts silently missing
            table = ledger.per_config(rec.id) if rec.parquet is not None else None
            sections.append(sweep_section(rec, table))
            runs.append(rec)
        elif market is None:
            raise HedgedeskError(f"report {part}: needs market data")
        elif part == "book":
            from hedgedesk.core.report.book import book_section

            sections.append(book_section(cfg, market, req.nav, req.shocks))
        elif part == "optimize":
            from hedgedesk.core.report.optimize import optimize_section

            if req.optimize is None:
                raise HedgedeskError("report optimize: no optimisation request given")
            sections.append(optimize_section(req.optimize, market, cfg, req.nav))
        elif part == "backtest":
            from hedgedesk.core.report.backtest import backtest_section

            if req.backtest is None:
                raise HedgedeskError("report backtest: no backtest parameters given")
            sections.append(backtest_section(market, req.backtest))
        else:
            raise HedgedeskError(
                f"report: unknown part {part!r}; expected some of {', '.join(REPORT_PARTS)}"
            )
    when = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M:%S UTC")
    rows = [
        ["generated", when],
        ["code version", code_version()],
        ["config", str(cfg.path)],
        ["config sha256", file_digest(cfg.path) if Path(cfg.path).is_file() else "–"],
    ]
    from_book = any(not p.startswith("sweep:") for p in req.what)
    if from_book:  # a report of sweep runs alone reports no book: each run names its data
        rows.append(["book", cfg.book.name])
    rows.append(["parts", ", ".join(req.what)])
    if market is not None:
        d = cfg.data
        tickers = _tickers_of(cfg, req) & set(market.tickers)
        bench = market.aligned_prices([d.benchmark], d.start, d.end).index
        rows += [
            ["data source", d.source],
            ["data range", f"{bench[0].date()}..{bench[-1].date()} ({d.benchmark})"],
            ["data fingerprint", data_fingerprint(market, tickers, d.start, d.end)],
        ]
    for rec in runs:
        rows += [
            [f"sweep run {rec.id}", f"data fingerprint {rec.fingerprint}, code {rec.code_version}"]
        ]
    if req.nav:
        rows.append(["sizing NAV", f"{req.nav:,.0f}"])
    if req.shocks:
        rows.append(["what-if shocks", ", ".join(f"{k} {v:+.2%}" for k, v in req.shocks.items())])
    params = Table("parameters", [Col("parameter"), Col("value")], rows)
    # the title names what the figures came from: the config's book, else (sweep runs alone,
    # whose data need not be the config's) each run by its legs, hedge, span and data
    named = [cfg.book.name] if from_book else [run_title(rec) for rec in runs]
    title = "hedgedesk report: " + "; ".join(named)
    conventions = (_conventions(cfg, market) if from_book else []) + (
        _sweep_conventions(runs) if runs else []
    )
    return Report(title, params, sections, conventions)
