"""The GPU backend of a sweep: :func:`hedgedesk.core.sweep.kernel.simulate`, one CUDA thread per
configuration.

The kernel is numba-cuda compiling the very ``simulate`` the CPU runs (as a device function),
so both backends share one source (the CPU runs it for listed rows and as the lock-step
kernel's reference). Arrays live on the device as CuPy arrays, uploaded once per leg; each
launch also allocates a day-major scratch of every configuration's daily returns
(``scratch_days x count`` FP64, read back for the risk-normalised figures), so a request halved
for lack of device memory needs half of it. CI has no GPU: ``GpuBackend(simulator=True)``
launches the same kernel body under numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1`` set
before numba is imported).

Importing this module needs neither CuPy nor numba-cuda nor a GPU; they are imported on use.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable
from typing import Any

import numpy as np
from numba import float64

from hedgedesk.core.sweep.grid import Grid, Leg
from hedgedesk.core.sweep.kernel import (
    NO_ROWS,
    ROLLING,
    KernelArgs,
    kernel_args,
    leg_tables,
    n_out,
    scratch_days,
    simulate,
)

THREADS_PER_BLOCK = 128
INSTALL_HINT = "pip install 'hedgedesk[gpu]'"

# numba.cuda, bound by _cuda() on first use. The kernel must reach it as a module global: the
# simulator runs a kernel by swapping the globals that hold numba.cuda for its per-launch fake.
cuda: Any = None


def _cuda():
    global cuda
    from numba import cuda

    return cuda


def gpu_status() -> tuple[bool, str]:
    """(True, a description of the device) when CuPy and numba-cuda can use a CUDA device,
    else (False, why not). Never raises: it decides whether the GPU backend is offered.
    """
    try:
        return _probe()
    except Exception as exc:  # a broken driver or install must not take the caller down
        return False, f"the CUDA check failed: {exc}"


def _probe() -> tuple[bool, str]:
    try:
        import cupy
    except ImportError:
        return False, f"CuPy is not installed ({INSTALL_HINT})"
    try:
        n_devices = cupy.cuda.runtime.getDeviceCount()
    except cupy.cuda.runtime.CUDARuntimeError as exc:  # no driver, or one too old for CuPy
        return False, f"no CUDA device visible ({exc})"
    if n_devices == 0:
        return False, "no CUDA device visible"
    try:
        numba_cuda = _cuda()
    except ImportError:
        return False, f"numba-cuda is not installed ({INSTALL_HINT})"
    if not numba_cuda.is_available():
        return False, "numba-cuda cannot use the CUDA device"
    props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
    driver = cupy.cuda.runtime.driverGetVersion()
    return True, (
        f"{props['name'].decode()}, CC {props['major']}.{props['minor']}, "
        f"{props['totalGlobalMem'] / 2**30:.1f} GiB, "
        f"CUDA driver {driver // 1000}.{driver % 1000 // 10}"
    )


def _kernel_source(body: Callable) -> Callable:
    """The kernel body, shared by the GPU and the simulator; ``body`` is ``simulate`` or, under
    the simulator (which cannot pass its arrays into compiled code), its Python function.
    """

    def kernel(
        row0,
        count,
        rows,
        r_long,
        r_hedge,
        g_long,
        g_hedge,
        betas,
        res_xbar,
        res_inv_sxx,
        rebalances,
        windows,
        n_est,
        exposures,
        ratios,
        bands,
        costs,
        impacts,
        start,
        stop,
        split,
        block_from,
        n_blocks,
        rf_d,
        periods,
        vol_target,
        scratch,
        out,
    ):
        c = cuda.grid(1)
        if c < count:
            ring_e = cuda.local.array(ROLLING, float64)
            ring_r = cuda.local.array(ROLLING, float64)
            row = row0 + c if rows.size == 0 else rows[c]
            body(
                row,
                r_long,
                r_hedge,
                g_long,
                g_hedge,
                betas,
                res_xbar,
                res_inv_sxx,
                rebalances,
                windows,
                n_est,
                exposures,
                ratios,
                bands,
                costs,
                impacts,
                start,
                stop,
                split,
                block_from,
                n_blocks,
                rf_d,
                periods,
                vol_target,
                ring_e,
                ring_r,
                scratch[:, c],  # day-major: neighbouring threads, neighbouring addresses
                out,
                c,
            )

    return kernel


def _python_simulate() -> Callable:
    """``simulate`` as plain Python for the simulator, the jitted helpers it calls (with the
    simulator's arrays, which compiled code cannot take) as their Python functions too.
    """
    from hedgedesk.core.sweep import kernel

    plain = {k: getattr(v, "py_func", v) for k, v in vars(kernel).items()}
    f = simulate.py_func
    return types.FunctionType(f.__code__, plain, f.__name__, f.__defaults__, f.__closure__)


@functools.cache
def _kernel(simulator: bool):
    return _cuda().jit(_kernel_source(_python_simulate() if simulator else simulate))


def _launch_args(row0: int, count: int, rows, args: KernelArgs, scratch, out) -> tuple:
    """The kernel's parameters in order: the one place a :class:`KernelArgs` is spread.
    ``scratch``: (scratch_days(args), count), every configuration's daily returns.
    """
    return (row0, count, rows, *args, scratch, out)


def kernel_ptx(cc: tuple[int, int] = (9, 0)) -> str:
    """PTX of the real kernel for compute capability ``cc`` (needs the CUDA toolkit's NVVM),
    typed from what :func:`hedgedesk.core.sweep.kernel.kernel_args` returns for a tiny grid.
    """
    import numba

    grid = Grid(legs=(Leg("L", ("L",)),), hedge="H", rebalance=(1,), window=(3,))
    returns = np.linspace(-0.01, 0.01, 8)
    args = kernel_args(grid, leg_tables(grid, returns, returns[::-1]), 0, 8, 8, 2, 0.0, 252)
    launch = _launch_args(
        0, 1, NO_ROWS, args, np.empty((scratch_days(args), 1)), np.empty((n_out(2), 1))
    )
    sig = tuple(numba.typeof(a) for a in launch)
    ptx, _ = _cuda().compile_ptx(_kernel_source(simulate), sig, device=False, cc=cc)
    return ptx


def is_out_of_memory(exc: BaseException) -> bool:
    """CuPy's or numba-cuda's device out-of-memory error."""
    import cupy
    from numba.cuda.cudadrv.driver import CudaAPIError, binding

    return isinstance(exc, cupy.cuda.memory.OutOfMemoryError) or (
        isinstance(exc, CudaAPIError) and exc.code == binding.CUresult.CUDA_ERROR_OUT_OF_MEMORY
    )


def run_split(
    launch: Callable,
    row0: int,
    count: int,
    rows: np.ndarray | None,
    is_oom: Callable[[BaseException], bool],
) -> tuple[np.ndarray, int]:
    """``launch(row0, count, rows)``, halving the request recursively whenever it runs out of
    device memory (down to one configuration). Returns the (rows, count) output and how many
    times a request was halved.
    """
    try:
        return launch(row0, count, rows), 0
    except Exception as exc:
        if count == 1 or not is_oom(exc):
            raise
    half = count // 2
    left, n_left = run_split(launch, row0, half, None if rows is None else rows[:half], is_oom)
    right, n_right = run_split(
        launch, row0 + half, count - half, None if rows is None else rows[half:], is_oom
    )
    return np.concatenate([left, right], axis=1), 1 + n_left + n_right


class GpuBackend:
    """Runs the sweep kernel on the GPU (or on numba's CUDA simulator with ``simulator=True``).

    ``prepare(kernel_args(...))`` once per leg, then ``run`` per chunk. ``splits`` counts the
    requests halved for lack of device memory since the backend was made.
    """

    name = "gpu"

    def __init__(self, simulator: bool = False):
        self.simulator = simulator
        if simulator:
            from numba import config

            if not config.ENABLE_CUDASIM:  # type: ignore[attr-defined]  # set at import time
                raise RuntimeError(
                    "the CUDA simulator needs NUMBA_ENABLE_CUDASIM=1 set before numba is imported"
                )
            self.device = "numba CUDA simulator"
        else:
            ok, self.device = gpu_status()
            if not ok:
                raise RuntimeError(self.device)
        self.splits = 0
        self._args: KernelArgs | None = None  # on the device (CuPy arrays; NumPy simulated)

    def _xp(self):
        if self.simulator:
            return np
        import cupy

        return cupy

    def prepare(self, args: KernelArgs) -> None:
        """Upload a leg's kernel arguments (arrays; scalars pass through) to the device."""
        xp = self._xp()
        arrays = {k: xp.asarray(v) for k, v in args._asdict().items() if isinstance(v, np.ndarray)}
        self._args = args._replace(**arrays)
        self._no_rows = xp.asarray(NO_ROWS)
        self._n_out = n_out(args.n_blocks)
        self._scratch_days = scratch_days(args)

    def run(self, row0: int, count: int, rows: np.ndarray | None = None) -> np.ndarray:
        """Metrics of grid rows [row0, row0 + count), or of the listed ``rows`` (then
        ``count = len(rows)``): shape (n_out(n_blocks), count) on the host, the device
        synchronised.
        """
        if self._args is None:
            raise RuntimeError("GpuBackend.run before prepare")
        if count == 0:  # a launch needs at least one block
            return np.empty((self._n_out, 0))
        rows = None if rows is None else np.ascontiguousarray(rows, np.int64)
        is_oom = (lambda exc: False) if self.simulator else is_out_of_memory
        launch = functools.partial(self._launch, self._args)
        out, splits = run_split(launch, row0, count, rows, is_oom)
        self.splits += splits
        return out

    def _launch(
        self, args: KernelArgs, row0: int, count: int, rows: np.ndarray | None
    ) -> np.ndarray:
        xp = self._xp()
        out = xp.empty((self._n_out, count))
        # per launch, so that a request halved for lack of memory needs less of it
        scratch = xp.empty((self._scratch_days, count))
        blocks = -(-count // THREADS_PER_BLOCK)
        device_rows = self._no_rows if rows is None else xp.asarray(rows)
        _kernel(self.simulator)[blocks, THREADS_PER_BLOCK](
            *_launch_args(row0, count, device_rows, args, scratch, out)
        )
        if self.simulator:
            return out
        _cuda().synchronize()  # launch errors surface here, and timings include the kernel
        return out.get()
