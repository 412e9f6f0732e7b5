"""``hedgedesk sweep --cluster`` and ``hedgedesk cluster local`` end to end: a loopback cluster
gives the same JSON as this machine's CPU run; ``cluster local`` starts with TLS, prints its
address and how to connect, refuses strangers, serves no HTTP, serves a sweep and stops cleanly
on SIGTERM; plain tcp:// is named as insecure; bad addresses and flag mixes are one-line errors.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.core.sweep.test_cluster_security import assert_refused, dask_ports, listening_ports
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


def start_cluster_local(tmp_path: Path, *argv: str) -> tuple[subprocess.Popen, dict, str]:
    """``hedgedesk cluster local --workers 1 --port 0 --json *argv`` in a subprocess: the
    process, its JSON, and what it wrote to stderr before it.
    """
    cli = [sys.executable, "-m", "hedgedesk.tui.cli", "cluster", "local", "--workers", "1"]
    err = tmp_path / f"stderr-{time.monotonic_ns()}.txt"
    with err.open("w") as f:
        proc = subprocess.Popen(
            [*cli, "--port", "0", "--json", *argv],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=f,
            text=True,
            env=dict(os.environ),
        )
    lines = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("}"):
            break
    try:
        info = json.loads("".join(lines))
    except json.JSONDecodeError:
        stop(proc)
        raise AssertionError(err.read_text()) from None
    return proc, info, err.read_text()


def stop(proc: subprocess.Popen) -> int:
    """SIGTERM, then its exit status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _client(info: dict):
    from distributed import Client
    from distributed.security import Security

    tls = info["tls"]
    security = Security(
        tls_ca_file=tls["ca"],
        tls_client_cert=tls["cert"],
        tls_client_key=tls["key"],
        require_encryption=True,
    )
    return Client(info["address"], security=security, timeout="10s")


def test_cluster_local_is_tls_only_serves_a_sweep_and_stops_on_sigterm(capsys, prices, tmp_path):
    from distributed.security import Security

    pytest.importorskip("psutil")
    creds = tmp_path / "state" / "creds"
    proc, info, err = start_cluster_local(tmp_path, "--credentials", str(creds))
    try:
        assert info["address"].startswith("tls://127.0.0.1:") and info["workers"] == 1
        assert info["dashboard"] is None and info["insecure"] is False
        assert info["credentials"] == str(creds) and f"new TLS credentials in {creds}" in err
        assert stat.S_IMODE(creds.stat().st_mode) == 0o700
        assert {stat.S_IMODE(p.stat().st_mode) for p in creds.iterdir()} == {0o600}
        tls = info["tls"]
        sweep_argv = shlex.split(info["sweep_command"])
        assert sweep_argv == [
            "hedgedesk", "sweep", "--cluster", info["address"],
            "--tls-ca", tls["ca"], "--tls-cert", tls["cert"], "--tls-key", tls["key"],
        ]  # fmt: skip
        assert shlex.split(info["worker_command"])[:6] == [
            "dask", "worker", info["address"], "--tls-ca-file", tls["ca"], "--tls-cert"
        ]  # fmt: skip
        # strangers: no certificate, or one from another CA, at the scheduler and the worker
        with _client(info) as client:
            peers = [info["address"], *client.scheduler_info()["workers"]]
            ports = dask_ports(client)
        for address in peers:
            assert_refused(address.replace("tls://", "tcp://"))
            assert_refused(address, Security.temporary())
        assert listening_ports(proc.pid) == ports  # no HTTP server: Dask's comms only
        out = run_json(
            capsys,
            "sweep",
            "--data",
            prices,
            *LOCAL_ARGS,
            *sweep_argv[2:],
            "--ledger",
            tmp_path / "runs.sqlite",
        )
        assert out["status"] == "done" and "1 worker(s)" in out["backend"]["device"]
        assert stop(proc) == 0
    finally:
        stop(proc)
    again, info, err = start_cluster_local(tmp_path, "--credentials", str(creds))  # reused
    try:
        assert info["tls"] == tls and "new TLS credentials" not in err
    finally:
        assert stop(again) == 0


def test_cluster_local_insecure_says_so(tmp_path):
    proc, info, err = start_cluster_local(tmp_path, "--insecure")
    try:
        assert info["address"].startswith("tcp://127.0.0.1:") and info["insecure"] is True
        assert info["tls"] is None and info["credentials"] is None
        assert "--tls" not in info["sweep_command"]
        [warning] = err.strip().splitlines()
        assert warning.startswith("hedgedesk: warning: --insecure:") and "plain tcp://" in warning
    finally:
        assert stop(proc) == 0


@pytest.mark.parametrize(
    "argv, words",
    [
        (("--host", "0.0.0.0", "--no-tls"), "--host 0.0.0.0: plain tcp://"),
        (("--host", "10.0.0.7", "--no-tls"), "add --insecure"),
        (("--host", "0.0.0.0", "--dashboard"), "the dashboard is plain HTTP"),
        (("--no-tls", "--credentials", "x"), "--credentials goes with TLS"),
    ],
)
def test_cluster_local_refuses_plain_exposure_in_one_line(capsys, argv, words):
    rc, out, err = run(capsys, "cluster", "local", "--workers", "1", *argv)
    assert rc == 2 and out == ""
    assert words in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("port", ["70000", "-1", "http"])
def test_cluster_local_refuses_a_port_out_of_range(capsys, port):
    rc, out, err = run(capsys, "cluster", "local", "--port", port)
    assert rc == 2 and out == ""
    assert "expected a whole number in 0..65535" in err and len(err.strip().splitlines()) == 1
