"""What-if edits of the book: each edit yields a new validated DeskConfig, with undo and redo.

An edit is validated by the config loader itself (the edited [book] is written as TOML after
the rest of the file and parsed), so it obeys the same rules and gives the same messages as
loading the file would. ``save`` writes the book back into the config file, keeping every other
byte of the file and the comments and number formatting of the rows it kept.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import hashlib
import itertools
import json
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import tomlkit
from tomlkit.container import Container
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import AoT, Comment, Table, Trivia, Whitespace

from hedgedesk.core.atomic import write_atomic
from hedgedesk.core.config import DeskConfig, load_config, parse_config, user_config_path
from hedgedesk.core.errors import ConfigError, HedgedeskError
from hedgedesk.core.instruments import EQUITY, FUTURE, OPTION

SECTIONS = {"holding": "holdings", "hedge": "hedges"}
EDITABLE = {
    "holding": ("quantity", "cost_basis"),
    "hedge": ("quantity", "strike", "expiry", "volatility", "price_scale"),
}
LOT = 0.10  # a nudge moves shares (and other units) by this share of the position
LAST_GOOD = ".last-good"  # suffix of the copy of the book kept beside the file on each save

# ``check(cfg, shocks)`` raises when the data refutes a state (hedgedesk.core.book.check.check_book)
Check = Callable[[DeskConfig, Mapping[str, float]], object]

BOM = "\ufeff"  # a byte-order mark some editors put first: kept, not parsed


class ChangedOnDisk(HedgedeskError):
    """The config file changed since the desk loaded it: reload it or overwrite it."""


def is_builtin_demo(path: Path) -> bool:
    """Whether ``path`` is a built-in demo desk's file: either demo config (in a checkout the
    first is a link to the root's config.toml) or anything in the package's demo folder.
    """
    from hedgedesk.core.demo import demo_config_path, demo_dir

    target = Path(path).resolve()
    return target == demo_config_path().resolve() or target.is_relative_to(demo_dir().resolve())


def last_good_path(path: Path) -> Path:
    """Where the last book that loaded and valued is kept: ``config.toml.last-good``."""
    return path.with_name(path.name + LAST_GOOD)


class _Row(NamedTuple):
    id: int  # stable through edits: keys the row's layout in the file and pairs rows in changes()
    data: dict[str, Any]  # the row's TOML keys as written (never mutated: edits copy)


@dataclasses.dataclass(frozen=True)
class _State:
    holdings: tuple[_Row, ...]
    hedges: tuple[_Row, ...]
    shocks: dict[str, float]
    cfg: DeskConfig


class BookEditor:
    """The saved book, the edited one and the what-if price shocks, with undo and redo.

    Every operation returns the DeskConfig to value the desk with; bad input raises a
    ConfigError (or HedgedeskError) naming the key and leaves everything as it was. ``check``
    vets each new state against the market data too (an edit it refutes is not applied), and
    vets the book again before a save.
    """

    def __init__(self, cfg: DeskConfig, check: Check | None = None):
        self._base = cfg
        self._check = check
        self._lots: dict[int, float] = {}  # by row id: + then - returns to where it was
        self._ids = itertools.count()
        book = self._load_file(_read(cfg.path))
        rows = {
            s: tuple(_Row(next(self._ids), d) for d in book.unwrap().get(s, []))
            for s in SECTIONS.values()
        }
        state = _State(rows["holdings"], rows["hedges"], {}, cfg)
        self._layout: dict[int, tuple[Trivia, list, list]] = {}
        self._remember(book, state)
        if self._validate(state).book != cfg.book:
            raise HedgedeskError(
                f"{cfg.path}: the book in the file changed since the desk "
                "loaded it; reload the config before editing"
            )
        self._saved = self._state = state
        self._undo: list[_State] = []
        self._redo: list[_State] = []

    # -- reading ---------------------------------------------------------------------------
    @property
    def config(self) -> DeskConfig:
        """The config with the edited book: what the desk values now."""
        return self._state.cfg

    @property
    def saved_config(self) -> DeskConfig:
        """The config as last saved (or loaded): what edits are measured against."""
        return self._saved.cfg

    @property
    def shocks(self) -> dict[str, float]:
        """What-if price moves by ticker (or "market"), applied when valuing, never saved."""
        return dict(self._state.shocks)

    @property
    def can_undo(self) -> bool:
        """Whether there is a step to undo."""
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        """Whether there is an undone step to redo."""
        return bool(self._redo)

    @property
    def dirty(self) -> bool:
        """Whether the edited book differs from the saved one (shocks do not count)."""
        return self._state.cfg.book != self._saved.cfg.book

    def changes(self) -> list[str]:
        """Each difference between the saved and the edited book, in words."""
        out = []
        for kind, section in SECTIONS.items():
            saved = _by_id(self._saved, section)
            now = _by_id(self._state, section)
            out += [f"deleted {kind} {_label(x)}" for i, x in saved.items() if i not in now]
            for i, x in now.items():
                if i not in saved:
                    out.append(f"added {kind} {_label(x)}")
                    continue
                for f in dataclasses.fields(x):
                    old, new = getattr(saved[i], f.name), getattr(x, f.name)
                    if old != new:
                        out.append(f"{_label(x)} {f.name} {_fmt(old)} -> {_fmt(new)}")
        return out

    # -- book edits --------------------------------------------------------------------------
    def set_field(self, kind: str, index: int, field: str, value: Any) -> DeskConfig:
        """Set one editable value; a string is parsed (as typed in an input box), an empty one
        or None removes the key (its default applies, or the loader says it is required).
        """
        section, row = self._row(kind, index)
        key = f"book.{section}[{index}].{field}"
        if field not in EDITABLE[kind]:
            raise ConfigError(
                str(self._base.path),
                key,
                f"not editable here; a {kind} edits {', '.join(EDITABLE[kind])}",
            )
        value = self._parse(key, field, value, row.data.get(field))
        if value is None:
            data = {k: v for k, v in row.data.items() if k != field}
        else:
            data = {**row.data, field: value}  # an existing key keeps its place
        return self._replace_row(section, index, row._replace(data=data))

    def nudge(self, kind: str, index: int, step: int = 1) -> DeskConfig:
        """Move the quantity by ``step`` lots: one contract for futures and options, a tenth
        of the position in whole shares (at least 1), or of other units to one digit. A row's
        lot is fixed at its first nudge, so + then - returns to where it was.
        """
        section, row = self._row(kind, index)
        qty = row.data["quantity"]
        if row.id not in self._lots:
            if kind == "hedge" and row.data.get("instrument") in (FUTURE, OPTION):
                self._lots[row.id] = 1
            elif kind == "holding" or row.data.get("instrument") == EQUITY:
                self._lots[row.id] = max(1, round(abs(qty) * LOT))
            else:  # coins and currency units are fractional
                self._lots[row.id] = float(f"{abs(qty) * LOT or 1:.1g}")
        new = qty + step * self._lots[row.id]
        if isinstance(new, float):
            new = round(new, 12)  # no 0.55000000000000004 in the file
        return self._replace_row(section, index, row._replace(data={**row.data, "quantity": new}))

    def add_hedge(self, leg: dict[str, Any]) -> DeskConfig:
        """Append a [[book.hedges]] table: TOML keys and values as in the config file."""
        rows = (*self._state.hedges, _Row(next(self._ids), dict(leg)))
        return self._edit(hedges=rows)

    def add_holding(self, ticker: str, quantity: Any, cost_basis: Any = None) -> DeskConfig:
        """Append a [[book.holdings]] row; ``quantity`` (shares) and ``cost_basis`` (USD per
        share, optional) as typed in an input box or as numbers.
        """
        key = f"book.holdings[{len(self._state.holdings)}]"
        data = {
            "ticker": ticker.strip() if isinstance(ticker, str) else ticker,
            "quantity": self._parse(f"{key}.quantity", "quantity", quantity, None),
        }
        basis = self._parse(f"{key}.cost_basis", "cost_basis", cost_basis, None)
        if basis is not None:
            data["cost_basis"] = basis
        return self._edit(holdings=(*self._state.holdings, _Row(next(self._ids), data)))

    def delete(self, kind: str, index: int) -> DeskConfig:
        """Remove the ``index``-th holding or hedge (``kind`` "holding" or "hedge")."""
        section, _ = self._row(kind, index)
        rows = getattr(self._state, section)
        return self._edit(**{section: rows[:index] + rows[index + 1 :]})

    def replace_rows(
        self,
        holdings: Sequence[tuple[int | None, Mapping[str, Any]]],
        hedges: Sequence[tuple[int | None, Mapping[str, Any]]],
    ) -> DeskConfig:
        """Set every holding and hedge row in one undoable step (an import): each entry is
        (index of a current row, the keys it changes) or (None, a new row's TOML keys).
        """
        built = {}
        for kind, entries in (("holding", holdings), ("hedge", hedges)):
            out = []
            for index, keys in entries:
                if index is None:
                    out.append(_Row(next(self._ids), dict(keys)))
                else:
                    row = self._row(kind, index)[1]
                    out.append(row._replace(data={**row.data, **keys}))
            if len({r.id for r in out}) < len(out):
                raise HedgedeskError(f"{kind} rows: one is listed twice")
            built[SECTIONS[kind]] = tuple(out)
        return self._edit(**built)

    def revert(self) -> DeskConfig:
        """Back to the saved book (the shocks stay); undoable."""
        return self._push(dataclasses.replace(self._saved, shocks=self._state.shocks))

    def book_tables(self, saved: bool = False) -> dict[str, list[dict[str, Any]]]:
        """The edited (or ``saved``) book's rows as the config's TOML tables:
        ``{"holdings": [...], "hedges": [...]}``, copies (what a named what-if stores).
        """
        state = self._saved if saved else self._state
        return {s: [copy.deepcopy(r.data) for r in getattr(state, s)] for s in SECTIONS.values()}

    def load_book(
        self,
        holdings: list[dict[str, Any]],
        hedges: list[dict[str, Any]],
        shocks: Mapping[str, float] | None = None,
    ) -> DeskConfig:
        """Replace the book's rows (TOML tables, as :meth:`book_tables` gives them) and the
        shocks in one step, validated like any edit and undoable like one. A row with the
        ticker (holding) or name (hedge) of a row in the book takes its place: its layout in
        the file is kept, and :meth:`changes` names its changed values.
        """
        rows: dict[str, tuple[_Row, ...]] = {}
        for s, data in (("holdings", holdings), ("hedges", hedges)):
            key = "ticker" if s == "holdings" else "name"
            free = {}
            for r in reversed(getattr(self._state, s)):
                free[r.data.get(key)] = r.id  # the first row of a name wins
            ids = [free.pop(d.get(key), None) for d in data]
            rows[s] = tuple(
                _Row(next(self._ids) if i is None else i, copy.deepcopy(dict(d)))
                for i, d in zip(ids, data, strict=True)
            )
        state = dataclasses.replace(
            self._state,
            holdings=rows["holdings"],
            hedges=rows["hedges"],
            shocks=dict(shocks or {}),
        )
        return self._push(dataclasses.replace(state, cfg=self._validate(state)))

    # -- what-if shocks ----------------------------------------------------------------------
    def shock(self, target: str, fraction: Any) -> DeskConfig:
        """Shock ``target``'s price (a ticker, or "market" for the benchmark) by ``fraction``
        (-0.1 = -10 %); 0 removes it. Not a book edit, but undoable like one.
        """
        name = target.strip() if isinstance(target, str) else ""
        if not name:
            raise HedgedeskError(f'shock: got {target!r}, expected a ticker or "market"')
        try:
            value = float(fraction.strip() if isinstance(fraction, str) else fraction)
        except (TypeError, ValueError):
            value = math.nan
        if isinstance(fraction, bool) or not math.isfinite(value) or value < -1:
            raise HedgedeskError(
                f"shock {name}: got {fraction!r}, expected a fraction >= -1 (-0.1 for -10 %)"
            )
        shocks = {k: v for k, v in self._state.shocks.items() if k != name}
        if value:
            shocks[name] = value
        return self._push(dataclasses.replace(self._state, shocks=shocks))

    # -- history -----------------------------------------------------------------------------
    def undo(self) -> DeskConfig | None:
        """Step back one edit or shock; None when there is nothing to undo."""
        return self._step(self._undo, self._redo)

    def redo(self) -> DeskConfig | None:
        """Redo the last undone step; None when there is nothing to redo."""
        return self._step(self._redo, self._undo)

    # -- saving ------------------------------------------------------------------------------
    def save(self, force: bool = False) -> DeskConfig:
        """Write the edited book into the config file, atomically, keeping the rest of the file,
        and keep a copy of the result beside it (``last_good_path``).

        Refuses a book the ``check`` refutes, the built-in demo, a read-only file, and (unless
        ``force``, which overwrites it with this desk's copy) a file changed on disk since it
        was loaded (ChangedOnDisk); the edits stay.
        """
        path = self._base.path
        target = path.resolve()  # a symlinked config is written through, not replaced
        self._refuse_unvalued()
        if _digest(_read(path)) != self._digest and not force:
            raise ChangedOnDisk(
                f"{path}: changed on disk since the desk loaded it; your edits are kept"
            )
        self._check_writable(target)
        text = self.render()
        if parse_config(text, path).book != self.config.book:
            raise HedgedeskError(f"{path}: the book would not read back as edited; not saved")
        try:
            write_atomic(target, lambda tmp: tmp.write_bytes(text.encode("utf-8")))
        except OSError as exc:
            raise HedgedeskError(f"{path}: cannot write: {exc.strerror or exc}") from None
        if load_config(path).book != self.config.book:
            raise HedgedeskError(f"{path}: the saved book does not read back as edited")
        keep_last_good(target, text)
        self._remember(self._load_file(text), self._state)
        self._saved = self._state
        return self.config

    def _refuse_unvalued(self) -> None:
        """HedgedeskError when the ``check`` refutes the edited book (nothing is written)."""
        if self._check is not None:
            try:
                self._check(self.config, {})
            except HedgedeskError as exc:
                raise HedgedeskError(
                    f"not saved, the book does not value: {exc}; your edits are kept"
                ) from None

    def save_as(self, path: Path, force: bool = False) -> DeskConfig:
        """Write the edited config to a new file ``path`` (the rendering :meth:`save` uses),
        atomically, with its last good copy; the editor then works on that file (its saved
        book is the one written; edits before stay undoable). Refuses an existing file unless
        ``force``, a book the ``check`` refutes, and a folder where the config's relative
        paths (data, cluster) would point elsewhere; nothing is written then.
        """
        dest = Path(path).expanduser().absolute()
        if is_builtin_demo(dest):
            raise HedgedeskError(
                f"{dest}: the built-in demo desk's own files; save it elsewhere, say "
                f"{user_config_path()}"
            )
        if dest.is_dir():
            raise HedgedeskError(f"{dest}: is a folder; give a file name (book.toml)")
        if dest.exists() and not force:
            raise HedgedeskError(f"{dest}: exists; not overwritten (choose another name)")
        self._refuse_unvalued()
        text = self.render()
        moved = dataclasses.replace(parse_config(text, dest), path=self._base.path)
        if moved != self.config:
            raise HedgedeskError(
                f"{dest}: the config's relative paths would resolve from {dest.parent}, not "
                f"{self._base.path.parent}; save it in that folder or make them absolute"
            )
        try:
            write_atomic(dest, lambda tmp: tmp.write_bytes(text.encode("utf-8")))
        except OSError as exc:
            raise HedgedeskError(f"{dest}: cannot write: {exc.strerror or exc}") from None
        cfg = load_config(dest)
        if cfg.book != self.config.book:
            raise HedgedeskError(f"{dest}: the saved book does not read back as edited")
        keep_last_good(dest, text)

        def moved_to(state: _State) -> _State:
            return dataclasses.replace(state, cfg=dataclasses.replace(state.cfg, path=cfg.path))

        self._base = dataclasses.replace(self._base, path=cfg.path)
        self._remember(self._load_file(text), self._state)
        self._state = self._saved = moved_to(self._state)
        self._undo = [moved_to(s) for s in self._undo]
        self._redo = [moved_to(s) for s in self._redo]
        return self.config

    # -- internals ---------------------------------------------------------------------------
    def _load_file(self, text: str) -> Table:
        """Remember the file as loaded (its text, digest, the rest without [book]); return
        its [book] table.
        """
        self._text, self._digest = text, _digest(text)
        try:
            doc = tomlkit.parse(text.removeprefix(BOM))
        except TOMLKitError as exc:  # edited on disk since load_config
            raise ConfigError(str(self._base.path), "(syntax)", f"not valid TOML: {exc}") from None
        book = doc["book"]
        self._head = {k: v for k, v in book.unwrap().items() if k not in SECTIONS.values()}
        del doc["book"]
        self._rest = tomlkit.dumps(doc)
        return book

    def _remember(self, book: Table, state: _State) -> None:
        """Keep each row's layout in the file (header, keys, comments) by row id, also for
        rows deleted later, so an undone delete saves as it was. The comments after the book's
        last table introduce the next section: they go after whichever table is last.
        """
        last: int | None = None
        for s in _order(book):
            for row, table in zip(getattr(state, s), _tables(book, s), strict=False):
                self._layout[row.id] = (table.trivia, *split_trailing(table))
                last = row.id
        self._tail_in_book = last is None  # no rows: the tail follows [book]'s own keys
        if last is None:
            self._tail = split_trailing(book)[1]
        else:
            trivia, content, self._tail = self._layout[last]
            self._layout[last] = (trivia, content, [tomlkit.nl()])

    def _validate(self, state: _State) -> DeskConfig:
        book = dict(self._head)
        for section in SECTIONS.values():  # an empty array after [[...]] would land inside it
            if rows := getattr(state, section):
                book[section] = [r.data for r in rows]
        text = f"{self._rest}\n{_dump_book(book)}"
        return dataclasses.replace(self._base, book=parse_config(text, self._base.path).book)

    def _row(self, kind: str, index: int) -> tuple[str, _Row]:
        if kind not in SECTIONS:
            raise HedgedeskError(f'got {kind!r}, expected "holding" or "hedge"')
        rows = getattr(self._state, SECTIONS[kind])
        if not (isinstance(index, int) and 0 <= index < len(rows)):
            raise HedgedeskError(f"no {kind} #{index}: the book has {len(rows)}")
        return SECTIONS[kind], rows[index]

    def _parse(self, key: str, field: str, value: Any, old: Any) -> Any:
        """Text from an input box to a TOML value; other values go to the loader as given."""
        if not isinstance(value, str):
            return value
        text = value.strip()
        if not text:
            return None
        if field == "expiry":
            try:
                day = dt.date.fromisoformat(text)
            except ValueError:
                raise ConfigError(
                    str(self._base.path), key, f"got {value!r}, expected a date YYYY-MM-DD"
                ) from None
            return day.isoformat() if isinstance(old, str) else day  # the file's own style
        for number in (int, float):
            try:
                return number(text)
            except ValueError:
                pass
        raise ConfigError(str(self._base.path), key, f"got {value!r}, expected a number")

    def _replace_row(self, section: str, index: int, row: _Row) -> DeskConfig:
        rows = getattr(self._state, section)
        return self._edit(**{section: (*rows[:index], row, *rows[index + 1 :])})

    def _edit(
        self, holdings: tuple[_Row, ...] | None = None, hedges: tuple[_Row, ...] | None = None
    ) -> DeskConfig:
        state = dataclasses.replace(
            self._state,
            holdings=self._state.holdings if holdings is None else holdings,
            hedges=self._state.hedges if hedges is None else hedges,
        )
        return self._push(dataclasses.replace(state, cfg=self._validate(state)))

    def _push(self, state: _State) -> DeskConfig:
        if state != self._state:  # a no-op is not a step to undo
            if self._check is not None:
                self._check(state.cfg, state.shocks)
            self._undo.append(self._state)
            self._redo.clear()
            self._state = state
        return self.config

    def _step(self, source: list[_State], dest: list[_State]) -> DeskConfig | None:
        if not source:
            return None
        dest.append(self._state)
        self._state = source.pop()
        return self.config

    def _check_writable(self, target: Path) -> None:
        if is_builtin_demo(target):
            why = "is a built-in demo desk"
        elif (
            not target.stat().st_mode & 0o222
            or not os.access(target, os.W_OK)
            or not os.access(target.parent, os.W_OK | os.X_OK)
        ):  # root ignores the bits
            why = "is read-only"
        else:
            return
        user = user_config_path()
        raise HedgedeskError(
            f"{self._base.path} {why}; your edits are kept: copy it to {user} "
            f"(mkdir -p {user.parent} && cp {self._base.path} {user}), "
            "open the desk with it and save there"
        )

    def render(self) -> str:
        """The loaded file with its [book] rows replaced by the edited ones (and its byte-order
        mark, when it had one): the text :meth:`save` writes.
        """
        bom = BOM if self._text.startswith(BOM) else ""
        doc = tomlkit.parse(self._text.removeprefix(BOM))
        book = doc["book"]
        order = _order(book)
        rows = [(s, row) for s in order for row in getattr(self._state, s)]
        built: dict[str, list[Table]] = {s: [] for s in order}
        for i, (s, row) in enumerate(rows):
            built[s].append(self._table(row, self._tail if i == len(rows) - 1 else None))
        if self._tail_in_book:  # keyless items at the end: no key's index moves
            del book.value.body[len(book.value.body) - len(self._tail) :]
        if not rows:
            for item in self._tail:
                book.add(item)
        for s, tables in built.items():
            if tables:  # parsed: the separators are ours; else tomlkit adds one to each header
                book[s] = AoT(tables, parsed=True)
            elif s in book:
                del book[s]
        return bom + tomlkit.dumps(doc)

    def _table(self, row: _Row, trailing: list | None) -> Table:
        """A row as an array-of-tables element, laid out as it was in the file (if it was),
        followed by ``trailing`` or else its own separator.
        """
        trivia, content, own = self._layout.get(row.id, (Trivia(), [], [tomlkit.nl()]))
        table = Table(Container(), copy.copy(trivia), is_aot_element=True)
        for key, item in content:
            if key is None:
                table.add(item)  # a comment or blank line between keys
            elif key.key in row.data:
                table.add(key, item)
                if item.unwrap() != row.data[key.key]:
                    table[key.key] = row.data[key.key]  # tomlkit keeps the line's comment
        for k, v in row.data.items():
            if k not in table:
                table[k] = v
        for item in own if trailing is None else trailing:
            table.add(item)
        return table


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _dump_book(book: dict[str, Any]) -> str:
    """``book`` as a TOML [book] table: written directly when every value is a plain scalar
    (tomlkit takes a tenth of a second on 500 rows, and a what-if edit validates the whole
    book), else by tomlkit.
    """
    head = [_line(k, v) for k, v in book.items() if k not in SECTIONS.values()]
    tables = [
        [f"\n[[book.{s}]]", *(_line(k, v) for k, v in row.items())]
        for s in SECTIONS.values()
        for row in book.get(s, [])
    ]
    lines = ["[book]", *head, *(x for t in tables for x in t)]
    written = [x for x in lines if x is not None]
    if len(written) < len(lines):
        return tomlkit.dumps({"book": book})
    return "\n".join(written) + "\n"


def _line(key: str, value: Any) -> str | None:
    """``key = value`` in TOML, or None for a value this writer leaves to tomlkit."""
    if not _BARE_KEY.fullmatch(key):
        return None
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int | float):
        text = repr(value)  # round-trips exactly; inf and nan are TOML's own spellings
    elif isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        text = value.isoformat()
    elif isinstance(value, str) and not any(c < " " or c == "\x7f" for c in value):
        text = json.dumps(value, ensure_ascii=False)  # escapes only " and \ here: valid TOML
    else:
        return None
    return f"{key} = {text}"


def _order(book: Table) -> list[str]:
    """The book's arrays of tables in the file's order, then any it lacks."""
    order = [k for k in book if k in SECTIONS.values()]
    return order + [s for s in SECTIONS.values() if s not in order]


def _tables(book: Table, section: str) -> list[Table]:
    return list(book[section].body) if isinstance(book.get(section), AoT) else []


def split_trailing(table: Table) -> tuple[list, list]:
    """A TOML table's body as (keys and inner comments, the blank lines and comments after its
    last key: what introduces the next section, kept with the last row when rows change).
    """
    body = table.value.body
    n = len(body)
    while n and body[n - 1][0] is None and isinstance(body[n - 1][1], Whitespace | Comment):
        n -= 1
    return body[:n], [item for _, item in body[n:]]


def _by_id(state: _State, section: str) -> dict[int, Any]:
    return {
        r.id: x
        for r, x in zip(getattr(state, section), getattr(state.cfg.book, section), strict=True)
    }


def _label(x: Any) -> str:
    return x.ticker if hasattr(x, "ticker") else repr(x.name)


def _fmt(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.date):
        return value.isoformat()
    return "none" if value is None else str(value)


def keep_last_good(path: Path, text: str) -> Path | None:
    """Write ``text`` (a config that loads and values) beside ``path`` as its last good copy,
    atomically and with the file's mode; None when the folder is not writable (a best effort:
    the save itself succeeded).
    """
    dest = last_good_path(path)
    try:
        if not dest.exists() or dest.read_bytes() != text.encode("utf-8"):
            data = text.encode("utf-8")
            write_atomic(dest, lambda tmp: tmp.write_bytes(data), mode=path.stat().st_mode & 0o7777)
    except OSError:
        return None
    return dest


def restore_last_good(path: Path) -> Path:
    """Put the last good copy back as the config file; the file it replaces is kept beside it
    as ``config.toml.rejected`` (never lost). Returns where the replaced file went.
    """
    good = last_good_path(path)
    if not good.is_file():
        raise HedgedeskError(f"{path}: no last good copy ({good.name}) to restore")
    target = path.resolve()
    rejected = target.with_name(target.name + ".rejected")
    if target.exists():
        data = target.read_bytes()
        write_atomic(rejected, lambda tmp: tmp.write_bytes(data))
    text = good.read_bytes()
    write_atomic(target, lambda tmp: tmp.write_bytes(text))
    return rejected


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")  # bytes: keep the file's line endings
    except OSError as exc:
        raise HedgedeskError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise HedgedeskError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
