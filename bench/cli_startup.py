"""Benchmark: the whole ``hedgedesk`` process, from a fresh interpreter to its exit.

Each measurement starts a new Python process, as a trader's shell would, and times it from the
parent: ``hedgedesk --help``, and ``hedgedesk risk --json`` on the built-in demo desk (its
config, its data, its options book). Baseline, measured the same way in this run:
``python -c "import numpy, pandas"``. Target: ``risk --json`` <= 1.3x the baseline. A fourth
process imports exactly the modules ``risk --json`` loads and stops: the share of imports.
Medians of ``--repeats`` runs, the three commands interleaved so that a busy machine slows each
alike. Then ``-X importtime``'s heaviest top-level imports of ``risk --json``: what remains.
Run: python bench/cli_startup.py [--repeats N]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

COMMANDS = {
    "baseline": ["-c", "import numpy, pandas"],
    "--help": ["-m", "hedgedesk.tui.cli", "--help"],
    "risk --json": ["-m", "hedgedesk.tui.cli", "risk", "--json"],
}
# the modules risk --json loads beyond the baseline, listed by a first run
PROBE = """
import json, sys
from hedgedesk.tui.cli.main import main
main(['risk', '--json'])
sys.stderr.write("MODULES " + json.dumps(sorted(sys.modules)) + "\\n")
"""


def _env(home: str) -> dict[str, str]:
    """The demo desk whatever the user has configured, a log file out of their way, and
    bytecode as an installed package has it (under ``home``: the checkout is left alone), even
    where ``PYTHONDONTWRITEBYTECODE`` would recompile every module at each start.
    """
    drop = ("HEDGEDESK_CONFIG", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(HOME=home, XDG_CONFIG_HOME=home, XDG_STATE_HOME=home, XDG_CACHE_HOME=home)
    env["PYTHONPYCACHEPREFIX"] = os.path.join(home, "pycache")
    return env


def run_once(args: list[str], env: dict[str, str]) -> float:
    """Seconds from spawning ``python args`` to its exit (it must succeed)."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, *args], env=env, capture_output=True, check=True, timeout=120)
    return time.perf_counter() - t0


def risk_imports(env: dict[str, str]) -> list[str]:
    """``python -c`` arguments that import what ``risk --json`` imports, and do nothing else."""
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    )
    line = next(ln for ln in proc.stderr.splitlines() if ln.startswith("MODULES "))
    loaded = json.loads(line.removeprefix("MODULES "))
    ours = [m for m in loaded if m.split(".")[0] in ("hedgedesk", "scipy")]
    return ["-c", "import numpy, pandas\n" + "\n".join(f"import {m}" for m in ours)]


def heaviest_imports(env: dict[str, str], top: int) -> list[tuple[float, str]]:
    """``risk --json``'s costliest imports beyond numpy and pandas (ms, cumulative)."""
    # numpy and pandas first, as the baseline does: what is listed after them is the extra
    code = (
        "import sys, numpy, pandas\n"
        "from hedgedesk.tui.cli.main import main\n"
        "sys.exit(main(['risk', '--json']))"
    )
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    rows = re.findall(r"import time:\s+\d+ \|\s+(\d+) \| (\S.*)$", proc.stderr, re.M)
    # a name without leading spaces is imported by the program itself, not by another module
    outer = [(int(us) / 1e3, name) for us, name in rows if not name.startswith(" ")]
    startup = ("numpy", "pandas", "site", "encodings")  # the baseline's, and the interpreter's
    extra = [(ms, name) for ms, name in outer if name.split(".")[0] not in startup]
    return sorted(extra, reverse=True)[:top]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=9)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = _env(home)
        commands = {**COMMANDS, "risk --json, its imports only": risk_imports(env)}
        for cmd in commands.values():  # warm the file cache (and write the bytecode)
            run_once(cmd, env)
        times: dict[str, list[float]] = {k: [] for k in commands}
        for _ in range(args.repeats):
            for name, cmd in commands.items():
                times[name].append(run_once(cmd, env))
        med = {k: statistics.median(v) for k, v in times.items()}
        base = med["baseline"]
        print(f"median of {args.repeats} fresh processes (Python {sys.version.split()[0]}):")
        for name in commands:
            lo, hi = min(times[name]), max(times[name])
            print(
                f"  {name:<30}{med[name]:7.3f} s  (range {lo:.3f}-{hi:.3f})"
                f"  {med[name] / base:5.2f}x baseline"
            )
        ratio = med["risk --json"] / base
        verdict = "meets" if ratio <= 1.3 else "misses"
        print(f"risk --json / baseline: {ratio:.2f}x ({verdict} the 1.3x target)")
        print("heaviest imports of risk --json (ms, cumulative, one run):")
        for ms, name in heaviest_imports(env, 8):
            print(f"  {ms:8.1f}  {name}")


if __name__ == "__main__":
    main()
