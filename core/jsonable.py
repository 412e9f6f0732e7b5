"""Plain JSON values from what the engine holds: the ledger, the reports and the CLI's --json
all write through this one conversion.

numpy and pandas are not imported here: a value of theirs can only exist once its module is
loaded, so the conversion looks them up in ``sys.modules`` and a command that never loaded
them (``hedgedesk --help``) does not pay for them.
"""

from __future__ import annotations

import datetime as dt
import math
import sys
from pathlib import Path
from types import ModuleType
from typing import Any


def jsonable(x: Any) -> Any:
    """Plain JSON values from numpy scalars/arrays, dates and NaN (which becomes null)."""
    return _plain(x, sys.modules.get("numpy"), sys.modules.get("pandas"))


def _plain(x: Any, np: ModuleType | None, pd: ModuleType | None) -> Any:
    if isinstance(x, dict):
        return {str(k): _plain(v, np, pd) for k, v in x.items()}
    if isinstance(x, list | tuple | set | frozenset) or (
        np is not None and isinstance(x, np.ndarray)
    ):
        return [_plain(v, np, pd) for v in x]
    if pd is not None and x is pd.NaT:
        return None
    if np is not None:
        if isinstance(x, np.datetime64):
            if np.isnat(x):
                return None
            import pandas  # a datetime64 is written as pandas writes a Timestamp

            return pandas.Timestamp(x).isoformat()
        if isinstance(x, np.generic):
            return _plain(x.item(), np, pd)
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dt.date | dt.time):  # datetime and pd.Timestamp are dates too
        return x.isoformat()
    if isinstance(x, Path):
        return str(x)
    return x
