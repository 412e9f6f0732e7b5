"""The optimiser's one request type, built from the desk config and checked once.

:meth:`OptimizeRequest.from_config` is the one way the command line, the optimiser screen and
the report build a request: the config's ``[optimizer]`` settings (with ``data.universe``,
``data.benchmark``, ``risk.rf`` and the book's current weights), each field overridable (a
flag, a form field). A request checks itself when it is made, by the rules the config loader
applies to ``[optimizer]`` (:func:`hedgedesk.core.limits.check_settings`) and those that need
the whole request; a refusal is a :class:`~hedgedesk.core.limits.SettingError` that each
caller names in its user's terms (:class:`~hedgedesk.core.limits.Naming`).

Units: weights, caps and rates are fractions (0.15 = 15 %); returns, volatilities and tracking
error annualised; ``rf`` an annual rate (CONVENTIONS); ``cost_budget`` money (USD).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from hedgedesk.core.limits import Group, SettingError, View, check_settings

if TYPE_CHECKING:
    from hedgedesk.core.config import DeskConfig
    from hedgedesk.core.data.market import MarketData


@dataclass(frozen=True)
class OptimizeRequest:
    """One optimisation: the universe, the objective, the constraints and the estimates' window.

    Checked when made (:func:`~hedgedesk.core.limits.check_settings`, plus: a beta band needs
    a benchmark, a tracking-error cap a benchmark in the universe or current weights), so a
    request that exists is one the engine can take; a refusal is a :class:`SettingError`.

    Attributes
    ----------
    tickers : tuple of str, length n_assets
        The universe, in order.
    objective : str
        One of :data:`~hedgedesk.core.limits.OBJECTIVES`.
    long_only, min_weight, max_weight : bool, float, float
        Per-asset weight bounds as fractions of NAV; a long-only book's floor is >= 0.
    groups : tuple of Group
        Limits on summed weights, fractions of NAV.
    vol_cap, te_cap : float or None
        Annualised volatility and tracking-error caps.
    net : (float, float)
        Bounds on the sum of the weights (1, 1: fully invested).
    gross_max, turnover_max : float or None
        Bounds on sum ``|w|`` (long-short books) and on sum ``|w - current|``.
    cost_rate : float
        Transaction cost per unit of turnover, charged to expected return (fraction).
    beta_band : (float, float) or None
        Portfolio beta to ``benchmark`` within [low, high] (hedge overlay: of the book).
    benchmark : str or None
        Beta and tracking-error reference.
    rf : float
        Annual risk-free rate (CONVENTIONS).
    points : int
        Frontier points.
    shrinkage : str or None
        None (sample covariance) or ``"ledoit-wolf"``.
    risk_aversion, confidence, kelly_fraction : float
        Utility's lambda; mean-CVaR's (and the overlay's CVaR) confidence; Kelly's fraction.
    budgets, prior : tuple of (ticker, float)
        Risk-parity budgets (equal when empty); Black-Litterman prior weights (equal when
        empty).
    views : tuple of View
        Black-Litterman views (none: the sample mean).
    tau : float
        Black-Litterman prior uncertainty, in (0, 1].
    target_return : float or None
        Mean-CVaR: the least CVaR with at least this annualised expected return.
    overlay_objective : str
        Hedge overlay: ``"variance"`` or ``"cvar"`` of the book's daily P&L.
    cost_budget : float or None
        Hedge overlay: most money (USD) spent on trading costs.
    overlay_free_signs : bool
        Hedge overlay: let every leg take either side (default False: each leg keeps its
        purpose and sign, a protective put stays long, a covered call short and covered).
    start, end : datetime.date or None
        The estimation window (None: all the data).
    current : dict of str to float
        Current weights (fractions of NAV) for turnover, costs and tracking error.
    """

    tickers: tuple[str, ...]
    objective: str
    long_only: bool = True
    min_weight: float = 0.0
    max_weight: float = 1.0
    groups: tuple[Group, ...] = ()
    vol_cap: float | None = None
    net: tuple[float, float] = (1.0, 1.0)
    gross_max: float | None = None
    turnover_max: float | None = None
    cost_rate: float = 0.0
    beta_band: tuple[float, float] | None = None
    te_cap: float | None = None
    benchmark: str | None = None
    rf: float = 0.0
    points: int = 20
    shrinkage: str | None = None
    risk_aversion: float = 4.0
    confidence: float = 0.95
    kelly_fraction: float = 0.5
    budgets: tuple[tuple[str, float], ...] = ()
    views: tuple[View, ...] = ()
    tau: float = 0.05
    prior: tuple[tuple[str, float], ...] = ()
    target_return: float | None = None
    overlay_objective: str = "variance"
    cost_budget: float | None = None
    overlay_free_signs: bool = False
    start: dt.date | None = None
    end: dt.date | None = None
    current: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Refuse a request the engine cannot take (see the class docstring)."""
        check_settings({f.name: getattr(self, f.name) for f in fields(self)})
        if self.objective == "hedge-overlay":  # sizes the config's hedge legs: no universe
            return
        if self.beta_band is not None and self.benchmark is None:
            raise SettingError(
                "beta_band",
                self.beta_band,
                "a benchmark to measure beta against ({0})",
                ("benchmark",),
            )
        if self.te_cap is not None and self.benchmark not in self.tickers and not self.current:
            raise SettingError(
                "te_cap",
                self.te_cap,
                "a benchmark in the universe ({0}) or current weights from the config book",
                ("benchmark",),
            )

    @classmethod
    def from_config(
        cls,
        cfg: DeskConfig | None,
        market: MarketData,
        start: dt.date | None = None,
        end: dt.date | None = None,
        **overrides: Any,
    ) -> OptimizeRequest:
        """The request ``hedgedesk optimize`` makes: the config's settings, each field in
        ``overrides`` (request field names) in place of the config's.

        Parameters
        ----------
        cfg : DeskConfig or None
            The desk config: ``[optimizer]``, ``data.universe`` (else the book's holdings),
            ``data.benchmark``, ``risk.rf`` and the book's current weights at the last
            close of ``market``. None: the request's own defaults (files without a config).
        market : MarketData
            Prices for the book's current weights.
        start, end : datetime.date or None
            The estimation window.
        **overrides
            Request fields to set instead. Switching the book's side (``long_only``) without
            a ``min_weight`` takes that side's floor (0 long-only, -1 long-short) and drops
            the config's gross limit, which belonged to the other side.

        Returns
        -------
        OptimizeRequest
            Checked; a field out of range raises :class:`SettingError` naming the field.
        """
        unknown = sorted(set(overrides) - _FIELDS)
        if unknown:
            raise TypeError(f"not fields of OptimizeRequest: {', '.join(unknown)}")
        values: dict[str, Any] = {"start": start, "end": end}
        if cfg is not None:
            o = cfg.optimizer
            values.update(
                tickers=cfg.data.universe or tuple(h.ticker for h in cfg.book.holdings),
                objective=o.objective,
                long_only=o.long_only,
                min_weight=o.min_weight,
                max_weight=o.max_weight,
                groups=o.groups,
                vol_cap=o.vol_cap,
                net=o.net,
                gross_max=o.gross_max,
                turnover_max=o.turnover_max,
                cost_rate=o.cost_rate,
                beta_band=o.beta_band,
                te_cap=o.te_cap,
                benchmark=cfg.data.benchmark,
                rf=cfg.risk.rf,
                points=o.points,
                shrinkage=o.shrinkage,
                risk_aversion=o.risk_aversion,
                confidence=o.cvar_confidence,
                kelly_fraction=o.kelly_fraction,
                budgets=o.budgets,
                tau=o.tau,
                prior=o.prior,
            )
            if "current" not in overrides:
                values["current"] = book_weights(cfg, market)
        side = overrides.get("long_only")
        if side is not None and side != values.get("long_only", True):
            values.update(min_weight=0.0 if side else -1.0, gross_max=None)
        values.update(overrides)
        values.setdefault("objective", "max-sharpe")
        return cls(**values)


_FIELDS = frozenset(f.name for f in fields(OptimizeRequest))


def book_weights(cfg: DeskConfig, market: MarketData) -> dict[str, float]:
    """The config book's holdings as weights of their total value at the last common close.

    Returns
    -------
    dict of str to float
        Ticker to weight, fractions summing to 1 (empty without holdings or value).
    """
    tickers = [h.ticker for h in cfg.book.holdings]
    if not tickers:
        return {}
    last = market.aligned_prices(tickers, cfg.data.start, cfg.data.end).iloc[-1]
    values = {h.ticker: h.quantity * float(last[h.ticker]) for h in cfg.book.holdings}
    total = sum(values.values())
    return {t: v / total for t, v in values.items()} if total else {}
