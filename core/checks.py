"""Argument checks shared by the numeric modules: clear ValueErrors naming the argument."""

from __future__ import annotations

import numpy as np


def finite(name: str, x) -> np.ndarray:
    """``x`` as a float64 array (0-d for a scalar); every element finite."""
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {x!r}") from None
    if not np.isfinite(a).all():
        raise ValueError(f"{name} must be finite, got {a[~np.isfinite(a)].flat[0].item()!r}")
    return a


def positive(name: str, x) -> np.ndarray:
    """``x`` as a float64 array; every element > 0 (NaN rejected)."""
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {x!r}") from None
    bad = ~(a > 0)
    if bad.any():
        raise ValueError(f"{name} must be > 0, got {a[bad].flat[0].item()!r}")
    return a


def readonly(x) -> np.ndarray:
    """A float64 copy that cannot be written: results held in frozen dataclasses stay frozen."""
    a = np.array(x, dtype=np.float64)
    a.flags.writeable = False
    return a
