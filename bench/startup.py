"""Benchmark: time from a fresh interpreter to the desk's first paint, and to its figures.

Each measurement starts a new Python process (imports included, as a trader's `hedgedesk`
would) that runs the app headless at 80x24 and reports, on stderr, the moment of its first
refresh and the moment the demo book's figures are on screen. Baseline, measured the same way
in this run: a bare Textual app with one Static. Target: first paint <= 1.5 s on this machine.
Run: python bench/startup.py [--repeats N]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time

CHILD = r"""
import sys, time
T0 = time.perf_counter()
kind = sys.argv[1]
from textual.app import App
from textual.widgets import Static

def mark(label):
    sys.stderr.write(f"{label} {time.perf_counter() - T0:.4f}\n")
    sys.stderr.flush()

if kind == "bare":
    class Bare(App):
        def compose(self):
            yield Static("hello")
        def on_mount(self):
            self.call_after_refresh(lambda: (mark("paint"), self.exit()))
    Bare().run(headless=True, size=(80, 24))
else:
    from pathlib import Path

    import hedgedesk.tui.app
    # noqa: F401  (what the hedgedesk command imports before the desk)
    import hedgedesk.tui.cli.main
    from hedgedesk.core.config import load_config, resolve_config_path
    from hedgedesk.tui.app import DeskApp

    class Timed(DeskApp):
        # a subclass in -c has no file
        CSS_PATH = Path(hedgedesk.tui.app.__file__).parent / "desk.tcss"
        def on_mount(self):
            super().on_mount()
            self.call_after_refresh(lambda: mark("paint"))
        def on_desk_loaded(self, message):
            super().on_desk_loaded(message)
            self.call_after_refresh(lambda: (mark("figures"), self.exit()))
    Timed(load_config(resolve_config_path())).run(headless=True, size=(80, 24))
"""


def measure(kind: str) -> dict[str, float]:
    """Seconds from process start (as seen by the parent) to each mark."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, kind], capture_output=True, text=True, timeout=120, check=True
    )
    spawn = time.perf_counter() - t0
    # the marks only: the desk's alert warnings also reach stderr here (the hedgedesk command
    # sends them to its log file; this child has no log handler)
    marks = dict(m.groups() for m in re.finditer(r"^(paint|figures) ([0-9.]+)$", proc.stderr, re.M))
    # the child's clock starts after the interpreter is up: add that start-up time back
    inside = {k: float(v) for k, v in marks.items()}
    overhead = spawn - max(inside.values())
    return {k: v + overhead for k, v in inside.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    measure("desk")  # warm the file cache and numba's on-disk cache
    bare = [measure("bare")["paint"] for _ in range(args.repeats)]
    desk = [measure("desk") for _ in range(args.repeats)]
    paint = [d["paint"] for d in desk]
    figures = [d["figures"] for d in desk]
    b = statistics.median(bare)
    print(f"bare Textual app, first paint   {b:.3f} s (median of {args.repeats})")
    print(
        f"desk, first paint              {statistics.median(paint):.3f} s "
        f"= {statistics.median(paint) / b:.2f}x bare"
    )
    print(
        f"desk, demo figures on screen   {statistics.median(figures):.3f} s "
        f"= {statistics.median(figures) / b:.2f}x bare"
    )


if __name__ == "__main__":
    main()
