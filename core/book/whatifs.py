"""Named what-ifs stored beside the book, and the figures that compare them.

A config ``desk.toml`` keeps its what-ifs in ``desk.whatifs.toml`` in the same folder, one
``[[whatif]]`` table each::

    [[whatif]]
    name = "puts doubled"
    created = 2026-12-07T06:40:00Z        # UTC
    shocks = { market = -0.1, AAPL = -0.05 }  # what-if price moves, fractions (-0.1 = -10 %)

    [[whatif.holdings]]                   # the edited book: the config's [[book.holdings]]
    ticker = "AAPL"
    quantity = 1500

    [[whatif.hedges]]                     # and [[book.hedges]] tables, as written there
    name = "SPX put"
    ...

Every write is atomic (:func:`hedgedesk.core.atomic.write_atomic`); a file that does not parse
is refused with its name and line, and never rewritten. A what-if's book is checked by the
config loader itself when it is used (the rest of the config is the book file's own), so a
bad row is named like one in the config (``book.hedges[0].strike``).
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit

from hedgedesk.core.atomic import write_atomic
from hedgedesk.core.config import DeskConfig
from hedgedesk.core.errors import HedgedeskError
from hedgedesk.core.files import CONFIG_MAX_BYTES, read_regular

SUFFIX = ".whatifs.toml"
SAVED = "saved"  # the name of the saved book's column in a comparison
MAX_NAME = 40  # characters in a what-if's name
VAR_CONFIDENCE = 0.95  # the comparison's VaR: historical, 1-day, 95 %

CONVENTIONS = {
    "nav": "USD: cash plus market values (futures 0, settled daily), after the what-if's shocks",
    "beta": "sum of beta-dollars / NAV against the config's benchmark (CONVENTIONS, 'Beta')",
    "dollar_delta": "USD: sum of quantity x multiplier x delta x underlying price",
    "gamma_1pct_usd": "USD: change of dollar delta for a +1 % move of each underlying",
    "vega_1pt_usd": "USD: value change for +1 volatility point",
    "theta_1d_usd": "USD: value change over one calendar day",
    "var_95": "historical 1-day VaR at 95 %, a positive fraction of NAV: -quantile(R, 0.05) of "
    "today's positions repriced under each day of the [risk] window (options in full)",
    "var_95_usd": "var_95 x NAV",
    "shocks": "what-if price moves applied to today's closes: a ticker by its own shock, else by "
    "its beta x the 'market' shock; history unchanged",
    "created": "UTC",
}


@dataclass(frozen=True)
class WhatIf:
    """A named what-if: the edited book's rows as the config's TOML tables, and the shocks."""

    name: str
    created: dt.datetime  # UTC
    holdings: tuple[dict[str, Any], ...]
    hedges: tuple[dict[str, Any], ...]
    shocks: Mapping[str, float] = field(default_factory=dict)  # fractions, -0.1 = -10 %

    def as_dict(self) -> dict[str, Any]:
        """The what-if as plain data (its tables as in the file), for JSON."""
        return {
            "name": self.name,
            "created": self.created,
            "shocks": dict(self.shocks),
            "holdings": [dict(h) for h in self.holdings],
            "hedges": [dict(h) for h in self.hedges],
        }


def whatifs_path(config_path: Path) -> Path:
    """Where a config's what-ifs are kept: ``desk.toml`` -> ``desk.whatifs.toml`` beside it."""
    return config_path.with_name(config_path.stem + SUFFIX)


def check_name(name: object) -> str:
    """A what-if's name, stripped; a HedgedeskError for an empty or unprintable one."""
    text = name.strip() if isinstance(name, str) else ""
    if not text or len(text) > MAX_NAME or any(not c.isprintable() for c in text):
        raise HedgedeskError(
            f"what-if name: got {name!r}, expected 1 to {MAX_NAME} printable characters"
        )
    if text == SAVED:
        raise HedgedeskError(f"what-if name: {SAVED!r} names the saved book; choose another")
    return text


def load_whatifs(config_path: Path) -> list[WhatIf]:
    """The what-ifs beside ``config_path``, in the file's order; none when there is no file.

    A file that is not TOML, or a what-if missing its name or with a bad shock, raises a
    HedgedeskError naming the file and line; the file is left as it is.
    """
    path = whatifs_path(config_path)
    if not path.exists():
        return []

    def fail(message: str, line: int | None = None) -> HedgedeskError:
        return HedgedeskError(f"{path}{f':{line}' if line else ''}: {message}")

    raw = read_regular(path, CONFIG_MAX_BYTES, fail)
    try:
        text = raw.decode("utf-8")
        doc = tomllib.loads(text)
    except UnicodeDecodeError as exc:
        raise fail(f"not UTF-8 text (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise fail(f"not valid TOML: {exc}") from None
    unknown = sorted(set(doc) - {"whatif"})
    if unknown:
        raise fail(f"unknown key {unknown[0]!r}, expected only [[whatif]] tables")
    tables = doc.get("whatif", [])
    if not isinstance(tables, list):
        raise fail("whatif: expected [[whatif]] tables")
    lines = [n for n, x in enumerate(text.splitlines(), 1) if x.strip().startswith("[[whatif]]")]
    out: list[WhatIf] = []
    for i, table in enumerate(tables):
        line = lines[i] if i < len(lines) else None
        try:
            w = _whatif(table)
        except HedgedeskError as exc:
            raise fail(f"whatif[{i}]: {exc}", line) from None
        if any(x.name == w.name for x in out):
            raise fail(f"whatif[{i}]: name {w.name!r} appears twice", line)
        out.append(w)
    return out


def _whatif(table: object) -> WhatIf:
    if not isinstance(table, dict):
        raise HedgedeskError("expected a table")
    unknown = sorted(set(table) - {"name", "created", "shocks", "holdings", "hedges"})
    if unknown:
        raise HedgedeskError(
            f"unknown key {unknown[0]!r}, expected name, created, shocks, holdings, hedges"
        )
    name = check_name(table.get("name"))
    created = table.get("created")
    if not isinstance(created, dt.datetime):
        raise HedgedeskError(f"created: got {created!r}, expected a date-time (UTC)")
    if created.tzinfo is None:
        created = created.replace(tzinfo=dt.UTC)
    shocks = table.get("shocks", {})
    if not isinstance(shocks, dict):
        raise HedgedeskError(f"shocks: got {shocks!r}, expected a table of fractions")
    for target, value in shocks.items():
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not math.isfinite(value) or value < -1:
            raise HedgedeskError(
                f"shocks.{target}: got {value!r}, expected a fraction >= -1 (-0.1 for -10 %)"
            )
    rows = {}
    for section in ("holdings", "hedges"):
        data = table.get(section, [])
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise HedgedeskError(f"{section}: expected [[whatif.{section}]] tables")
        rows[section] = tuple(data)
    return WhatIf(
        name, created, rows["holdings"], rows["hedges"], {k: float(v) for k, v in shocks.items()}
    )


def _write(config_path: Path, whatifs: Sequence[WhatIf]) -> Path:
    from hedgedesk.core.book.edit import is_builtin_demo
    from hedgedesk.core.demo import demo_dir

    path = whatifs_path(config_path)
    # a built-in demo desk, as BookEditor.save says, or a file that lands in the demo folder
    if is_builtin_demo(config_path) or config_path.absolute().parent.resolve() == (
        demo_dir().resolve()
    ):
        raise HedgedeskError(
            f"{config_path} is a built-in demo desk: its what-ifs cannot be kept beside it; "
            "save the book as your own file first (S on the desk)"
        )
    doc = tomlkit.document()
    doc.add(tomlkit.comment(f"Named what-ifs of {config_path.name}, written by hedgedesk"))
    aot = tomlkit.aot()
    for w in whatifs:
        t = tomlkit.table()
        t["name"] = w.name
        t["created"] = w.created.astimezone(dt.UTC).replace(microsecond=0)
        shocks = tomlkit.inline_table()
        shocks.update(dict(w.shocks))
        t["shocks"] = shocks
        for section in ("holdings", "hedges"):
            rows = getattr(w, section)
            if rows:
                t[section] = [dict(r) for r in rows]
        aot.append(t)
    if whatifs:
        doc["whatif"] = aot
    text = tomlkit.dumps(doc)
    try:
        write_atomic(path, lambda tmp: tmp.write_bytes(text.encode("utf-8")))
    except OSError as exc:
        raise HedgedeskError(f"{path}: cannot write: {exc.strerror or exc}") from None
    return path


def save_whatif(config_path: Path, whatif: WhatIf, overwrite: bool = False) -> Path:
    """Add ``whatif`` to the file beside ``config_path`` (atomically); a name already there is
    refused unless ``overwrite`` (it then keeps its place). Returns the file's path.
    """
    name = check_name(whatif.name)
    whatifs = load_whatifs(config_path)
    names = [w.name for w in whatifs]
    if name in names and not overwrite:
        raise HedgedeskError(f"what-if {name!r} exists in {whatifs_path(config_path).name}")
    if name in names:
        whatifs[names.index(name)] = whatif
    else:
        whatifs.append(whatif)
    return _write(config_path, whatifs)


def delete_whatif(config_path: Path, name: str) -> Path:
    """Remove the what-if ``name`` from the file beside ``config_path`` (atomically)."""
    whatifs = load_whatifs(config_path)
    kept = [w for w in whatifs if w.name != name]
    if len(kept) == len(whatifs):
        raise HedgedeskError(_missing(config_path, name, whatifs))
    return _write(config_path, kept)


def find_whatif(config_path: Path, name: str) -> WhatIf:
    """The what-if ``name`` beside ``config_path``; a HedgedeskError listing those there."""
    whatifs = load_whatifs(config_path)
    for w in whatifs:
        if w.name == name:
            return w
    raise HedgedeskError(_missing(config_path, name, whatifs))


def _missing(config_path: Path, name: str, whatifs: Sequence[WhatIf]) -> str:
    there = ", ".join(repr(w.name) for w in whatifs) or "none"
    return f"no what-if {name!r} in {whatifs_path(config_path).name} (there: {there})"


def capture(
    name: str, tables: Mapping[str, Sequence[Mapping[str, Any]]], shocks: Mapping[str, float]
) -> WhatIf:
    """A what-if named ``name`` from a book's tables (``BookEditor.book_tables()``) and shocks,
    created now (UTC).
    """
    return WhatIf(
        check_name(name),
        dt.datetime.now(dt.UTC).replace(microsecond=0),
        tuple(dict(r) for r in tables.get("holdings", ())),
        tuple(dict(r) for r in tables.get("hedges", ())),
        dict(shocks),
    )


def whatif_config(cfg: DeskConfig, whatif: WhatIf) -> DeskConfig:
    """``cfg`` (as saved in its file) with the what-if's book, checked by the config loader; a
    bad row raises a HedgedeskError naming the what-if and the key.
    """
    from hedgedesk.core.book.edit import BookEditor

    try:
        return BookEditor(cfg).load_book(list(whatif.holdings), list(whatif.hedges))
    except HedgedeskError as exc:
        raise HedgedeskError(f"what-if {whatif.name!r}: {exc}") from None


@dataclass(frozen=True)
class Figures:
    """One column of a comparison: a book's NAV, beta, dollar Greeks and VaR, in USD unless
    named (see ``CONVENTIONS``).
    """

    name: str
    nav: float
    beta: float
    dollar_delta: float
    gamma_1pct_usd: float
    vega_1pt_usd: float
    theta_1d_usd: float
    var_95: float  # fraction of NAV, positive = a loss
    shocks: Mapping[str, float] = field(default_factory=dict)

    @property
    def var_95_usd(self) -> float:
        """The VaR in USD (``var_95 x nav``)."""
        return self.var_95 * self.nav

    def as_dict(self) -> dict[str, Any]:
        """The figures as plain data, for JSON."""
        return {
            "name": self.name,
            "nav": self.nav,
            "beta": self.beta,
            "dollar_delta": self.dollar_delta,
            "gamma_1pct_usd": self.gamma_1pct_usd,
            "vega_1pt_usd": self.vega_1pt_usd,
            "theta_1d_usd": self.theta_1d_usd,
            "var_95": self.var_95,
            "var_95_usd": self.var_95_usd,
            "shocks": dict(self.shocks),
        }


FIGURE_LABELS = {  # field -> the short label tables use
    "nav": "NAV",
    "beta": "Beta",
    "dollar_delta": "Delta $",
    "gamma_1pct_usd": "Gamma/1%",
    "vega_1pt_usd": "Vega/pt",
    "theta_1d_usd": "Theta/day",
    "var_95": "VaR 95%",
}


def book_figures(cfg: DeskConfig, market, name: str, shocks=None, state_for=None) -> Figures:
    """The figures of ``cfg``'s book under ``shocks`` on ``market``, from the engine
    (:func:`hedgedesk.core.book.risk.risk_report`). ``state_for(cfg)`` gives the prepared
    market state when the caller caches them (default: prepared here).

    Parameters
    ----------
    cfg : DeskConfig
        The config with the book to value.
    market : MarketData
        The market data.
    name : str
        The column's name.
    shocks : mapping of str to float, optional
        What-if price moves, fractions (-0.1 = -10 %) by ticker or "market".

    Returns
    -------
    Figures
        NAV and dollar Greeks in USD, beta, and the 1-day historical VaR at 95 % as a
        fraction of NAV.
    """
    from hedgedesk.core.book.check import check_book
    from hedgedesk.core.book.risk import risk_report
    from hedgedesk.core.book.valuation import market_state, shocked_state

    prepare: Callable[[DeskConfig], Any] = state_for or (lambda c: market_state(c, market))
    shocks = dict(shocks or {})
    try:
        state = prepare(cfg)
    except HedgedeskError:
        state = None  # check_book names the key the data refutes
    check_book(cfg, market, shocks, state)
    rep = risk_report(cfg, shocked_state(state if state is not None else prepare(cfg), shocks))
    val = rep.valuation
    return Figures(
        name,
        val.nav,
        val.portfolio_beta,
        val.total("dollar_delta"),
        val.total("gamma_1pct_usd"),
        val.total("vega_1pt_usd"),
        val.total("theta_1d_usd"),
        rep.var("historical", VAR_CONFIDENCE).var,
        shocks,
    )


def compare(cfg: DeskConfig, market, whatifs: Sequence[WhatIf], state_for=None) -> list[Figures]:
    """The saved book's figures (named ``"saved"``, no shocks), then each what-if's (its book
    under its shocks), all on ``market``; ``cfg`` is the config as saved in its file.
    """
    if state_for is None:  # one prepared state per state_key: most what-ifs share one
        from hedgedesk.core.book.valuation import market_state, state_key

        states: dict[tuple, Any] = {}

        def state_for(c: DeskConfig) -> Any:
            key = state_key(c)
            if key not in states:
                states[key] = market_state(c, market)
            return states[key]

    out = [book_figures(cfg, market, SAVED, state_for=state_for)]
    for w in whatifs:
        wcfg = whatif_config(cfg, w)
        try:
            out.append(book_figures(wcfg, market, w.name, w.shocks, state_for))
        except HedgedeskError as exc:
            raise HedgedeskError(f"what-if {w.name!r}: {exc}") from None
    return out
