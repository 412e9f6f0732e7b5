"""The desk's configuration (``config.toml``): data, book, targets, optimiser and sweep grid.

Loaded once and validated; every error names the file, the key, the value and what was
expected. The user config is :func:`hedgedesk.core.paths.user_config_file` unless
``--config`` or ``$HEDGEDESK_CONFIG`` names one; with none of these the built-in demo desk is
used.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import math
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, overload

from hedgedesk.core.bounds import (
    DATE_SPAN,
    MAX_CASH,
    MAX_MULTIPLIER,
    MAX_PRICE,
    MAX_QUANTITY,
    MIN_PRICE,
    sensible,
)
from hedgedesk.core.errors import ConfigError
from hedgedesk.core.files import CONFIG_MAX_BYTES, read_regular
from hedgedesk.core.instruments import (
    CONTRACTS,
    FUTURE,
    FX,
    FX_FUTURES,
    INVERSE,
    KINDS,
    OPTION,
    OPTION_MULTIPLIER,
)
from hedgedesk.core.levels import MAX_LEVELS as MAX_AXIS_VALUES
from hedgedesk.core.levels import LevelsError, parse_range
from hedgedesk.core.limits import (
    CONFIG_KEYS,
    RANGES,
    Group,
    SettingError,
    View,
    check_settings,
)
from hedgedesk.core.paths import user_config_file

SOURCES = ("demo", "files", "yahoo", "demo-multi-asset")
MIN_REFRESH = 10.0  # seconds: live polling faster than this only annoys Yahoo
ESTIMATORS = ("ols", "ewma")


@dataclass(frozen=True)
class DataConfig:
    """``[data]``: where prices come from, the date range read and the benchmark.

    ``start``/``end`` clip every computation (CONVENTIONS, "Returns and annualisation");
    ``end`` is the as-of date. None means the data's own first or last date.
    """

    source: str  # demo | files | yahoo | demo-multi-asset
    paths: tuple[Path, ...]  # with source = files; resolved against the config's folder
    tickers: tuple[str, ...]  # with source = yahoo: what to download
    start: dt.date | None
    end: dt.date | None
    benchmark: str
    universe: tuple[str, ...]
    refresh: float = 0.0  # seconds between live Yahoo polls on the desk (0: off)
    resample: str = ""  # "" | weekly | monthly: last observation of each period (CONVENTIONS)
    yields: dict[str, float] = field(default_factory=dict)  # ticker -> maturity in years
    # option-chain CSV files (hedgedesk.core.data.option_chains), resolved like ``paths``
    option_chains: tuple[Path, ...] = ()
    chain_tickers: dict[str, str] = field(default_factory=dict)  # chain underlying -> ticker


@dataclass(frozen=True)
class RiskConfig:
    """``[risk]``: the rates, windows and confidence the book's risk figures use.

    Rates are annual fractions (0.04 = 4 %); windows count daily returns.
    """

    rf: float  # annual risk-free rate for Sharpe/Sortino (CONVENTIONS)
    rate: float  # continuously compounded rate for option pricing
    beta_window: int  # returns in the OLS window for beta monitors
    var_confidence: float
    var_window: int  # daily scenarios in historical VaR and the book's risk history


@dataclass(frozen=True)
class Targets:
    """``[targets]``: the desk's limits and the hedging plan's targets, as fractions
    (0.15 = 15 %) except beta, a plain ratio.
    """

    beta: float
    beta_band: float  # alert when |beta - target| exceeds this
    volatility: float  # annualised
    var_limit: float  # 1-day VaR as a fraction of NAV
    max_drawdown: float  # positive fraction
    hedge_future: str  # contract the trade list sizes the beta hedge in
    put_coverage: float  # share of the core's value protected by puts (plan: 20-30 %)
    call_coverage: float  # share of the core's value written as covered calls (plan: 10-20 %)
    # auto: the core's largest holding when it is at least half the core, else the benchmark;
    # largest: always the largest holding; benchmark: always the benchmark index
    put_underlying: str = "auto"
    kelly_fraction: float = 0.5  # share of full Kelly the sizing plan suggests, in (0, 1]
    leverage_alert: float = 2.0  # suggested leverage (multiple of NAV) above this is extreme


PUT_UNDERLYINGS = ("auto", "largest", "benchmark")
SLEEVE_BUCKETS = ("crypto", "commodities", "fx", "volatility", "sectors")


@dataclass(frozen=True)
class Sleeve:
    """A ``[[plan.sleeves]]`` row: a futures sleeve the trade list sizes to a share of NAV
    (``weight``, a signed fraction: -0.02 = short 2 % of NAV) or to a USD notional (``usd``,
    signed); exactly one of the two is set.
    """

    name: str
    bucket: str  # one of SLEEVE_BUCKETS: the risk-parity bucket it belongs to
    contract: str  # futures code; priced from a book leg trading it or from [proxies]
    weight: float | None = None
    usd: float | None = None


@dataclass(frozen=True)
class PlanConfig:
    """``[plan]``: the multi-asset sleeves beside the core and its hedges (none when absent)."""

    sleeves: tuple[Sleeve, ...] = ()


@dataclass(frozen=True)
class Proxy:
    """How to price an instrument the data has no series for: ``scale`` x close(underlying),
    or ``scale`` / close(underlying) with ``invert`` (a CME currency future from a rate quoted
    per USD, CONVENTIONS "Yields and FX").
    """

    underlying: str
    scale: float = 1.0
    invert: bool = False

    @property
    def series(self) -> str:
        """The series the price is read from: the underlying, or ``1/underlying`` inverted."""
        return INVERSE + self.underlying if self.invert else self.underlying


@dataclass(frozen=True)
class Scenario:
    """A joint shock. Each instrument moves by its own shock if ``shocks`` names its underlying,
    else by its beta times ``market``; ``replay`` instead takes each underlying's actual
    return between two dates. ``vol`` is added to every option's implied volatility
    (parallel, annual fraction: 0.05 = 5 vol points); ``skew`` adds ``skew x k`` more, ``k =
    ln(K / F)`` the option's log-moneyness (annual vol per unit of log-moneyness: -0.5 adds
    5.3 vol points to a put struck 10 % below the forward).
    """

    name: str
    market: float = 0.0
    vol: float = 0.0
    shocks: tuple[tuple[str, float], ...] = ()
    replay: tuple[dt.date, dt.date] | None = None
    description: str = ""
    skew: float = 0.0


@dataclass(frozen=True)
class Holding:
    """A ``[[book.holdings]]`` row: a stock or ETF position held long (or short)."""

    ticker: str
    quantity: float  # shares; negative for a short
    cost_basis: float | None  # per share, for P&L


@dataclass(frozen=True)
class HedgeLeg:
    """A ``[[book.hedges]]`` row: a future, option, equity, crypto or FX leg.

    Option terms (``right``, ``strike``, ``expiry``, ``volatility``, ``model``) are set on
    option legs only; ``strike`` in the underlying's price unit, ``volatility`` and
    ``dividend_yield`` annual fractions (0.2 = 20 %). ``invert`` (fx legs and CME currency
    futures only) prices the leg from 1 / close(underlying): a rate quoted per USD (USD/JPY)
    turned into USD per unit of the foreign currency (CONVENTIONS, "Yields and FX").
    """

    name: str
    instrument: str  # one of hedgedesk.core.instruments.KINDS
    underlying: str  # ticker whose price drives this leg (the leg's own for equity/crypto/fx)
    quantity: float  # contracts for futures/options, else units; negative = short
    multiplier: float
    contract: str | None = None  # futures code (ES, NQ, ...)
    right: str | None = None  # call | put
    strike: float | None = None
    expiry: dt.date | None = None
    volatility: float | None = None  # implied vol to price with; modelled, not a quote
    dividend_yield: float = 0.0
    model: str | None = None  # bsm | black76 (options on futures)
    purpose: str = ""
    price_scale: float = 1.0  # proxy: the leg's underlying price is scale x close(underlying)
    invert: bool = False  # priced from 1 / close(underlying) (a rate quoted the other way)

    @property
    def series(self) -> str:
        """The series the leg is priced from: the underlying, or ``1/underlying`` inverted."""
        return INVERSE + self.underlying if self.invert else self.underlying


@dataclass(frozen=True)
class Book:
    """``[book]``: cash (USD), the holdings and the hedge legs."""

    name: str
    cash: float
    holdings: tuple[Holding, ...]
    hedges: tuple[HedgeLeg, ...]

    def inverted(self) -> list[str]:
        """The underlyings the legs price inverted (``invert = true``), once each."""
        return list(dict.fromkeys(leg.underlying for leg in self.hedges if leg.invert))


@dataclass(frozen=True)
class OptimizerConfig:
    """The ``[optimizer]`` table as loaded and checked (by the optimiser request's own rules,
    :func:`hedgedesk.core.limits.check_settings`). Weights, caps and rates are
    fractions, volatility and tracking error annualised.
    """

    long_only: bool
    min_weight: float
    max_weight: float
    vol_cap: float | None
    points: int
    groups: tuple[Group, ...]
    objective: str = "max-sharpe"
    net: tuple[float, float] = (1.0, 1.0)  # sum of weights between these
    gross_max: float | None = None  # long/short: sum of |w| at most this
    turnover_max: float | None = None  # against the book's current weights
    cost_rate: float = 0.0  # per unit of turnover, charged to expected return
    beta_band: tuple[float, float] | None = None  # portfolio beta to the benchmark
    te_cap: float | None = None  # annualised tracking error to the benchmark
    shrinkage: str | None = None  # None (sample) or "ledoit-wolf"
    risk_aversion: float = 4.0  # quadratic utility
    cvar_confidence: float = 0.95
    kelly_fraction: float = 0.5
    budgets: tuple[tuple[str, float], ...] = ()  # risk budgets; equal when empty
    views: tuple[View, ...] = ()  # Black-Litterman
    tau: float = 0.05
    prior: tuple[tuple[str, float], ...] = ()  # benchmark weights for the BL prior; equal if ()


@dataclass(frozen=True)
class SweepGrid:
    """The config's ``[sweep]`` table as loaded: TOML types checked, ranges expanded.

    A plain record of what the file says; the sweep's request is built from it by
    ``hedgedesk.core.sweep.request.SweepRequest.from_config``, which validates the grid as a
    whole and names these keys in its errors.
    """

    long: tuple[str, ...]
    hedge: str
    rebalance: tuple[int, ...]
    window: tuple[int, ...]
    estimator: tuple[str, ...]
    ewma_halflife: tuple[float, ...]
    exposure: tuple[float, ...]
    hedge_ratio: tuple[float, ...]
    drift_band: tuple[float, ...]
    cost: tuple[float, ...]  # scenarios applied to every configuration, never optimised
    impact: tuple[float, ...]  # square-root-law eta levels, also scenarios
    score: dict  # ScoreTargets fields given in [sweep.score] (validated by ScoreTargets)
    keep: str = "best"  # best: the top K, marginals and a PBO sample; all: every configuration
    # [sweep.limits] given: configurations, seconds, memory_gb, disk_gb (each > 0), the
    # fields of hedgedesk.core.sweep.plan.PlanLimits; a run's plan above one asks for --yes
    limits: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ClusterConfig:
    """Where sweeps run when no --cluster is given: a Dask scheduler address (tcp://, tls://)
    or local:N, and the TLS files a tls:// address needs (resolved against the config's
    folder).
    """

    address: str
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None


@dataclass(frozen=True)
class DeskConfig:
    """The whole validated configuration, one frozen value per ``config.toml`` section."""

    path: Path
    data: DataConfig
    risk: RiskConfig
    targets: Targets
    book: Book
    optimizer: OptimizerConfig
    sweep: SweepGrid | None  # None when the config has no [sweep] table
    proxies: dict[str, Proxy]  # instrument code -> how to price it
    scenarios: tuple[Scenario, ...]
    cluster: ClusterConfig | None = None  # None: sweeps run on this machine
    plan: PlanConfig = PlanConfig()  # [plan] sleeves; none when the table is absent

    def inverted(self) -> list[str]:
        """The series priced inverted, by a leg or a ``[proxies]`` entry, once each: the
        loader adds ``1/T`` for each.
        """
        proxied = [p.underlying for p in self.proxies.values() if p.invert]
        return list(dict.fromkeys([*self.book.inverted(), *proxied]))


# -- locating ----------------------------------------------------------------------------------
def user_config_path() -> Path:
    """The user config file (hedgedesk.core.paths.user_config_file); it may not exist."""
    return user_config_file()


def resolve_config_path(explicit: str | None = None) -> Path:
    """--config, else $HEDGEDESK_CONFIG, else the XDG user config if present, else the demo.

    ``demo:multi-asset`` (as --config or $HEDGEDESK_CONFIG) names the built-in multi-asset
    desk's config (hedgedesk.core.demo.DEMO_CONFIGS).
    """
    from hedgedesk.core.demo import demo_config_path, named_demo_config

    for given in (explicit, os.environ.get("HEDGEDESK_CONFIG")):
        if given:
            return named_demo_config(given) or Path(given).expanduser()
    user = user_config_path()
    if user.exists():
        return user
    return demo_config_path()


# -- validation helpers ------------------------------------------------------------------------
class _Missing:
    """The type of ``_MISSING``: a key with no default is required."""


_MISSING = _Missing()


class _Table:
    """Typed access to one TOML table; errors carry the dotted key path."""

    def __init__(self, file: str, prefix: str, raw: Any, allowed: tuple[str, ...]):
        self.file, self.prefix = file, prefix
        if not isinstance(raw, dict):
            raise ConfigError(file, prefix or "(top level)", f"got {_show(raw)}, expected a table")
        self.raw = raw
        for key in raw:
            if key not in allowed:
                hint = difflib.get_close_matches(key, allowed, n=1)
                extra = (
                    f"; did you mean {hint[0]!r}?"
                    if hint
                    else f"; known keys: {', '.join(allowed)}"
                )
                raise ConfigError(file, self.key(key), f"unknown key{extra}")

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def fail(self, name: str, value: Any, expected: str) -> ConfigError:
        return ConfigError(self.file, self.key(name), f"got {_show(value)}, expected {expected}")

    def get(self, name: str, default: Any = _MISSING) -> Any:
        if name in self.raw:
            return self.raw[name]
        if default is _MISSING:
            raise ConfigError(self.file, self.key(name), "missing required key")
        return default

    def table(self, name: str, allowed: tuple[str, ...]) -> _Table:
        return _Table(self.file, self.key(name), self.raw.get(name, {}), allowed)

    def tables(self, name: str, allowed: tuple[str, ...]) -> list[_Table]:
        value = self.raw.get(name, [])
        if not isinstance(value, list):
            raise self.fail(name, value, f"an array of tables ([[{self.key(name)}]])")
        return [
            _Table(self.file, f"{self.key(name)}[{i}]", v, allowed) for i, v in enumerate(value)
        ]

    @overload
    def text(
        self, name: str, default: str | _Missing = ..., choices: tuple[str, ...] | None = None
    ) -> str: ...

    @overload
    def text(
        self, name: str, default: None, choices: tuple[str, ...] | None = None
    ) -> str | None: ...

    def text(
        self,
        name: str,
        default: str | _Missing | None = _MISSING,
        choices: tuple[str, ...] | None = None,
    ) -> str | None:
        value = self.get(name, default)
        if value is None:
            return value
        if not isinstance(value, str):
            raise self.fail(name, value, "a string")
        if choices and value not in choices:
            raise self.fail(name, value, "one of " + ", ".join(choices))
        return value

    def ticker(self, name: str, default: str | _Missing = _MISSING) -> str:
        value = self.text(name, default)
        if not value.strip():
            raise self.fail(name, value, "a ticker symbol")
        return value

    @overload
    def number(
        self,
        name: str,
        default: float | _Missing = ...,
        lo: float | None = None,
        hi: float | None = None,
        lo_open: bool = False,
        nonzero: bool = False,
    ) -> float: ...

    @overload
    def number(
        self,
        name: str,
        default: None,
        lo: float | None = None,
        hi: float | None = None,
        lo_open: bool = False,
        nonzero: bool = False,
    ) -> float | None: ...

    def number(
        self,
        name: str,
        default: float | _Missing | None = _MISSING,
        lo: float | None = None,
        hi: float | None = None,
        lo_open: bool = False,
        nonzero: bool = False,
    ) -> float | None:
        value = self.get(name, default)
        if value is None:
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(name, value, "a number")
        _check_range(self, name, value, lo, hi, lo_open)
        if nonzero and value == 0:
            raise self.fail(name, value, "a non-zero number")
        return float(value)

    def integer(self, name, default=_MISSING, lo: int | None = None) -> int:
        value = self.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(name, value, "a whole number")
        _check_range(self, name, value, lo, None, False)
        return value

    def flag(self, name, default=_MISSING) -> bool:
        value = self.get(name, default)
        if not isinstance(value, bool):
            raise self.fail(name, value, "true or false")
        return value

    @overload
    def date(self, name: str) -> dt.date: ...

    @overload
    def date(self, name: str, default: None) -> dt.date | None: ...

    def date(self, name: str, default: _Missing | None = _MISSING) -> dt.date | None:
        """A date; an optional one (``default`` None) may be left empty (``""``)."""
        value = self.get(name, default)
        if default is None and (value is None or value == ""):
            return None
        day = None
        if isinstance(value, dt.datetime):
            day = value.date()
        elif isinstance(value, dt.date):
            day = value
        elif isinstance(value, str):
            with contextlib.suppress(ValueError):
                day = dt.date.fromisoformat(value)
        if day is None:
            raise self.fail(name, value, "a date YYYY-MM-DD")
        if not sensible(day):
            raise self.fail(name, value, f"a date {DATE_SPAN}")
        return day

    def strings(
        self, name, default=_MISSING, choices=None, nonempty=False, distinct=False
    ) -> tuple[str, ...]:
        value = self.get(name, default)
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(name, value, "an array of strings")
        if nonempty and not value:
            raise self.fail(name, value, "a non-empty array")
        for v in value:
            if choices and v not in choices:
                raise self.fail(name, v, "each one of " + ", ".join(choices))
        if distinct:
            self._distinct(name, value)
        return tuple(value)

    def _distinct(self, name, values) -> None:
        """A grid axis lists each value once (the sweep refuses repeats, naming its flag)."""
        seen = set()
        for v in values:
            if v in seen:
                raise self.fail(name, v, "each value once (it is listed twice)")
            seen.add(v)

    def numbers(
        self, name, default=_MISSING, lo=None, hi=None, lo_open=False, integer=False, distinct=False
    ) -> tuple:
        """An array of numbers, or a ``"start:stop:count"`` string for evenly spaced values."""
        value = self.get(name, default)
        kind = "whole numbers" if integer else "numbers"
        expected = f"a non-empty array of {kind}" + (
            ""
            if integer
            else f" or 'start:stop:count' (count 1..{MAX_AXIS_VALUES}, 1 only when start = stop)"
        )
        if isinstance(value, str) and not integer:
            try:
                value = list(parse_range(value))
            except LevelsError:
                raise self.fail(name, value, expected) from None
        if not isinstance(value, list) or not value or len(value) > MAX_AXIS_VALUES:
            raise self.fail(name, value, expected)
        for v in value:
            ok = isinstance(v, int) if integer else isinstance(v, int | float)
            if isinstance(v, bool) or not ok:
                raise self.fail(name, v, f"each of {kind}")
            _check_range(self, name, v, lo, hi, lo_open)
        if distinct:
            self._distinct(name, [v if integer else float(v) for v in value])
        return tuple(v if integer else float(v) for v in value)


def _check_range(t: _Table, name, value, lo, hi, lo_open):
    if not math.isfinite(value):
        raise t.fail(name, value, "a finite number")
    if lo is not None and (value <= lo if lo_open else value < lo):
        raise t.fail(name, value, f"a number {'>' if lo_open else '>='} {lo:g}")
    if hi is not None and value > hi:
        raise t.fail(name, value, f"a number <= {hi:g}")


def _show(value: Any) -> str:
    return repr(value) if not isinstance(value, dict) else "a table"


# -- sections ------------------------------------------------------------------------------
def _data(t: _Table, base: Path) -> DataConfig:
    source = t.text("source", "demo", SOURCES)
    paths = tuple(
        (base / p).resolve() if not Path(p).expanduser().is_absolute() else Path(p).expanduser()
        for p in t.strings("paths", [])
    )
    if source == "files" and not paths:
        raise t.fail("paths", [], 'at least one file or folder when source = "files"')
    tickers = t.strings("tickers", [])
    if source == "yahoo" and not tickers:
        raise t.fail("tickers", [], 'the tickers to download when source = "yahoo"')
    start, end = t.date("start", None), t.date("end", None)
    if start and end and start > end:
        raise t.fail("end", end.isoformat(), f"a date on or after start ({start})")
    refresh = t.number("refresh", 0.0, lo=0.0)
    if 0 < refresh < MIN_REFRESH:
        raise t.fail("refresh", refresh, f"0 (off) or at least {MIN_REFRESH:g} seconds")
    resample = t.text("resample", "")
    if resample and resample not in RESAMPLE_CHOICES:
        raise t.fail("resample", resample, "weekly or monthly (or no key: no resampling)")
    y = t.table("yields", _keys(t.raw, "yields"))
    for ticker in y.raw:
        if not ticker.strip():
            raise y.fail(ticker, ticker, "a ticker symbol as the key")
    chains = tuple(
        (base / p).resolve() if not Path(p).expanduser().is_absolute() else Path(p).expanduser()
        for p in t.strings("option_chains", [])
    )
    ct = t.table("chain_tickers", _keys(t.raw, "chain_tickers"))
    return DataConfig(
        source,
        paths,
        tickers,
        start,
        end,
        t.ticker("benchmark"),
        t.strings("universe", []),
        refresh,
        resample,
        {k: y.number(k, lo=0, hi=MAX_MATURITY, lo_open=True) for k in y.raw},
        chains,
        {k: ct.ticker(k) for k in ct.raw},
    )


RESAMPLE_CHOICES = ("weekly", "monthly")
MAX_MATURITY = 100.0  # years: a yield series' constant maturity


def _risk(t: _Table) -> RiskConfig:
    return RiskConfig(
        rf=t.number("rf", 0.0, lo=RANGES["rf"].lo, hi=RANGES["rf"].hi),  # the optimiser's rule
        rate=t.number("rate", 0.0, lo=-0.5, hi=1.0),
        beta_window=t.integer("beta_window", 252, lo=3),
        var_confidence=t.number("var_confidence", 0.95, lo=0.5, hi=0.9999),
        var_window=t.integer("var_window", 504, lo=20),
    )


def _targets(t: _Table) -> Targets:
    return Targets(
        beta=t.number("beta", lo=-5, hi=5),
        beta_band=t.number("beta_band", 0.05, lo=0, lo_open=True),
        volatility=t.number("volatility", 0.15, lo=0, lo_open=True),
        var_limit=t.number("var_limit", 0.02, lo=0, hi=1, lo_open=True),
        max_drawdown=t.number("max_drawdown", 0.10, lo=0, hi=1, lo_open=True),
        hedge_future=t.text("hedge_future", "ES", tuple(CONTRACTS)),
        put_coverage=t.number("put_coverage", 0.25, lo=0, hi=1.5),
        call_coverage=t.number("call_coverage", 0.15, lo=0, hi=1.5),
        put_underlying=t.text("put_underlying", "auto", PUT_UNDERLYINGS),
        kelly_fraction=t.number("kelly_fraction", 0.5, lo=0, hi=1, lo_open=True),
        leverage_alert=t.number("leverage_alert", 2.0, lo=0, hi=100, lo_open=True),
    )


def _plan(t: _Table) -> PlanConfig:
    sleeves = []
    for s in t.tables("sleeves", ("name", "bucket", "contract", "weight", "usd")):
        contract = s.ticker("contract")
        weight = s.number("weight", None, lo=-1, hi=1, nonzero=True)
        usd = s.number("usd", None, lo=-MAX_CASH, hi=MAX_CASH, nonzero=True)
        if (weight is None) == (usd is None):
            raise s.fail(
                "weight", weight, "exactly one of weight (fraction of NAV) or usd per sleeve"
            )
        sleeves.append(
            Sleeve(
                s.text("name", contract),
                s.text("bucket", choices=SLEEVE_BUCKETS),
                contract,
                weight,
                usd,
            )
        )
    return PlanConfig(tuple(sleeves))


def _keys(raw: dict, name: str) -> tuple[str, ...]:
    """The keys of a table whose keys are the user's (tickers, contract codes); () when it is
    missing or not a table (``_Table.table`` then says what was expected).
    """
    value = raw.get(name)
    return tuple(value) if isinstance(value, dict) else ()


def _proxies(t: _Table) -> dict[str, Proxy]:
    out = {}
    for code in t.raw:
        p = t.table(code, ("underlying", "scale", "invert"))
        invert = p.flag("invert", False)
        if invert and code not in FX_FUTURES:
            raise p.fail(
                "invert", invert, "invert only on a currency future (" + ", ".join(FX_FUTURES) + ")"
            )
        out[code] = Proxy(
            p.ticker("underlying"), p.number("scale", 1.0, lo=0, lo_open=True), invert
        )
    return out


# Used when a config names no scenarios: the plan's market crashes and a volatility spike.
DEFAULT_SCENARIOS = (
    Scenario("Market crash -20%", market=-0.20, vol=0.10),
    Scenario("Market crash -30%", market=-0.30, vol=0.20),
    Scenario("Market crash -40%", market=-0.40, vol=0.30),
    Scenario("Volatility spike", market=-0.10, vol=0.20),
)


def _scenario(t: _Table) -> Scenario:
    shocks_t = t.table("shocks", _keys(t.raw, "shocks"))
    shocks = tuple((k, shocks_t.number(k, lo=-1.0)) for k in shocks_t.raw)
    replay = None
    if "replay" in t.raw:
        value = t.raw["replay"]
        if not (isinstance(value, list) and len(value) == 2):
            raise t.fail("replay", value, 'two dates ["YYYY-MM-DD", "YYYY-MM-DD"]')
        pair = _Table(
            t.file, t.key("replay"), {"start": value[0], "end": value[1]}, ("start", "end")
        )
        start, end = pair.date("start"), pair.date("end")
        if start >= end:
            raise t.fail("replay", value, "a start date before the end date")
        replay = (start, end)
    return Scenario(
        name=t.text("name"),
        market=t.number("market", 0.0, lo=-1.0, hi=10.0),
        vol=t.number("vol", 0.0, lo=-1.0, hi=5.0),
        shocks=shocks,
        replay=replay,
        description=t.text("description", ""),
        skew=t.number("skew", 0.0, lo=-5.0, hi=5.0),
    )


_LEG_KEYS = (
    "name",
    "instrument",
    "underlying",
    "quantity",
    "multiplier",
    "contract",
    "right",
    "strike",
    "expiry",
    "volatility",
    "dividend_yield",
    "model",
    "purpose",
    "price_scale",
    "invert",
)


def _leg(t: _Table, index: int) -> HedgeLeg:
    kind = t.text("instrument", choices=KINDS)
    contract = t.text("contract", None)
    if kind == FUTURE:
        if contract is None and "multiplier" not in t.raw:
            raise t.fail(
                "contract",
                None,
                "a futures code (" + ", ".join(CONTRACTS) + ") or an explicit multiplier",
            )
        if contract is not None and contract not in CONTRACTS:
            raise t.fail("contract", contract, "one of " + ", ".join(CONTRACTS))
    elif contract is not None:
        raise t.fail("contract", contract, "no contract code on a non-futures leg")
    default_mult = (
        CONTRACTS[contract].multiplier if contract else OPTION_MULTIPLIER if kind == OPTION else 1.0
    )
    quantity = t.number("quantity", lo=-MAX_QUANTITY, hi=MAX_QUANTITY, nonzero=True)
    if kind in (FUTURE, OPTION) and quantity != int(quantity):
        raise t.fail("quantity", quantity, "a whole number of contracts")
    option_keys = ("right", "strike", "expiry", "volatility", "model")
    right: str | None
    strike: float | None
    expiry: dt.date | None
    vol: float | None
    model: str | None
    if kind == OPTION:
        right = t.text("right", choices=("call", "put"))
        strike = t.number("strike", lo=MIN_PRICE, hi=MAX_PRICE)
        expiry = t.date("expiry")
        # no volatility: priced from the option-chain surface ([data] option_chains)
        vol = t.number("volatility", None, lo=0, hi=5, lo_open=True)
        model = t.text("model", "bsm", ("bsm", "black76"))
        if model == "black76" and "multiplier" not in t.raw:  # no listed-option default here
            raise t.fail(
                "multiplier",
                None,
                "the futures option's multiplier (e.g. 20 for NQ, "
                '50 for ES) when model = "black76"',
            )
    else:
        for k in option_keys:
            if k in t.raw:
                raise t.fail(k, t.raw[k], f"no option terms on a {kind} leg")
        right = strike = expiry = vol = model = None
    underlying = t.ticker("underlying")
    invert = t.flag("invert", False)
    if invert and kind != FX and contract not in FX_FUTURES:
        raise t.fail(
            "invert",
            invert,
            "invert only on an fx leg or a currency future (" + ", ".join(FX_FUTURES) + ")",
        )
    return HedgeLeg(
        name=t.text("name", f"{kind} {underlying} #{index + 1}"),
        instrument=kind,
        underlying=underlying,
        quantity=quantity,
        # a contract's own size may pass the generic bound (6J: 12,500,000 JPY)
        multiplier=t.number(
            "multiplier", default_mult, lo=0, hi=max(MAX_MULTIPLIER, default_mult), lo_open=True
        ),
        contract=contract,
        right=right,
        strike=strike,
        expiry=expiry,
        volatility=vol,
        dividend_yield=t.number("dividend_yield", 0.0, lo=-1, hi=1),
        model=model,
        purpose=t.text("purpose", ""),
        price_scale=t.number("price_scale", 1.0, lo=0, lo_open=True),
        invert=invert,
    )


def _book(t: _Table) -> Book:
    holdings = []
    for h in t.tables("holdings", ("ticker", "quantity", "cost_basis")):
        holdings.append(
            Holding(
                h.ticker("ticker"),
                h.number("quantity", lo=-MAX_QUANTITY, hi=MAX_QUANTITY, nonzero=True),
                h.number("cost_basis", None, lo=0, hi=MAX_PRICE, lo_open=True),
            )
        )
    seen: set[str] = set()
    for i, holding in enumerate(holdings):
        if holding.ticker in seen:
            raise ConfigError(
                t.file,
                f"book.holdings[{i}].ticker",
                f"got {holding.ticker!r}, expected each ticker once (merge the rows)",
            )
        seen.add(holding.ticker)
    hedges = tuple(_leg(x, i) for i, x in enumerate(t.tables("hedges", _LEG_KEYS)))
    names = set(seen)
    for i, leg in enumerate(hedges):  # results are reported by name: each must be unique
        if leg.name in names:
            raise ConfigError(
                t.file,
                f"book.hedges[{i}].name",
                f"got {leg.name!r}, expected a name no other holding or hedge leg has",
            )
        names.add(leg.name)
    return Book(
        t.text("name", "book"),
        t.number("cash", 0.0, lo=-MAX_CASH, hi=MAX_CASH),
        tuple(holdings),
        hedges,
    )


def _optimizer(t: _Table) -> OptimizerConfig:
    """The ``[optimizer]`` table: TOML types here, values by the request's rules, so that the
    config, the flags and the optimiser screen accept and refuse alike.
    """
    groups = tuple(
        Group(
            g.text("name"),
            g.strings("tickers", nonempty=True),
            g.number("min", 0.0),
            g.number("max", 1.0),
        )
        for g in t.tables("groups", ("name", "tickers", "min", "max"))
    )
    views = []
    for v in t.tables("views", ("assets", "weights", "view", "confidence")):
        assets = v.strings("assets", nonempty=True)
        views.append(
            View(
                assets,
                v.numbers("weights", [1.0] * len(assets)),
                v.number("view"),
                v.number("confidence"),
            )
        )
    band = t.numbers("beta_band", None) if "beta_band" in t.raw else None
    budgets_t = t.table("budgets", _keys(t.raw, "budgets"))
    prior_t = t.table("prior", _keys(t.raw, "prior"))
    o = OptimizerConfig(
        t.flag("long_only", True),
        t.number("min_weight", 0.0),
        t.number("max_weight", 1.0),
        t.number("vol_cap", None),
        t.integer("points", 20),
        groups,
        objective=t.text("objective", "max-sharpe"),
        net=tuple(t.numbers("net", [1.0, 1.0])),
        gross_max=t.number("gross_max", None),
        turnover_max=t.number("turnover_max", None),
        cost_rate=t.number("cost_rate", 0.0),
        beta_band=tuple(band) if band is not None else None,
        te_cap=t.number("te_cap", None),
        shrinkage=t.text("shrinkage", None),
        risk_aversion=t.number("risk_aversion", 4.0),
        cvar_confidence=t.number("cvar_confidence", 0.95),
        kelly_fraction=t.number("kelly_fraction", 0.5),
        budgets=tuple((k, budgets_t.number(k)) for k in budgets_t.raw),
        views=tuple(views),
        tau=t.number("tau", 0.05),
        prior=tuple((k, prior_t.number(k)) for k in prior_t.raw),
    )
    settings = {f.name: getattr(o, f.name) for f in fields(o)}
    settings["confidence"] = settings.pop("cvar_confidence")
    try:
        check_settings(settings)
    except SettingError as err:
        keys = CONFIG_KEYS.within("optimizer.")
        raise t.fail(keys.of(err.path), err.value, err.expected_in(keys)) from None
    return o


def _sweep(t: _Table) -> SweepGrid:
    """The ``[sweep]`` table: each axis an array, or a ``"start:stop:count"`` string for the
    fractional axes, each value once and in range.
    """
    return SweepGrid(
        long=t.strings("long", nonempty=True, distinct=True),
        hedge=t.ticker("hedge"),
        rebalance=t.numbers("rebalance", [1, 5, 21], lo=1, integer=True, distinct=True),
        window=t.numbers("window", [20, 60, 120], lo=2, integer=True, distinct=True),
        estimator=t.strings("estimator", ["ols"], choices=ESTIMATORS, nonempty=True, distinct=True),
        ewma_halflife=t.numbers("ewma_halflife", [20.0], lo=0, lo_open=True, distinct=True),
        exposure=t.numbers("exposure", [1.0], lo=0, lo_open=True, distinct=True),
        hedge_ratio=t.numbers("hedge_ratio", [1.0], lo=0, distinct=True),
        drift_band=t.numbers("drift_band", [0.0], lo=0, distinct=True),
        cost=t.numbers("cost", [0.0], lo=0, hi=0.1, distinct=True),
        impact=t.numbers("impact", [0.0], lo=0, distinct=True),
        score=_score(t.table("score", SCORE_KEYS)),
        keep=t.text("keep", "best", choices=("best", "all")),
        limits=_sweep_limits(t.table("limits", SWEEP_LIMIT_KEYS)),
    )


SWEEP_LIMIT_KEYS = ("configurations", "seconds", "memory_gb", "disk_gb")


def _sweep_limits(t: _Table) -> dict:
    """``[sweep.limits]``: the plan's limits given, each a positive finite number."""
    return {k: t.number(k, lo=0, lo_open=True) for k in SWEEP_LIMIT_KEYS if k in t.raw}


SCORE_KEYS = (
    "volatility",
    "sharpe",
    "annual_return",
    "max_drawdown",
    "consistency",
    "w_sharpe",
    "w_return",
    "w_drawdown",
    "w_consistency",
    "s_sharpe",
    "s_return",
    "s_drawdown",
    "s_consistency",
)


def _score(t: _Table) -> dict:
    """Sweep score targets, weights and logistic scales; each a finite number."""
    return {k: t.number(k) for k in SCORE_KEYS if k in t.raw}


_TOP = (
    "data",
    "risk",
    "targets",
    "book",
    "optimizer",
    "sweep",
    "proxies",
    "scenarios",
    "cluster",
    "plan",
)


def address_kind(address: str) -> str | None:
    """The scheme of a well-formed sweep cluster address, else None.

    Parameters
    ----------
    address : str
        ``local:N`` (N >= 1 worker processes on this machine), ``tcp://host:port`` or
        ``tls://host:port``.

    Returns
    -------
    str or None
        ``"local"``, ``"tcp"`` or ``"tls"``; None for anything else. The config's
        ``[cluster]`` table and the command line's ``--cluster`` check addresses with this one
        rule (``hedgedesk.core.sweep.cluster`` uses it).
    """
    if address.startswith("local:"):
        n = address[len("local:") :]
        return "local" if n.isdigit() and int(n) >= 1 else None
    scheme = address.split("://", 1)[0] if "://" in address else ""
    return scheme if scheme in ("tcp", "tls") else None


def _cluster(t: _Table, base: Path) -> ClusterConfig:
    address = t.text("address")
    kind = address_kind(address)
    if kind is None:
        raise t.fail("address", address, "tcp://host:port, tls://host:port or local:N")

    def path(name: str) -> Path | None:
        text = t.text(name, "")
        if not text:
            return None
        p = Path(text).expanduser()
        return p if p.is_absolute() else (base / p).resolve()

    files = {n: path(n) for n in ("tls_ca", "tls_cert", "tls_key")}
    if kind == "tls":
        for name, p in files.items():
            if p is None:
                raise t.fail(
                    name, "", "a PEM file: a tls:// address needs tls_ca, tls_cert and tls_key"
                )
    return ClusterConfig(address, **files)


def parse_config(text: str, path: Path) -> DeskConfig:
    """Validate TOML text as a desk config; relative data paths resolve from its folder."""
    file = str(path)
    try:
        raw = tomllib.loads(text.removeprefix("\ufeff"))  # a byte-order mark some editors write
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(file, "(syntax)", f"not valid TOML: {exc}") from None
    top = _Table(file, "", raw, _TOP)
    for section in ("data", "targets", "book"):
        top.get(section)
    return DeskConfig(
        path=path,
        data=_data(
            top.table(
                "data",
                (
                    "source",
                    "paths",
                    "tickers",
                    "start",
                    "end",
                    "benchmark",
                    "universe",
                    "refresh",
                    "resample",
                    "yields",
                    "option_chains",
                    "chain_tickers",
                ),
            ),
            path.parent,
        ),
        risk=_risk(
            top.table("risk", ("rf", "rate", "beta_window", "var_confidence", "var_window"))
        ),
        targets=_targets(
            top.table(
                "targets",
                (
                    "beta",
                    "beta_band",
                    "volatility",
                    "var_limit",
                    "max_drawdown",
                    "hedge_future",
                    "put_coverage",
                    "call_coverage",
                    "put_underlying",
                    "kelly_fraction",
                    "leverage_alert",
                ),
            )
        ),
        book=_book(top.table("book", ("name", "cash", "holdings", "hedges"))),
        optimizer=_optimizer(
            top.table(
                "optimizer",
                (
                    "long_only",
                    "min_weight",
                    "max_weight",
                    "vol_cap",
                    "points",
                    "groups",
                    "objective",
                    "net",
                    "gross_max",
                    "turnover_max",
                    "cost_rate",
                    "beta_band",
                    "te_cap",
                    "shrinkage",
                    "risk_aversion",
                    "cvar_confidence",
                    "kelly_fraction",
                    "budgets",
                    "views",
                    "tau",
                    "prior",
                ),
            )
        ),
        sweep=_sweep(
            top.table(
                "sweep",
                (
                    "long",
                    "hedge",
                    "rebalance",
                    "window",
                    "estimator",
                    "ewma_halflife",
                    "exposure",
                    "hedge_ratio",
                    "drift_band",
                    "cost",
                    "impact",
                    "score",
                    "keep",
                    "limits",
                ),
            )
        )
        if "sweep" in raw
        else None,
        proxies=_proxies(top.table("proxies", _keys(raw, "proxies"))),
        scenarios=tuple(
            _scenario(s)
            for s in top.tables(
                "scenarios",
                ("name", "market", "vol", "skew", "shocks", "replay", "description"),
            )
        )
        or DEFAULT_SCENARIOS,
        cluster=_cluster(
            top.table("cluster", ("address", "tls_ca", "tls_cert", "tls_key")), path.parent
        )
        if "cluster" in raw
        else None,
        plan=_plan(top.table("plan", ("sleeves",))),
    )


def load_config(path: str | Path) -> DeskConfig:
    """Read and validate a config file; ConfigError names the file (and key) when it cannot."""
    p = Path(path).expanduser()
    raw = read_regular(p, CONFIG_MAX_BYTES, lambda message: ConfigError(str(p), "(file)", message))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(str(p), "(file)", f"not UTF-8 text (byte {exc.start})") from None
    return parse_config(text, p)


def referenced_tickers(cfg: DeskConfig) -> list[tuple[str, str]]:
    """(config key, ticker) for every ticker the config names, to check against the data."""
    refs = [("data.benchmark", cfg.data.benchmark)]
    refs += [(f"data.universe[{i}]", t) for i, t in enumerate(cfg.data.universe)]
    refs += [(f"book.holdings[{i}].ticker", h.ticker) for i, h in enumerate(cfg.book.holdings)]
    refs += [(f"book.hedges[{i}].underlying", h.underlying) for i, h in enumerate(cfg.book.hedges)]
    refs += [
        (f"optimizer.groups[{i}].tickers", t)
        for i, g in enumerate(cfg.optimizer.groups)
        for t in g.tickers
    ]
    refs += [
        (f"optimizer.views[{i}].assets", t)
        for i, v in enumerate(cfg.optimizer.views)
        for t in v.assets
    ]
    refs += [(f"optimizer.budgets.{t}", t) for t, _ in cfg.optimizer.budgets]
    refs += [(f"optimizer.prior.{t}", t) for t, _ in cfg.optimizer.prior]
    refs += [(f"proxies.{code}.underlying", p.underlying) for code, p in cfg.proxies.items()]
    refs += [
        (f"scenarios[{i}].shocks.{t}", t) for i, s in enumerate(cfg.scenarios) for t, _ in s.shocks
    ]
    if cfg.sweep:
        refs += [(f"sweep.long[{i}]", t) for i, t in enumerate(cfg.sweep.long)]
        refs.append(("sweep.hedge", cfg.sweep.hedge))
    return refs


def check_tickers(cfg: DeskConfig, tickers: set[str], have: str | None = None) -> None:
    """Raise ConfigError for the first ticker the config names that is not in ``tickers``;
    ``have`` describes what the data holds, for the message (default: all of ``tickers``).
    """
    have = have or ", ".join(sorted(tickers))
    for key, t in referenced_tickers(cfg):
        if t not in tickers:
            raise ConfigError(
                str(cfg.path), key, f"got {t!r}, expected a ticker in the market data ({have})"
            )
