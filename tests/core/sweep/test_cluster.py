"""Cluster sweeps on a loopback Dask cluster of worker processes: the same results as this
machine's kernel, with a worker killed mid-run, and after the scheduler goes away (the run is
resumed from the ledger). The address and config checks run without Dask.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hedgedesk.core.config import parse_config, resolve_config_path
from hedgedesk.core.errors import ConfigError, HedgedeskError
from hedgedesk.core.sweep.cluster import ClusterSpec
from hedgedesk.core.sweep.engine import CpuBackend, SweepRequest, run_sweep
from hedgedesk.core.sweep.grid import Grid, estimators, parse_leg
from hedgedesk.core.sweep.ledger import Ledger


def drive(gen):
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value


# -- addresses and config (no Dask needed) ------------------------------------------------------
@pytest.mark.parametrize(
    "address, words",
    [
        ("local:0", "local:N with N >= 1"),
        ("local:x", "local:N"),
        ("http://h:8786", "expected tcp://host:port"),
        ("h:8786", "expected tcp://host:port"),
        ("tls://h:8786", "needs --tls-ca, --tls-cert and --tls-key"),
    ],
)
def test_bad_addresses_are_refused_in_words(address, words):
    with pytest.raises(HedgedeskError, match=words):
        ClusterSpec(address).check()


def test_good_addresses_pass():
    ClusterSpec("tcp://10.0.0.5:8786").check()
    ClusterSpec("tls://h:8786", "ca.pem", "c.pem", "k.pem").check()
    assert ClusterSpec("local:3").local_workers == 3
    assert ClusterSpec("tcp://h:1").local_workers is None


def _with(extra: str):
    text = Path(resolve_config_path()).read_text() + extra
    return parse_config(text, Path("/tmp/desk/config.toml"))


def test_config_cluster_table():
    assert _with("").cluster is None
    c = _with(
        '[cluster]\naddress = "tls://h:8786"\ntls_ca = "ca.pem"\ntls_cert = "/k/c.pem"\n'
        'tls_key = "k.pem"\n'
    ).cluster
    assert c.tls_ca == Path("/tmp/desk/ca.pem") and c.tls_cert == Path("/k/c.pem")
    spec = ClusterSpec.from_config(c)
    assert spec.address == "tls://h:8786" and spec.tls_key == "/tmp/desk/k.pem"
    spec.check()


@pytest.mark.parametrize(
    "extra, words",
    [
        ('[cluster]\naddress = "http://x"\n', "cluster.address: got 'http://x'"),
        ('[cluster]\naddress = "tls://h:1"\n', "cluster.tls_ca"),
        ('[cluster]\naddress = "local:2"\nworkers = 2\n', "cluster.workers: unknown key"),
    ],
)
def test_config_cluster_errors_name_the_key(extra, words):
    with pytest.raises(ConfigError, match=words):
        _with(extra)


# -- on a real loopback cluster ---------------------------------------------------------------
distributed = pytest.importorskip("distributed")
from hedgedesk.core.sweep.cluster import (  # noqa: E402
    ClusterBackend,
    ensure_credentials,
    start_local,
)


@pytest.fixture(scope="module")
def study():
    """The demo data and a 7,128-configuration grid (two legs, two cost scenarios)."""
    from hedgedesk.core.config import load_config
    from hedgedesk.core.data.sources import load_market

    cfg = load_config(resolve_config_path())
    grid = Grid(
        legs=(parse_leg("AAPL"), parse_leg("MSFT")),
        hedge="SP500",
        rebalance=(1, 5, 21),
        window=(20, 60, 120),
        estimator=estimators(("ols", "ewma"), (10.0, 30.0)),
        exposure=tuple(np.linspace(0.5, 1.5, 11)),
        hedge_ratio=(0.0, 0.5, 1.0),
        drift_band=(0.0, 0.1),
        cost=(0.0, 0.001),
        impact=(0.0,),
    )
    # keep = all: every configuration's figures come back, to compare row by row
    request = SweepRequest(grid, start=cfg.data.start, end=cfg.data.end, rf=cfg.risk.rf, keep="all")
    market = load_market(cfg)
    local = drive(run_sweep(request, market, backend=CpuBackend()))
    return request, market, local


def _same(a, b) -> None:
    """Identical figures: every configuration's row, the leaderboard and the overfitting."""
    pd.testing.assert_frame_equal(
        a.per_config.reset_index(drop=True), b.per_config.reset_index(drop=True)
    )
    assert len(a.per_config) == a.summary.counts.configurations
    assert a.summary.top == b.summary.top
    assert a.summary.legs == b.summary.legs
    assert a.summary.walk_forward == b.summary.walk_forward
    assert a.summary.counts == b.summary.counts
    assert a.summary.overfitting == b.summary.overfitting
    assert a.summary.scenarios == b.summary.scenarios


def test_local_cluster_of_two_processes_gives_the_local_results(study, tmp_path):
    request, market, local = study
    backend = ClusterBackend(ClusterSpec("local:2"))
    try:
        assert backend.workers == 2 and "2 worker(s)" in backend.device
        with Ledger(tmp_path / "runs.sqlite") as ledger:
            result = drive(run_sweep(request, market, ledger, backend=backend))
            rec = ledger.get(result.run_id)
    finally:
        backend.close()
    assert result.status == "done" and rec.backend == "cluster"
    _same(local, result)


class KillsAWorker(ClusterBackend):
    """Kills one worker process (SIGKILL) while the second chunk's tasks are in flight."""

    def __init__(self, spec):
        super().__init__(spec)
        self.calls = 0
        self.killed = None
        gather = self.client.gather

        def gather_after_a_kill(futures, *args, **kwargs):
            self.calls += 1
            if self.calls == 2:
                pids = self.client.run(os.getpid)
                self.killed = sorted(pids.values())[0]
                os.kill(self.killed, signal.SIGKILL)
            return gather(futures, *args, **kwargs)

        self.client.gather = gather_after_a_kill


def test_a_worker_killed_mid_run_changes_nothing(study):
    request, market, local = study
    backend = KillsAWorker(ClusterSpec("local:2"))
    try:
        result = drive(run_sweep(request, market, backend=backend))
    finally:
        backend.close()
    assert backend.killed is not None and backend.calls > 2
    assert result.status == "done"
    _same(local, result)


def test_a_scheduler_that_goes_away_leaves_a_resumable_run(study, tmp_path):
    request, market, local = study
    creds, _ = ensure_credentials(tmp_path / "creds")
    cluster = start_local(2, port=0, security=creds.security())
    files = (str(creds.ca), str(creds.client_cert), str(creds.client_key))
    backend = ClusterBackend(ClusterSpec(cluster.scheduler.address, *files))
    runs = 0
    sweeping = False  # the grid's chunks, not the unhedged twins' (keep = all) before them
    real_run, real_prepare = backend.run, backend.prepare

    def prepare(args):
        nonlocal sweeping
        sweeping = bool(args.ratios.any())
        real_prepare(args)

    def run_then_lose_the_scheduler(row0, count, rows=None):
        nonlocal runs
        runs += sweeping and rows is None  # the grid's chunks, not the re-runs of listed rows
        if runs == 3:
            cluster.close()  # scheduler and workers gone after two of the grid's chunks
        return real_run(row0, count, rows)

    backend.prepare = prepare
    backend.run = run_then_lose_the_scheduler
    backend.chunk_seconds = 1e-4  # chunks of the smallest size: the grid has many
    with Ledger(tmp_path / "runs.sqlite") as ledger:
        with pytest.raises(Exception):  # noqa: B017 (Dask's own comm/timeout errors)
            drive(run_sweep(request, market, ledger, backend=backend))
        backend.client.close()
        rec = ledger.runs()[0]
        assert rec.status == "failed" and 0 < rec.n_done < rec.n_configs
        kept = rec.n_done
        with pytest.raises(HedgedeskError, match="resume it with --cluster"):
            drive(run_sweep(None, market, ledger, resume=rec.id))
        again = ClusterBackend(ClusterSpec("local:2"))
        try:
            result = drive(run_sweep(None, market, ledger, resume=rec.id, backend=again))
        finally:
            again.close()
        assert ledger.get(rec.id).status == "done" and ledger.get(rec.id).resumed == 1
    assert kept > 0
    _same(local, result)
