"""The clusters hedgedesk starts are closed to strangers: credentials in a 0700 folder (files
0600) reused while valid and replaced when not; plain tcp:// refused on a non-loopback interface
unless insecure; a ``local:N`` cluster speaks only mutual TLS, so a plain client or one with
another CA's certificate cannot connect to its scheduler or workers; and it listens on no port
but its Dask comms (no HTTP server).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
from pathlib import Path

import pytest

from hedgedesk.core.errors import HedgedeskError
from hedgedesk.core.sweep import cluster
from hedgedesk.core.sweep.cluster import check_bind, ensure_credentials

pytest.importorskip("cryptography")


def _mode(p: Path) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


FILES = ("ca.pem", "cluster.pem", "cluster.key", "client.pem", "client.key")


def test_credentials_are_private_and_reused(tmp_path):
    folder = tmp_path / "state" / "cluster"
    creds, note = ensure_credentials(folder)
    assert note == f"new TLS credentials in {folder} (none yet)"
    assert _mode(folder) == 0o700 and sorted(os.listdir(folder)) == sorted(FILES)
    assert all(_mode(folder / f) == 0o600 for f in FILES)
    before = {f: (folder / f).read_bytes() for f in FILES}
    again, note = ensure_credentials(folder)
    assert note is None and again == creds
    assert {f: (folder / f).read_bytes() for f in FILES} == before


def test_the_default_folder_is_in_the_state_dir(tmp_path):
    creds, _ = ensure_credentials()
    assert creds.folder == Path(os.environ["XDG_STATE_HOME"]) / "hedgedesk" / "cluster"
    assert _mode(creds.folder) == 0o700


def _other_ca(tmp_path: Path, name: str) -> None:
    other, _ = ensure_credentials(tmp_path / "other")
    shutil.copy(other.ca, tmp_path / "creds" / name)


@pytest.mark.parametrize(
    "damage, words",
    [
        (lambda d, t: (d / "client.key").unlink(), "client.key missing"),
        (lambda d, t: os.chmod(d / "cluster.key", 0o644), "cluster.key readable by others"),
        (lambda d, t: _other_ca(t, "ca.pem"), "not signed by ca.pem"),
        (lambda d, t: (d / "client.pem").write_text("junk"), "unreadable"),
        (
            lambda d, t: shutil.copy(d / "cluster.key", d / "client.key"),
            "client.key does not match its certificate",
        ),
    ],
)
def test_damaged_credentials_are_replaced(tmp_path, damage, words):
    folder = tmp_path / "creds"
    first, _ = ensure_credentials(folder)
    old_ca = first.ca.read_bytes()
    damage(folder, tmp_path)
    _, note = ensure_credentials(folder)
    assert note is not None and words in note
    assert first.ca.read_bytes() != old_ca  # a new CA: what the old files signed is void
    assert all(_mode(folder / f) == 0o600 for f in FILES)
    assert ensure_credentials(folder)[1] is None


def test_credentials_near_expiry_are_replaced(tmp_path, monkeypatch):
    ensure_credentials(tmp_path / "creds")
    monkeypatch.setattr(cluster, "RENEW_DAYS", cluster.CERT_DAYS + 1)
    _, note = ensure_credentials(tmp_path / "creds")
    assert note is not None and "expires within" in note


def test_a_folder_others_can_open_is_refused(tmp_path):
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    os.chmod(loose, 0o755)
    with pytest.raises(HedgedeskError, match="mode 0755, expected 0700"):
        ensure_credentials(loose)
    assert os.listdir(loose) == []
    (tmp_path / "file").write_text("")
    with pytest.raises(HedgedeskError, match="expected a folder"):
        ensure_credentials(tmp_path / "file")


@pytest.mark.parametrize(
    "host, tls, insecure, dashboard, words",
    [
        ("0.0.0.0", False, False, False, "add --insecure"),
        ("10.1.2.3", False, False, False, "add --insecure"),
        ("::", False, False, False, "add --insecure"),
        ("gpu-box.example", False, False, False, "add --insecure"),
        ("0.0.0.0", True, False, True, "dashboard is plain HTTP"),
        ("tcp://127.0.0.1", True, False, False, "expected an interface address"),
        ("", True, False, False, "expected an interface address"),
        ("127.0.0.1", False, False, False, None),
        ("127.0.0.2", False, False, True, None),
        ("::1", False, False, False, None),
        ("localhost", False, False, False, None),
        ("0.0.0.0", True, False, False, None),
        ("0.0.0.0", False, True, True, None),
    ],
)
def test_plain_binds_beyond_loopback_need_insecure(host, tls, insecure, dashboard, words):
    if words is None:
        check_bind(host, tls, insecure, dashboard)
    else:
        with pytest.raises(HedgedeskError, match=words):
            check_bind(host, tls, insecure, dashboard)


# -- a real loopback cluster ----------------------------------------------------------------
def assert_refused(address: str, security=None) -> None:
    """A Dask client, or a bare Dask connection (workers take ``run`` from any peer), with
    ``security`` (None: plain, no certificate) cannot connect to ``address``.
    """
    from distributed.comm import connect

    args = security.get_connection_args("client") if security else {}
    with pytest.raises(OSError):  # CommClosedError, FatalCommClosedError, TimeoutError
        asyncio.run(connect(address, timeout=3, **args))


def listening_ports(pid: int) -> set[int]:
    """The TCP ports process ``pid`` and its children listen on."""
    import psutil

    me = psutil.Process(pid)
    return {
        c.laddr.port
        for p in (me, *me.children(recursive=True))
        for c in p.net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN
    }


def dask_ports(client) -> set[int]:
    """The ports of the scheduler, workers and nannies the client's scheduler knows."""
    info = client.scheduler_info()
    addresses = [info["address"], *info["workers"]]
    addresses += [w["nanny"] for w in info["workers"].values()]
    return {int(a.rsplit(":", 1)[1]) for a in addresses}


def test_a_local_cluster_takes_only_its_own_clients_and_serves_no_http():
    pytest.importorskip("distributed")
    pytest.importorskip("psutil")
    from distributed.security import Security

    from hedgedesk.core.sweep.cluster import ClusterBackend, ClusterSpec

    before = listening_ports(os.getpid())  # this test process's own, if any
    backend = ClusterBackend(ClusterSpec("local:1"))
    try:
        client = backend.client
        info = client.scheduler_info()
        assert info["address"].startswith("tls://127.0.0.1:")
        peers = [info["address"], *info["workers"], *(w["nanny"] for w in info["workers"].values())]
        assert all(a.startswith("tls://") for a in peers) and len(peers) == 3
        another_ca = Security.temporary()
        for address in peers:
            assert_refused(address.replace("tls://", "tcp://"))
            assert_refused(address, another_ca)
        assert client.run(os.getpid)  # its own client still runs functions on the workers
        assert listening_ports(os.getpid()) - before == dask_ports(client)
    finally:
        backend.close()
