"""Benchmark: scaling of a cluster sweep from 1 to 2 Dask worker processes, in one process.

The same synthetic study (``--legs`` stocks x about ``--configs`` configurations x ``--days``
days; bench/sweep.py's data) runs four ways, and config-days per second of the kernel phase
(chunks sent, run and gathered) are compared:

  (a) this process, the CPU kernel on 1 numba thread (the baseline: one core);
  (b) this process, the CPU kernel on every core;
  (c) a local cluster of one worker process with one thread;
  (d) two worker processes with one thread each.

Efficiency = rate(d) / (2 x rate(c)); (c) / (a) is the cost of Dask itself. Worker start-up
(about 4 s: processes, imports, the kernel loaded from numba's cache) is reported apart.
Run: python bench/cluster.py [--legs N] [--configs N] [--days N]
"""

from __future__ import annotations

import argparse
import time

from sweep import grid_of, synthetic_market, timed_sweep, with_legs


def run(request, market, backend) -> tuple[float, float]:
    from hedgedesk.core.sweep.engine import run_sweep

    result, wall = timed_sweep(run_sweep(request, market, backend=backend))
    t = result.summary.timings
    return t.config_days / t.kernel_s, wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--legs", type=int, default=4)
    ap.add_argument("--configs", type=int, default=20_000)
    ap.add_argument("--days", type=int, default=3_000)
    a = ap.parse_args()

    import numba

    from hedgedesk.core.sweep.cluster import ClusterBackend, ClusterSpec, start_local
    from hedgedesk.core.sweep.engine import CpuBackend, SweepRequest

    market, legs = synthetic_market(a.days, a.legs)
    request = SweepRequest(with_legs(grid_of(a.configs), legs), walk_forward=0.0)
    print(f"{a.legs} legs x {request.grid.rows_per_leg:,} configurations x {a.days:,} days")
    cpu = CpuBackend()
    run(SweepRequest(with_legs(grid_of(500), legs[:1]), walk_forward=0.0), market, cpu)  # JIT
    cores = numba.get_num_threads()
    numba.set_num_threads(1)
    base, wall = run(request, market, CpuBackend())
    print(f"(a) this process, 1 thread:     {base:10.3g} config-days/s  ({wall:.1f} s)")
    numba.set_num_threads(cores)
    every, wall = run(request, market, CpuBackend())
    print(
        f"(b) this process, {cores} threads:    {every:10.3g} config-days/s  ({wall:.1f} s)"
        f"  x{every / base:.2f} of (a)"
    )
    rates = {}
    for n in (1, 2):
        t0 = time.perf_counter()
        cluster = start_local(n, threads=1, tls=False)  # one core per worker, whatever the machine
        backend = ClusterBackend(ClusterSpec(cluster.scheduler.address))
        started = time.perf_counter() - t0
        try:
            rates[n], wall = run(request, market, backend)
        finally:
            backend.close()
            cluster.close()
        label = "(c)" if n == 1 else "(d)"
        print(
            f"{label} {n} worker(s), 1 thread each: {rates[n]:10.3g} "
            f"config-days/s  ({wall:.1f} s; workers up in {started:.1f} s)  "
            f"x{rates[n] / base:.2f} of (a)"
        )
    print(
        f"scaling 1 -> 2 workers: x{rates[2] / rates[1]:.2f}, efficiency "
        f"{rates[2] / (2 * rates[1]):.0%}; Dask overhead at 1 worker: "
        f"{1 - rates[1] / base:.0%} of (a)"
    )


if __name__ == "__main__":
    main()
