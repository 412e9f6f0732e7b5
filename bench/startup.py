"""Benchmark: time from a fresh interpreter to the desk's first paint, and to its figures.

Each measurement starts a new Python process (imports included, as a trader's `hedgedesk`
would) that runs the app headless at 80x24 and reports, on stderr, the moment of its first
refresh and the moment the demo book's figures are on screen. Baseline, measured the same way
in this run: a bare Textual app with one Static. Targets (issue 14): first paint <= 2x the bare
app's; the demo's figures on screen <= 1.0 s.
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
kind = sys.argv[1]
from textual.app import App
from textual.widgets import Static

def mark(label):
    sys.stderr.write(f"{label} {time.time():.6f}\n")
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
        # Textual calls DeskApp's handlers after these (it walks the MRO): no super() here,
        # which would run the desk's twice (two loads)
        def on_mount(self):
            self.call_after_refresh(lambda: mark("paint"))
        def on_desk_loaded(self, message):
            self.call_after_refresh(lambda: (mark("figures"), self.exit()))
    Timed(load_config(resolve_config_path())).run(headless=True, size=(80, 24))
"""


def measure(kind: str) -> dict[str, float]:
    """Seconds from the process's start (the parent's clock before the spawn) to each mark."""
    t0 = time.time()  # the wall clock: the child's marks read the same one
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, kind], capture_output=True, text=True, timeout=120, check=True
    )
    # the marks only: the desk's alert warnings also reach stderr here (the hedgedesk command
    # sends them to its log file; this child has no log handler)
    marks = dict(m.groups() for m in re.finditer(r"^(paint|figures) ([0-9.]+)$", proc.stderr, re.M))
    # the interpreter's start-up counts; its exit (after the marks) does not
    return {k: float(v) - t0 for k, v in marks.items()}


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
        f"= {statistics.median(figures) / b:.2f}x bare (target 1.0 s)"
    )
    print(
        f"ranges: paint {min(paint):.3f}-{max(paint):.3f} s, "
        f"figures {min(figures):.3f}-{max(figures):.3f} s"
    )


if __name__ == "__main__":
    main()
