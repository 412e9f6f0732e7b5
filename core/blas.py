"""BLAS on one thread for small dense algebra (:data:`serial_blas`).

numpy's BLAS (OpenBLAS) starts a thread per core for every product, which pays on large
matrices and costs far more than it saves on the small ones the optimisers and the sweep's
scoring multiply, above all while numba's or a solver's threads hold the cores.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import cache
from typing import Any

from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]  # ships no types


class _SerialBlas:
    """One BLAS thread while any caller is inside: the first to enter sets the limit, the
    last to leave restores the original, so overlapping callers (the desk's solve workers)
    never leave BLAS limited or restore it under another's feet. Both calls run on one
    service thread: OpenBLAS ignores a thread raising a thread count that another one lowered.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._limiter: Any = None  # threadpoolctl's limiter while anyone is inside
        self._setter: ThreadPoolExecutor | None = None

    def _on_setter(self, fn: Callable[[], Any]) -> Any:
        if self._setter is None:
            self._setter = ThreadPoolExecutor(1, thread_name_prefix="serial-blas")
        return self._setter.submit(fn).result()

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._depth == 0:
                self._limiter = self._on_setter(
                    lambda: _blas_controller().limit(limits=1, user_api="blas")
                )
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0:
                    self._on_setter(self._limiter.restore_original_limits)
                    self._limiter = None


@cache
def _blas_controller() -> ThreadpoolController:
    return ThreadpoolController()  # ~7 ms to find the loaded BLAS libraries: once


serial_blas = _SerialBlas()
"""Context manager (and decorator): BLAS limited to one thread inside. The optimisers' and the
sweep's dense algebra is small (n up to a few hundred; PBO's (70 x 8) x (8 x N) products), and
OpenBLAS's threads cost far more than they save: an eigen-decomposition of 120 assets took
1 ms alone, 215 ms after a Clarabel solve under the default threading; PBO's product of 4,800
strategies 1 ms on one thread, 32 ms on the default threads of a busy 2-core machine."""
