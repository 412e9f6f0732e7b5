"""Scale (issue 15): a sweep of 1e8 configurations over 250 synthetic days, run end to end with
the run ledger in its own process (``bench/sweep_scale.py``), stays under 2 GiB of peak host
memory and 16 bytes of ledger per configuration, and finishes with a summary.

The child reports its own peak resident memory (``ru_maxrss``) and the ledger's largest size
seen at any progress event; the parent checks the child's peak too (``RUSAGE_CHILDREN``).
It takes a few minutes on 2 cores: most of it the kernel (2e10 config-days).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[3] / "bench" / "sweep_scale.py"
GIB = 2**30


def test_1e8_configurations_in_bounded_memory_and_disk():
    done = subprocess.run(
        [sys.executable, str(BENCH), "--configs", "100000000", "--days", "250"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["status"] == "done"
    assert report["configurations"] == 100_000_000
    assert report["peak_memory_bytes"] < 2 * GIB, report
    assert resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 < 2 * GIB
    assert report["ledger_peak_bytes_per_config"] < 16, report
    assert report["progress_events"] > 10  # it streamed: progress all along
    pbo = report["pbo"][0]
    assert pbo["method"] == "sampled" and pbo["population"] > 10**6
    assert 50_000 < pbo["configurations"] < 150_000 and 0 < pbo["standard_error"] < 0.5
