"""A sweep run's report, after the sweep study: the leaderboard with deflated Sharpe and PBO,
parameter heat maps, and the results under each cost scenario. Everything comes from the run
ledger, so a report of a run needs no market data: heat maps and scenario statistics from the
per-configuration table where the run kept one (``--keep all``: medians, every configuration),
else from the summary's streamed figures (each leg's heat map and the scenarios' means, over
canonical configurations).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from hedgedesk.core.report import charts
from hedgedesk.core.report.document import Chart, Col, Section, Table, Text
from hedgedesk.core.sweep import kernel as K
from hedgedesk.core.sweep.ledger import RunRecord, RunStatus
from hedgedesk.core.sweep.results import (
    HeatMap,
    LegSummary,
    ScenarioStats,
    Strategy,
    StrategyRow,
)

TOP_SCENARIO_ROWS = 5  # leaders shown under every cost scenario
HEAT_PAIRS = (("window", "rebalance"), ("hedge_ratio", "exposure"))


def _estimator(r: Strategy) -> str:
    return r.estimator if r.halflife is None else f"ewma hl={r.halflife:g}"


def _leaderboard(top: tuple[StrategyRow, ...]) -> Table:
    rows = [
        [
            i,
            r.ticker,
            r.rebalance,
            r.window,
            _estimator(r),
            r.exposure,
            r.hedge_ratio,
            r.drift_band,
            r.score,
            r.sharpe,
            r.annual_return,
            r.max_drawdown,
            r.hedge_effectiveness,
            r.dsr,
            r.dsr_all_legs,
        ]
        for i, r in enumerate(top, 1)
    ]
    return Table(
        "leaderboard",
        [
            Col("#", "int"),
            Col("ticker"),
            Col("P", "int"),
            Col("W", "int"),
            Col("estimator"),
            Col("k", "num2"),
            Col("h", "num2"),
            Col("d", "num2"),
            Col("score", "num3"),
            Col("Sharpe", "num2"),
            Col("return", "pct1"),
            Col("max DD", "pct1"),
            Col("hedge eff.", "num2"),
            Col("DSR", "num2"),
            Col("DSR all", "num2"),
        ],
        rows,
        caption="Leaderboard (ranked by target score under the costliest scenario)",
        note="P rebalance period (days), W beta window, k exposure, h hedge ratio, d drift "
        "band; DSR: deflated Sharpe with the leg's trials, DSR all: with every leg's",
    )


def _pbo(legs: tuple[LegSummary, ...]) -> Table:
    rows = []
    for leg in legs:
        p = leg.pbo
        rows.append(
            [
                leg.ticker,
                leg.first_return,
                leg.last_return,
                leg.n_days,
                leg.trials,
                None if p is None else p.pbo,
                None if p is None else p.combinations,
                None if p is None else p.degradation,
                None if p is None else p.prob_oos_loss,
                leg.split,
            ]
        )
    return Table(
        "pbo",
        [
            Col("leg"),
            Col("first"),
            Col("last"),
            Col("days", "int"),
            Col("trials", "int"),
            Col("PBO", "num3"),
            Col("combinations", "int"),
            Col("degradation", "num3"),
            Col("P(OOS loss)", "num3"),
            Col("walk-forward split"),
        ],
        rows,
        caption="Probability of backtest overfitting by leg (CSCV)",
        note="PBO: share of CSCV splits whose in-sample best ranks below the "
        "out-of-sample median; degradation: OOS-on-IS Sharpe slope",
    )


def _scenario_rows(top: tuple[StrategyRow, ...]) -> Table:
    rows = [
        [i, r.ticker, sc.cost, sc.impact, sc.score, sc.sharpe, sc.annual_return, sc.max_drawdown]
        for i, r in enumerate(top[:TOP_SCENARIO_ROWS], 1)
        for sc in r.scenarios
    ]
    return Table(
        "leaders_by_scenario",
        [
            Col("#", "int"),
            Col("ticker"),
            Col("cost", "sci"),
            Col("impact", "sci"),
            Col("score", "num3"),
            Col("Sharpe", "num2"),
            Col("return", "pct1"),
            Col("max DD", "pct1"),
        ],
        rows,
        caption=f"The top {min(len(top), TOP_SCENARIO_ROWS)} under each cost scenario",
        note="cost: fraction of traded notional; impact: square-root-law coefficient",
    )


def _scenario_summary(df: pd.DataFrame, target_sharpe: float) -> Table:
    rows = []
    for (cost, impact), g in df.groupby(["cost", "impact"], sort=True):
        ok = g[g["status"] == K.OK]
        rows.append(
            [
                cost,
                impact,
                len(g),
                len(ok),
                ok["score"].max(),
                ok["sharpe"].median(),
                ok["annual_return"].median(),
                ok["max_drawdown"].median(),
                float((ok["sharpe"] >= target_sharpe).mean()) if len(ok) else None,
            ]
        )
    return _scenario_table(
        rows, "median", target_sharpe, "Every configuration under each cost scenario"
    )


def _scenario_table(
    rows: list, stat: str, target_sharpe: float, caption: str, note: str = ""
) -> Table:
    """The cost scenarios' table: counts, best score, ``stat`` (median or mean) figures."""
    return Table(
        "scenarios",
        [
            Col("cost", "sci"),
            Col("impact", "sci"),
            Col("configurations", "int"),
            Col("ok", "int"),
            Col("best score", "num3"),
            Col(f"{stat} Sharpe", "num2"),
            Col(f"{stat} return", "pct1"),
            Col(f"{stat} max DD", "pct1"),
            Col(f"share Sharpe >= {target_sharpe:g}", "pct1"),
        ],
        rows,
        caption=caption,
        note=note,
    )


def _scenario_means(stats: tuple[ScenarioStats, ...], target_sharpe: float) -> Table:
    rows = [
        [
            sc.cost,
            sc.impact,
            sc.configurations,
            sc.ok,
            sc.best_score,
            sc.mean_sharpe,
            sc.mean_annual_return,
            sc.mean_max_drawdown,
            sc.share_sharpe_at_target,
        ]
        for sc in stats
    ]
    return _scenario_table(
        rows,
        "mean",
        target_sharpe,
        "Every leg's configurations under each cost scenario (streamed means)",
        "configurations: canonical ones (identical strategies counted once); means and "
        "shares over the ok ones",
    )


def _chart_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)


def _streamed_heat(
    run_id: str, i: int, ticker: str, heat: HeatMap, cost: float, impact: float
) -> Chart:
    m = np.array(
        [[np.nan if v is None else v for v in row] for row in heat.best_score], dtype=np.float64
    )
    return Chart(
        f"sweep_{run_id}_heat_{i}_{_chart_name(ticker)}_rebalance_window",
        charts.heatmap(
            m,
            [f"{p:g}" for p in heat.rebalance],
            [f"{w:g}" for w in heat.window],
            f"{ticker}: best target score by rebalance and window",
            "target score",
        ),
        f"{ticker}: best target score over every other parameter for each (rebalance, "
        f"window), under cost {cost:g}, impact {impact:g}; a blank cell has no ok strategy",
    )


def _heat(df: pd.DataFrame, rows: str, cols: str) -> tuple[np.ndarray, list, list]:
    table = df.pivot_table(index=rows, columns=cols, values="score", aggfunc="max")
    return table.to_numpy(), [f"{v:g}" for v in table.index], [f"{v:g}" for v in table.columns]


def sweep_section(rec: RunRecord, per_config: pd.DataFrame | None) -> Section:
    """The report of one ledger run: its status, leaderboard, PBO by leg, figures under each
    cost scenario and walk-forward from its summary; heat maps and scenario statistics from
    its per-configuration table (``per_config``: a ``--keep all`` run's; medians and pairs of
    axes over every configuration), else from the summary's streamed figures (each leg's
    best score by rebalance and window; the scenarios' means), else left out, saying so.
    """
    s = Section(f"sweep:{rec.id}", f"Sweep run {rec.id}")
    summary = rec.summary
    grid = rec.params.get("grid", {})
    s.figures = {
        "run_id": rec.id,
        "status": rec.status,
        "n_configs": rec.n_configs,
        "n_done": rec.n_done,
        "fingerprint": rec.fingerprint,
        "code_version": rec.code_version,
    }
    s.add(
        Text(
            f"Status {rec.status}: {rec.n_done:,} of {rec.n_configs:,} configurations, "
            f"{rec.backend} on {rec.device}, {(rec.elapsed_s or 0):.1f} s. Legs "
            f"{', '.join(grid.get('legs', []))} hedged with {grid.get('hedge', '?')}. "
            "Daily simple returns; Sharpe annualised x sqrt(periods per year) with the "
            "run's rf; max drawdown on the daily equity curve (CONVENTIONS)."
        )
    )
    if summary is None or not summary.top:
        return s.add(
            Text("This run has no results to report yet" + (f": {rec.error}" if rec.error else "."))
        )
    rank = summary.ranking
    s.figures.update(
        ranking=rank.to_json(),
        counts=summary.counts.to_json(),
        top=[
            {
                "ticker": r.ticker,
                "row": r.row,
                "score": r.score,
                "sharpe": r.sharpe,
                "dsr": r.dsr,
                "dsr_all_legs": r.dsr_all_legs,
            }
            for r in summary.top
        ],
    )
    targets = rank.targets
    s.add(
        Text(
            f"Ranked by {rank.by}: cost {rank.cost:g}, impact {rank.impact:g}. Targets: "
            f"Sharpe {targets.sharpe}, annual return {targets.annual_return}, max drawdown "
            f"{targets.max_drawdown}, consistency {targets.consistency}."
        )
    )
    s.add(_leaderboard(summary.top), _pbo(summary.legs), _scenario_rows(summary.top))
    wf = summary.walk_forward
    if wf is not None and wf.top:
        s.add(
            Text(
                f"Walk-forward: ranked on the first {wf.fraction_in_sample:.0%} of each "
                f"leg, Spearman rank correlation of in-sample and out-of-sample scores "
                f"{wf.spearman_is_oos:.3f} over {wf.strategies:,} strategies."
            )
        )
        s.add(
            Table(
                "walk_forward",
                [
                    Col("#", "int"),
                    Col("ticker"),
                    Col("P", "int"),
                    Col("W", "int"),
                    Col("estimator"),
                    Col("k", "num2"),
                    Col("h", "num2"),
                    Col("d", "num2"),
                    Col("IS score", "num3"),
                    Col("IS Sharpe", "num2"),
                    Col("OOS score", "num3"),
                    Col("OOS Sharpe", "num2"),
                    Col("OOS return", "pct1"),
                ],
                [
                    [
                        i,
                        r.ticker,
                        r.rebalance,
                        r.window,
                        _estimator(r),
                        r.exposure,
                        r.hedge_ratio,
                        r.drift_band,
                        r.in_sample.score,
                        r.in_sample.sharpe,
                        r.oos.score,
                        r.oos.sharpe,
                        r.oos.annual_return,
                    ]
                    for i, r in enumerate(wf.top, 1)
                ],
                caption="Walk-forward: the in-sample leaders out of sample",
            )
        )
    if per_config is None:
        heats = [
            (i, leg.ticker, leg.heat)
            for i, leg in enumerate(summary.legs, 1)
            if leg.heat is not None and (len(leg.heat.rebalance) > 1 or len(leg.heat.window) > 1)
        ]
        if not summary.scenarios and not heats:
            return s.add(
                Text(
                    "The per-configuration table is not available ("
                    + (
                        "the run kept none and its summary has no heat map"
                        if rec.status == RunStatus.DONE
                        else f"the run is {rec.status}, not done"
                    )
                    + "), so heat maps and scenario statistics are left out."
                )
            )
        s.add(
            Text(
                "Heat maps and scenario statistics come from the run's streamed summary (it "
                "kept no per-configuration table; hedgedesk sweep --keep all keeps one): "
                "means, not medians, over canonical configurations (identical strategies "
                "counted once)."
            )
        )
        if summary.scenarios:
            s.add(_scenario_means(summary.scenarios, targets.sharpe))
        for i, ticker, heat in heats:
            s.add(_streamed_heat(rec.id, i, ticker, heat, rank.cost, rank.impact))
        return s
    s.add(
        Text(
            "Heat maps and scenario statistics come from the run's per-configuration table (a "
            "--keep all run): medians over every configuration."
        )
    )
    s.add(_scenario_summary(per_config, targets.sharpe))
    chosen = per_config[
        (per_config["cost"] == rank.cost)
        & (per_config["impact"] == rank.impact)
        & (per_config["status"] == K.OK)
    ]
    for rows, cols in HEAT_PAIRS:
        if chosen[rows].nunique() < 2 and chosen[cols].nunique() < 2:
            continue
        m, r_labels, c_labels = _heat(chosen, rows, cols)
        s.add(
            Chart(
                f"sweep_{rec.id}_heat_{rows}_{cols}",
                charts.heatmap(
                    m, r_labels, c_labels, f"Best target score by {rows} and {cols}", "target score"
                ),
                f"Best target score over every other parameter and leg for each ({rows}, {cols}), "
                f"under cost {rank.cost:g}, impact {rank.impact:g}",
            )
        )
    return s
