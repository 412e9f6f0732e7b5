"""``hedgedesk sweep --cluster`` and ``hedgedesk cluster local`` end to end: a loopback cluster
gives the same JSON as this machine's CPU run; ``cluster local`` prints its address, serves a
sweep and stops cleanly on SIGTERM; bad addresses and flag mixes are one-line errors.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.tui.cli.test_sweep import GRID_ARGS, run, run_json, write_prices

pytest.importorskip("distributed")
REPO = Path(__file__).resolve().parents[3]
LOCAL_ARGS = tuple(a for a in GRID_ARGS if a not in ("--backend", "cpu"))


@pytest.fixture
def prices(tmp_path) -> Path:
    return write_prices(tmp_path / "data" / "prices.csv")


def _without_run(d: dict) -> dict:
    """The figures: what differs between two runs of one sweep is only its identity."""
    drop = ("run_id", "backend", "timings", "request", "plan")  # the plan names the backend
    return {k: v for k, v in d.items() if k not in drop}


def test_sweep_on_local_cluster_equals_the_cpu_run(capsys, prices, tmp_path):
    ledger = tmp_path / "runs.sqlite"
    here = run_json(capsys, "sweep", "--data", prices, *GRID_ARGS, "--ledger", ledger)
    there = run_json(
        capsys, "sweep", "--data", prices, *LOCAL_ARGS, "--cluster", "local:2", "--ledger", ledger
    )
    assert there["backend"]["name"] == "cluster" and "2 worker(s)" in there["backend"]["device"]
    assert _without_run(there) == _without_run(here)
    listed = run_json(capsys, "runs", "--ledger", ledger)["runs"]
    assert [r["backend"] for r in listed] == ["cluster", "cpu"]


@pytest.mark.parametrize(
    "argv, words",
    [
        (("--cluster", "http://h:1"), "expected tcp://host:port"),
        (("--cluster", "local:0"), "local:N with N >= 1"),
        (("--cluster", "tls://h:1"), "needs --tls-ca"),
        (("--tls-ca", "ca.pem"), "go with --cluster"),
        (("--cluster", "local:2", "--backend", "gpu"), "drop --backend"),
    ],
)
def test_bad_cluster_flags_are_one_line(capsys, prices, tmp_path, argv, words):
    rc, _, err = run(
        capsys, "sweep", "--data", prices, *LOCAL_ARGS, *argv, "--ledger", tmp_path / "runs.sqlite"
    )
    assert rc == 2 and words in err and len(err.strip().splitlines()) == 1


def test_cluster_local_serves_a_sweep_and_stops_on_sigterm(capsys, prices, tmp_path):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hedgedesk.tui.cli",
            "cluster",
            "local",
            "--workers",
            "1",
            "--port",
            "0",
            "--json",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        lines = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("}"):
                break
        info = json.loads("".join(lines))
        assert info["address"].startswith("tcp://127.0.0.1:") and info["workers"] == 1
        out = run_json(
            capsys,
            "sweep",
            "--data",
            prices,
            *LOCAL_ARGS,
            "--cluster",
            info["address"],
            "--ledger",
            tmp_path / "runs.sqlite",
        )
        assert out["status"] == "done" and "1 worker(s)" in out["backend"]["device"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("port", ["70000", "-1", "http"])
def test_cluster_local_refuses_a_port_out_of_range(capsys, port):
    rc, out, err = run(capsys, "cluster", "local", "--port", port)
    assert rc == 2 and out == ""
    assert "expected a whole number in 0..65535" in err and len(err.strip().splitlines()) == 1
