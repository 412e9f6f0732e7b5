"""The book's dollar Greeks grouped by underlying or by instrument kind, with the beta-weighted
delta to the benchmark.

Each group sums its positions' dollar Greeks (CONVENTIONS, "Options", "Dollar Greeks"): dollar
delta ``delta x S x multiplier x quantity``, gamma per 1 % ``gamma x S^2 / 100 x multiplier x
quantity``, vega per vol point ``vega / 100``, theta per day ``theta / 365``, each in USD.
The beta-weighted delta is the sum of dollar delta x the underlying's beta to the benchmark
(the positions' beta-dollars, CONVENTIONS "Beta"); divided by the benchmark's price it is the
benchmark-equivalent units (index units or shares of the benchmark with the same beta-dollars).
The groups of either grouping sum to the book's totals.
"""

from __future__ import annotations

from dataclasses import dataclass

from hedgedesk.core.book.valuation import Position, Valuation
from hedgedesk.core.errors import HedgedeskError

GROUPINGS = ("underlying", "kind")
FIELDS = ("dollar_delta", "gamma_1pct_usd", "vega_1pt_usd", "theta_1d_usd", "beta_dollars")

CONVENTIONS = {
    "dollar_delta": "sum of delta x underlying price x multiplier x quantity, USD",
    "gamma_1pct_usd": "sum of gamma x S^2 / 100 x multiplier x quantity: change of dollar "
    "delta for a +1 % move, USD",
    "vega_1pt_usd": "sum of vega / 100 x multiplier x quantity: value change for +1 "
    "volatility point, USD",
    "theta_1d_usd": "sum of theta / 365 x multiplier x quantity: value change over one "
    "calendar day, USD",
    "beta_dollars": "beta-weighted delta: sum of dollar delta x the underlying's OLS beta to "
    "the benchmark, USD; / NAV it is the portfolio beta",
    "benchmark_units": "beta-weighted delta / the benchmark's price: benchmark-equivalent "
    "units (index units, or shares of a benchmark ETF)",
    "groups": "by the priced underlying (a proxy's series, 1/T when inverted) or by "
    "instrument kind; the groups sum to the book's totals",
}


@dataclass(frozen=True)
class GreekGroup:
    """One group's dollar Greeks and beta-weighted delta, USD.

    ``beta`` is the underlying's beta to the benchmark when the group has one underlying,
    else None; ``benchmark_units`` = ``beta_dollars`` / the benchmark's price.
    """

    key: str
    lines: tuple[str, ...]
    dollar_delta: float
    gamma_1pct_usd: float
    vega_1pt_usd: float
    theta_1d_usd: float
    beta_dollars: float
    benchmark_units: float
    beta: float | None = None

    def as_dict(self) -> dict:
        """The group's figures keyed by name."""
        return {
            "key": self.key,
            "lines": list(self.lines),
            "beta": self.beta,
            **{k: getattr(self, k) for k in FIELDS},
            "benchmark_units": self.benchmark_units,
        }


@dataclass(frozen=True)
class Exposure:
    """The book's Greeks grouped ``by`` underlying or kind, and their total over the book."""

    by: str
    benchmark: str
    benchmark_price: float
    groups: tuple[GreekGroup, ...]
    total: GreekGroup

    def as_dict(self) -> dict:
        """Groups and total as plain values for JSON."""
        return {
            "by": self.by,
            "benchmark": self.benchmark,
            "benchmark_price": self.benchmark_price,
            "groups": [g.as_dict() for g in self.groups],
            "total": self.total.as_dict(),
        }


def _group(key: str, positions: list[Position], price: float, beta: float | None) -> GreekGroup:
    sums = {k: float(sum(getattr(p, k) for p in positions)) for k in FIELDS}
    return GreekGroup(
        key,
        tuple(p.line.name for p in positions),
        benchmark_units=sums["beta_dollars"] / price,
        beta=beta,
        **sums,
    )


def greeks_by(val: Valuation, by: str, benchmark_price: float) -> Exposure:
    """The valued book's dollar Greeks grouped by underlying or by instrument kind.

    Parameters
    ----------
    val : Valuation
        The valued book (its positions carry the dollar Greeks and beta-dollars).
    by : str
        ``"underlying"`` or ``"kind"``.
    benchmark_price : float
        The benchmark's close, in its price unit (> 0), for the benchmark-equivalent units.

    Returns
    -------
    Exposure
        Groups in the order their first position appears, each in USD; ``total`` over every
        position (its beta None).

    Raises
    ------
    HedgedeskError
        An unknown grouping or a benchmark price that is not positive.
    """
    if by not in GROUPINGS:
        raise HedgedeskError(f"greeks by: got {by!r}, expected one of {', '.join(GROUPINGS)}")
    if not benchmark_price > 0:
        raise HedgedeskError(f"benchmark price: got {benchmark_price!r}, expected > 0")
    groups: dict[str, list[Position]] = {}
    for p in val.positions:
        key = p.line.underlying if by == "underlying" else p.line.kind
        groups.setdefault(key, []).append(p)
    out = tuple(
        _group(k, ps, benchmark_price, ps[0].beta if by == "underlying" else None)
        for k, ps in groups.items()
    )
    total = _group("book", list(val.positions), benchmark_price, None)
    return Exposure(by, val.benchmark, benchmark_price, out, total)
