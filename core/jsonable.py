"""Plain JSON values from what the engine holds: the ledger, the reports and the CLI's --json
all write through this one conversion.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def jsonable(x: Any) -> Any:
    """Plain JSON values from numpy scalars/arrays, dates and NaN (which becomes null)."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple | set | frozenset | np.ndarray):
        return [jsonable(v) for v in x]
    if x is pd.NaT or (isinstance(x, np.datetime64) and np.isnat(x)):
        return None
    if isinstance(x, np.datetime64):
        return pd.Timestamp(x).isoformat()
    if isinstance(x, np.generic):
        return jsonable(x.item())
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dt.date | dt.time):  # datetime and pd.Timestamp are dates too
        return x.isoformat()
    if isinstance(x, Path):
        return str(x)
    return x
