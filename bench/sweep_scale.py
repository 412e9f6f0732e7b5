"""Scale check: a sweep of 1e8 configurations in bounded host memory and ledger disk.

Runs ``run_sweep`` end to end with the run ledger (as ``hedgedesk sweep`` does) on one
SYNTHETIC leg of ``--days`` daily returns (250 by default: the issue's "few days", so 1e8
configurations finish in minutes on 2 cores) and a grid of ``--configs`` configurations
(10 rebalance periods x 10 windows x exposures x 100 hedge ratios x 10 drift bands). While it
runs, the ledger's files (database, WAL) are measured at every progress event. Prints one JSON
object: peak resident memory of the process (bytes, ``ru_maxrss``), the ledger's peak and final
bytes and per configuration, wall and kernel seconds, config-days per second and the share of
the wall the kernel took. Targets (issue 15): peak memory < 2 GiB, ledger < 16 B/configuration.

Run: python bench/sweep_scale.py [--configs 100000000] [--days 250] [--backend cpu|gpu]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from hedgedesk.core.sweep.engine import SweepRequest, run_sweep
from hedgedesk.core.sweep.grid import Grid
from hedgedesk.core.sweep.ledger import Ledger

sys.path.insert(0, str(Path(__file__).parent))
from sweep import synthetic_market  # bench/sweep.py, beside this file


def scale_grid(configs: int, legs: tuple) -> Grid:
    """``configs`` configurations (a multiple of 1e5): exposures fill what the fixed axes leave."""
    fixed = 10 * 10 * 100 * 10
    if configs % fixed:
        raise SystemExit(f"--configs must be a multiple of {fixed:,}")
    return Grid(
        legs=legs,
        hedge="H",
        rebalance=tuple(range(1, 11)),
        window=tuple(range(20, 70, 5)),
        exposure=tuple(np.linspace(0.1, 2.0, configs // fixed)),
        hedge_ratio=tuple(np.linspace(0.0, 1.5, 100)),
        drift_band=tuple(np.linspace(0.0, 0.1, 10)),
    )


def ledger_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", type=int, default=100_000_000)
    ap.add_argument("--days", type=int, default=250)
    ap.add_argument("--backend", default="cpu", choices=("auto", "cpu", "gpu"))
    args = ap.parse_args()
    market, legs = synthetic_market(args.days, n_legs=1)
    grid = scale_grid(args.configs, legs)
    request = SweepRequest(grid, backend=args.backend, walk_forward=0.7)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "runs.sqlite"
        ledger = Ledger(path)
        peak_disk = 0
        t0 = time.perf_counter()
        gen = run_sweep(request, market, ledger=ledger)
        events = 0
        try:
            while True:
                next(gen)
                events += 1
                peak_disk = max(peak_disk, ledger_bytes(path))
        except StopIteration as stop:
            result = stop.value
        wall = time.perf_counter() - t0
        final_disk = ledger_bytes(path)
        ledger.close()
    t = result.summary.timings
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    print(
        json.dumps(
            {
                "configurations": grid.n_rows,
                "days": args.days,
                "status": str(result.status),
                "peak_memory_bytes": peak_rss,
                "ledger_peak_bytes": peak_disk,
                "ledger_final_bytes": final_disk,
                "ledger_peak_bytes_per_config": peak_disk / grid.n_rows,
                "wall_s": wall,
                "kernel_s": t.kernel_s,
                "stream_s": t.stream_s,
                "ledger_s": t.ledger_s,
                "score_s": t.score_s,
                "config_days_per_s": t.config_days_per_s,
                "kernel_share": t.kernel_s / wall,
                "progress_events": events,
                "pbo": [leg.pbo.to_json() if leg.pbo else None for leg in result.summary.legs],
                "best": result.summary.top[0].params_json() if result.summary.top else None,
            },
            default=str,
        )
    )


if __name__ == "__main__":
    main()
