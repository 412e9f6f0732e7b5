"""The GPU backend against the CPU kernel. CI has no GPU: the kernel runs under numba's CUDA
simulator in a subprocess (the simulator must be chosen before numba is imported), the
out-of-memory splitting runs with a fake launcher, and the real kernel is compiled to PTX
where the CUDA toolkit's NVVM is installed.
"""

from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from hedgedesk.core.sweep import gpu as sweep_gpu
from hedgedesk.core.sweep.gpu import gpu_status, run_split
from hedgedesk.core.sweep.grid import Estimator, Grid, Leg
from hedgedesk.core.sweep.kernel import (
    IS_SCALED_ANNUAL_RETURN,
    RUINED,
    SCALED_ANNUAL_RETURN,
    STATUS,
    UNDEFINED_BETA,
    kernel_args,
    leg_tables,
    n_out,
    run_cpu,
)

REPO = Path(__file__).resolve().parents[3]
N_BLOCKS = 4

_SIMULATOR_RUN = r"""
import pickle, sys
import numpy as np
from hedgedesk.core.sweep.gpu import GpuBackend

folder = sys.argv[1]
with open(f"{folder}/args.pkl", "rb") as f:
    args, n_rows, rows = pickle.load(f)
backend = GpuBackend(simulator=True)
backend.prepare(args)
half = n_rows // 2
np.save(f"{folder}/first.npy", backend.run(0, half))
np.save(f"{folder}/second.npy", backend.run(half, n_rows - half))
np.save(f"{folder}/listed.npy", backend.run(0, len(rows), rows))
"""


def _leg_args():
    """48 configurations on 300 synthetic days: OLS and EWMA, h = 0 and 1, a drift band, cost
    and impact, a hedge ratio that ruins, and a constant stretch of the hedge that leaves the
    20-day beta undefined on days 120-121 (daily rebalancing meets it, every 5 days does not).
    """
    rng = np.random.default_rng(7)
    r_hedge = rng.normal(0.0004, 0.012, 300)
    r_hedge[101:122] = 0.001
    r_hedge[200] = 0.15  # a rally that ruins the h = 10 short hedge
    r_long = 1.2 * r_hedge + rng.normal(0.0002, 0.01, 300)
    grid = Grid(
        legs=(Leg("L", ("L",)),),
        hedge="H",
        rebalance=(1, 5),
        window=(20, 60),
        estimator=(Estimator("ols"), Estimator("ewma", 10.0)),
        exposure=(1.0,),
        hedge_ratio=(0.0, 1.0, 10.0),
        drift_band=(0.0, 0.1),
        cost=(0.002,),
        impact=(0.5,),
    )
    tables = leg_tables(grid, r_long, r_hedge, np.full(300, 1e-3), np.full(300, 2e-3))
    return grid, kernel_args(grid, tables, 0, 300, 200, N_BLOCKS, 0.0001, 252)


def test_simulated_kernel_matches_cpu_kernel(tmp_path):
    grid, args = _leg_args()
    n_rows = grid.rows_per_leg
    rows = np.array([47, 0, 17, 17, 40, 2])
    with open(tmp_path / "args.pkl", "wb") as f:
        pickle.dump((args, n_rows, rows), f)
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-c", _SIMULATOR_RUN, str(tmp_path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr

    cpu = run_cpu(args, 0, n_rows)
    statuses = set(cpu[STATUS])
    assert {RUINED, UNDEFINED_BETA} < statuses and 0 in statuses  # every path is exercised
    ok = cpu[STATUS] == 0
    for i in (SCALED_ANNUAL_RETURN, IS_SCALED_ANNUAL_RETURN):  # read from the returns scratch
        assert np.isfinite(cpu[i, ok]).all()
    simulated = np.concatenate(
        [np.load(tmp_path / "first.npy"), np.load(tmp_path / "second.npy")], axis=1
    )
    assert simulated.shape == (n_out(N_BLOCKS), n_rows)
    np.testing.assert_allclose(
        simulated, cpu, rtol=1e-12, atol=1e-15, equal_nan=True
    )  # NaN positions must match too
    listed = np.load(tmp_path / "listed.npy")
    np.testing.assert_allclose(
        listed, run_cpu(args, 0, len(rows), rows), rtol=1e-12, atol=1e-15, equal_nan=True
    )


class FakeOOM(Exception):
    pass


def _is_fake_oom(exc: BaseException) -> bool:
    return isinstance(exc, FakeOOM)


def _fake_launcher(limit: int, calls: list):
    """Column c of rows [row0, row0 + count) holds 10 * row + metric; more than ``limit``
    configurations at once run out of memory.
    """

    def launch(row0, count, rows):
        calls.append(count)
        if count > limit:
            raise FakeOOM
        ids = np.arange(row0, row0 + count) if rows is None else rows
        return 10.0 * ids[None, :] + np.arange(n_out(N_BLOCKS))[:, None]

    return launch


@pytest.mark.parametrize("rows", [None, np.array([9, 3, 3, 50, 0, 7, 21])])
def test_out_of_memory_halves_until_it_fits(rows):
    count = 7 if rows is not None else 11
    whole = _fake_launcher(100, [])(5, count, rows)
    calls = []
    out, splits = run_split(_fake_launcher(2, calls), 5, count, rows, _is_fake_oom)
    np.testing.assert_array_equal(out, whole)
    assert calls[0] == count and sum(c for c in calls if c <= 2) == count
    assert splits == sum(c > 2 for c in calls)  # every failed request was halved once


def test_out_of_memory_gives_up_at_one_configuration_and_other_errors_pass():
    with pytest.raises(FakeOOM):
        run_split(_fake_launcher(0, []), 0, 4, None, _is_fake_oom)
    calls = []

    def broken(row0, count, rows):
        calls.append(count)
        raise ValueError("not memory")

    with pytest.raises(ValueError):
        run_split(broken, 0, 8, None, _is_fake_oom)
    assert calls == [8]  # no retry on anything else


def test_gpu_status_reports_why_not_and_never_raises(monkeypatch):
    ok, why = gpu_status()
    assert ok is False and why  # no GPU on CI
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy raises ImportError
    assert gpu_status() == (False, "CuPy is not installed (pip install 'hedgedesk[gpu]')")

    def fake_cupy(error: Exception):
        def device_count():
            raise error

        runtime = types.SimpleNamespace(getDeviceCount=device_count, CUDARuntimeError=RuntimeError)
        return types.SimpleNamespace(cuda=types.SimpleNamespace(runtime=runtime))

    monkeypatch.setitem(sys.modules, "cupy", fake_cupy(RuntimeError("no driver found")))
    assert gpu_status() == (False, "no CUDA device visible (no driver found)")
    monkeypatch.setitem(sys.modules, "cupy", fake_cupy(KeyError("surprise")))
    assert gpu_status() == (False, "the CUDA check failed: 'surprise'")


def _nvvm_available() -> bool:
    try:
        from numba import cuda, float64

        def trivial(x):
            x[0] = 1.0

        cuda.compile_ptx(trivial, (float64[::1],), device=False, cc=(9, 0))
    except Exception:
        return False
    return True


@pytest.mark.skipif(not _nvvm_available(), reason="needs the CUDA toolkit's NVVM")
def test_real_kernel_compiles_to_fp64_ptx(monkeypatch):
    import numba.cuda.api as api
    import numba.cuda.dispatcher as dispatcher
    from numba import cuda

    if not cuda.is_available():
        # simulate is compiled as a device function for the current device: fake one
        fake = lambda: types.SimpleNamespace(compute_capability=(9, 0))  # noqa: E731
        monkeypatch.setattr(api, "get_current_device", fake)
        monkeypatch.setattr(dispatcher, "get_current_device", fake)
    ptx = sweep_gpu.kernel_ptx((9, 0))
    assert ".entry" in ptx and ".target sm_90" in ptx
    for op in ("add.f64", "mul.f64", "div.rn.f64", "sqrt.rn.f64", "st.global.f64"):
        assert re.search(rf"\b{re.escape(op)}\b", ptx), op  # the metrics are FP64 throughout
