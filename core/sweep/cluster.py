"""Sweeps on a Dask cluster: each chunk of the grid is split into tasks that the cluster's
workers run on their own backend (their GPU when CuPy sees one, else the CPU kernel), and the
results come back to the same engine loop, so the ledger, resume and progress are unchanged.

Addresses: ``tcp://host:8786`` or ``tls://host:8786`` (a scheduler the user started, e.g. with
``hedgedesk cluster local``), or ``local:N`` (N worker processes on this machine, started and
stopped with the run, bound to loopback). A worker that dies mid-task has its tasks re-run on
another by the scheduler; a scheduler that goes away fails the run, which stays resumable from
its last finished chunk.

Dask moves task arguments with pickle and lets any connected client run any function on the
workers, so whoever can connect runs code as the user who started them. The clusters started
here therefore use mutual TLS by default: ``local:N`` with temporary credentials held in
memory, ``hedgedesk cluster local`` with :class:`Credentials` in a 0700 folder (a private CA
whose key is discarded once it has signed the cluster's and a client's certificate). A plain
``tcp://`` cluster is an explicit choice, and on a non-loopback interface an insecure one.
Neither serves HTTP unless a dashboard is asked for (:mod:`hedgedesk.core.sweep.dask_nodes`).
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import itertools
import os
import stat
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hedgedesk.core.atomic import write_atomic
from hedgedesk.core.config import address_kind
from hedgedesk.core.errors import HedgedeskError
from hedgedesk.core.paths import state_dir

if TYPE_CHECKING:  # the kernel (numba) is imported where a backend runs it
    from hedgedesk.core.sweep.kernel import KernelArgs

CHUNK_SECONDS = 0.5  # a distributed chunk's target wall time: amortises task overhead, keeps
# cancel latency within the desk's 0.5 s
TASKS_PER_WORKER = 2  # a chunk's tasks per worker: a slow worker holds back at most half its share

_worker_state: dict = {}  # per worker process: its backend and the kernel arguments it holds


@dataclass(frozen=True)
class ClusterSpec:
    """Where the sweep runs: ``address`` as above; TLS files when the address is ``tls://``."""

    address: str
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None

    @property
    def local_workers(self) -> int | None:
        """N of a ``local:N`` address (None for a scheduler's address)."""
        return int(self.address[len("local:") :]) if address_kind(self.address) == "local" else None

    @classmethod
    def from_config(cls, c) -> ClusterSpec | None:
        """The config's [cluster] table (None when it has none)."""
        if c is None:
            return None
        return cls(c.address, *(str(p) if p else None for p in (c.tls_ca, c.tls_cert, c.tls_key)))

    def check(self) -> None:
        """Raise a HedgedeskError naming --cluster unless the address is well formed and a
        ``tls://`` address has its three TLS files.
        """
        kind = address_kind(self.address)
        if kind is None:
            expected = (
                "local:N with N >= 1 worker processes"
                if self.address.startswith("local:")
                else "tcp://host:port, tls://host:port or local:N"
            )
            raise HedgedeskError(f"--cluster {self.address!r}: expected {expected}")
        if kind == "tls" and not (self.tls_ca and self.tls_cert and self.tls_key):
            raise HedgedeskError(
                f"--cluster {self.address}: a tls:// scheduler needs "
                "--tls-ca, --tls-cert and --tls-key (or [cluster] tls_ca, "
                "tls_cert, tls_key)"
            )

    def security(self):
        """The ``distributed`` Security of a ``tls://`` address (encryption required), else
        None.
        """
        if not self.address.startswith("tls://"):
            return None
        from distributed.security import Security

        return Security(
            tls_ca_file=self.tls_ca,
            tls_client_cert=self.tls_cert,
            tls_client_key=self.tls_key,
            require_encryption=True,
        )


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise HedgedeskError("cluster sweeps need Dask: pip install 'hedgedesk[dist]'") from None
    return distributed


CERT_DAYS = 365  # a certificate's validity
RENEW_DAYS = 30  # credentials this close to expiry are replaced on the next start


def credentials_dir() -> Path:
    """The default folder of ``hedgedesk cluster local``'s credentials: ``cluster`` in
    :func:`hedgedesk.core.paths.state_dir`.
    """
    return state_dir() / "cluster"


@dataclass(frozen=True)
class Credentials:
    """The TLS files of a cluster in ``folder`` (0700, each file 0600): ``ca.pem``, a private
    CA's certificate (its key is never written); ``cluster.pem``/``cluster.key``, the
    scheduler's and workers' certificate and key; ``client.pem``/``client.key``, a client's.
    Only a peer holding a certificate the CA signed can connect, and only the CA's key could
    sign one.
    """

    folder: Path

    @property
    def ca(self) -> Path:
        """The CA certificate every peer checks the others' certificates against."""
        return self.folder / "ca.pem"

    @property
    def cluster_cert(self) -> Path:
        """The scheduler's and workers' certificate (server and client use)."""
        return self.folder / "cluster.pem"

    @property
    def cluster_key(self) -> Path:
        """The scheduler's and workers' private key."""
        return self.folder / "cluster.key"

    @property
    def client_cert(self) -> Path:
        """A client's certificate (``hedgedesk sweep --tls-cert``)."""
        return self.folder / "client.pem"

    @property
    def client_key(self) -> Path:
        """A client's private key (``hedgedesk sweep --tls-key``)."""
        return self.folder / "client.key"

    def security(self):
        """The ``distributed`` Security of every role (scheduler, worker, client), with
        encryption required.
        """
        from distributed.security import Security

        return Security(
            tls_ca_file=str(self.ca),
            tls_scheduler_cert=str(self.cluster_cert),
            tls_scheduler_key=str(self.cluster_key),
            tls_worker_cert=str(self.cluster_cert),
            tls_worker_key=str(self.cluster_key),
            tls_client_cert=str(self.client_cert),
            tls_client_key=str(self.client_key),
            require_encryption=True,
        )


def _crypto():
    try:
        import cryptography  # noqa: F401
    except ImportError:
        raise HedgedeskError(
            "TLS credentials for a cluster need cryptography: pip install 'hedgedesk[dist]'"
        ) from None


def ensure_credentials(folder: Path | None = None) -> tuple[Credentials, str | None]:
    """The credentials in ``folder`` (default :func:`credentials_dir`) when they are valid,
    else new ones written there; with why new ones were made (None when reused).

    The folder is created 0700; an existing one must be the user's and 0700 (someone else
    able to write there could plant their own CA), else a HedgedeskError names it. Files are
    written 0600, each atomically; credentials are valid when every file is there, 0600, the
    keys match their certificates, the CA signed both and none expires within RENEW_DAYS.
    """
    _crypto()
    folder = Path(folder).expanduser() if folder else credentials_dir()
    _private_folder(folder)
    creds = Credentials(folder.absolute())
    problem = _problem(creds)
    if problem is None:
        return creds, None
    _make(creds)
    return creds, f"new TLS credentials in {creds.folder} ({problem})"


def _private_folder(folder: Path) -> None:
    """Create ``folder`` 0700 (its parents as the umask says), or check an existing one."""
    where = f"--credentials {folder}"
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        try:
            folder.mkdir(mode=0o700)
            os.chmod(folder, 0o700)  # whatever the umask
        except FileExistsError:
            pass  # checked below like any existing folder
        st = os.stat(folder)
    except OSError as exc:
        raise HedgedeskError(f"{where}: cannot create the folder ({exc.strerror})") from None
    if not stat.S_ISDIR(st.st_mode):
        raise HedgedeskError(f"{where}: expected a folder, found a file")
    if st.st_uid != os.getuid():
        raise HedgedeskError(f"{where}: the folder belongs to uid {st.st_uid}, expected yours")
    if st.st_mode & 0o077:
        raise HedgedeskError(
            f"{where}: the folder is mode {stat.S_IMODE(st.st_mode):04o}, expected 0700 "
            "(others could read or plant keys): chmod 700 it or remove it"
        )


def _problem(c: Credentials) -> str | None:
    """Why the credentials in ``c.folder`` cannot be reused, else None."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    files = (c.ca, c.cluster_cert, c.cluster_key, c.client_cert, c.client_key)
    missing = [p.name for p in files if not p.is_file()]
    if len(missing) == len(files):
        return "none yet"
    if missing:
        return f"{', '.join(missing)} missing"
    loose = [p.name for p in files if os.stat(p).st_mode & 0o077]
    if loose:
        return f"{', '.join(loose)} readable by others"
    try:
        ca = x509.load_pem_x509_certificate(c.ca.read_bytes())
        pairs = [
            (x509.load_pem_x509_certificate(cert.read_bytes()), key)
            for cert, key in ((c.cluster_cert, c.cluster_key), (c.client_cert, c.client_key))
        ]
        renew_by = dt.datetime.now(dt.UTC) + dt.timedelta(days=RENEW_DAYS)
        for cert, key in pairs:
            cert.verify_directly_issued_by(ca)
            if load_pem_private_key(key.read_bytes(), None).public_key() != cert.public_key():
                return f"{key.name} does not match its certificate"
        if min(x.not_valid_after_utc for x in (ca, *(cert for cert, _ in pairs))) < renew_by:
            return f"a certificate expires within {RENEW_DAYS} days"
    except (ValueError, TypeError, InvalidSignature) as exc:
        return f"unreadable or not signed by ca.pem: {exc}"
    return None


def _make(c: Credentials) -> None:
    """A new CA (its key kept in memory only) and the cluster's and a client's certificate
    and key, written to ``c.folder`` 0600.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def usage(cert_sign: bool) -> x509.KeyUsage:
        return x509.KeyUsage(
            digital_signature=not cert_sign,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=not cert_sign,
            key_cert_sign=cert_sign,
            crl_sign=cert_sign,
            encipher_only=False,
            decipher_only=False,
        )

    def cert(subject: str, key, ca_key, ca: bool, purposes: list) -> x509.Certificate:
        b = (
            x509.CertificateBuilder()
            .subject_name(name(subject))
            .issuer_name(name("hedgedesk cluster CA"))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))  # tolerates a peer's clock skew
            .not_valid_after(now + dt.timedelta(days=CERT_DAYS))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), True)
            .add_extension(usage(ca), True)
        )
        if purposes:
            b = b.add_extension(x509.ExtendedKeyUsage(purposes), False)
        return b.sign(ca_key, hashes.SHA256())

    def pem_key(key) -> bytes:
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    ca_key, cluster_key, client_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca = cert("hedgedesk cluster CA", ca_key, ca_key, True, [])
    both = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    cluster = cert("hedgedesk cluster", cluster_key, ca_key, False, both)
    client = cert("hedgedesk client", client_key, ca_key, False, [ExtendedKeyUsageOID.CLIENT_AUTH])
    pem = serialization.Encoding.PEM
    contents = {
        c.ca: ca.public_bytes(pem),
        c.cluster_cert: cluster.public_bytes(pem),
        c.cluster_key: pem_key(cluster_key),
        c.client_cert: client.public_bytes(pem),
        c.client_key: pem_key(client_key),
    }
    for path, data in contents.items():
        write_atomic(path, functools.partial(Path.write_bytes, data=data), mode=0o600)


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` reaches this machine only (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name, or "" (every interface)


def check_bind(host: str, tls: bool = True, insecure: bool = False, dashboard: bool = False):
    """Raise a HedgedeskError naming --host unless binding it is safe: a non-loopback
    interface needs TLS, and a dashboard (plain, unauthenticated HTTP) loopback, unless
    ``insecure``.
    """
    if "://" in host or not host:
        raise HedgedeskError(f"--host {host!r}: expected an interface address, e.g. 127.0.0.1")
    if insecure or is_loopback(host):
        return
    if not tls:
        raise HedgedeskError(
            f"--host {host}: plain tcp:// on a non-loopback interface lets anyone who can "
            "reach it run code as you: drop --no-tls, or add --insecure"
        )
    if dashboard:
        raise HedgedeskError(
            f"--host {host}: the dashboard is plain HTTP without credentials: drop "
            "--dashboard (or bind loopback), or add --insecure"
        )


def worker_env(workers: int, threads: int | None = None) -> dict[str, str]:
    """Numba's threads in each local worker: ``threads``, else its share of the cores (no
    oversubscription).
    """
    return {"NUMBA_NUM_THREADS": str(threads or max(1, (os.cpu_count() or 1) // workers))}


def start_local(
    workers: int,
    host: str = "127.0.0.1",
    port: int = 0,
    dashboard: bool = False,
    gpus: bool = False,
    threads: int | None = None,
    security=None,
    tls: bool = True,
    insecure: bool = False,
):
    """A scheduler and ``workers`` worker processes on this machine (one Dask thread each,
    ``threads`` numba threads, default its share of the cores), bound to ``host`` (loopback
    unless told otherwise). With ``gpus`` and dask-cuda installed: one worker per visible GPU
    instead.

    Every connection is mutual TLS with ``security`` (a ``distributed`` Security, default
    temporary credentials made here and held in memory), unless ``tls`` is False (plain
    ``tcp://``: loopback only unless ``insecure``, see :func:`check_bind`). No HTTP server
    listens unless ``dashboard``.
    """
    check_bind(host, tls, insecure, dashboard)
    _import_distributed()
    if tls and security is None:
        _crypto()
        from distributed.security import Security

        security = Security.temporary()
    from hedgedesk.core.sweep.dask_nodes import without_http

    common = {
        "host": host,
        "scheduler_port": port,
        "dashboard_address": f"{host}:0" if dashboard else None,
        "security": security if tls else None,
        "protocol": "tls://" if tls else "tcp://",
    }
    if gpus:
        try:
            from dask_cuda import LocalCUDACluster  # type: ignore[import-not-found]  # optional
        except ImportError:
            raise HedgedeskError("--gpus needs dask-cuda: pip install dask-cuda") from None
        return (LocalCUDACluster if dashboard else without_http(LocalCUDACluster))(**common)
    from distributed import LocalCluster

    return (LocalCluster if dashboard else without_http(LocalCluster))(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        env=worker_env(workers, threads),
        **common,
    )


def _run_task(
    token: str, args: KernelArgs, row0: int, count: int, rows: np.ndarray | None
) -> np.ndarray:
    """On a worker: the kernel on its own backend, prepared once per leg (``token``)."""
    backend = _worker_backend()
    if _worker_state.get("token") != token:
        backend.prepare(args)
        _worker_state["token"] = token
    return backend.run(row0, count, rows)


def _worker_backend():
    """The worker's backend, made on first use: its GPU, else the CPU kernel on its share of
    the cores (NUMBA_NUM_THREADS as the cluster set it; numba may have been imported before
    the variable was, so it is applied here too).
    """
    if "backend" not in _worker_state:
        from hedgedesk.core.sweep.engine import choose_backend

        threads = os.environ.get("NUMBA_NUM_THREADS")
        if threads and threads.isdigit():
            import numba

            most = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]  # set at import
            numba.set_num_threads(min(int(threads), most))
        _worker_state["backend"], _ = choose_backend("auto")
    return _worker_state["backend"]


def _describe_worker() -> str:
    return _worker_backend().device


class ClusterBackend:
    """A sweep backend whose ``run`` spreads one chunk over the cluster's workers and returns
    the same (n_out, count) array as the local kernels. ``close()`` disconnects (and stops a
    ``local:N`` cluster).
    """

    name = "cluster"
    chunk_seconds = CHUNK_SECONDS

    def __init__(self, spec: ClusterSpec):
        spec.check()
        distributed = _import_distributed()
        self.spec = spec
        self._cluster = None
        n_local = spec.local_workers
        try:
            if n_local is not None:
                self._cluster = start_local(n_local)
                self.client = distributed.Client(self._cluster)
            else:
                self.client = distributed.Client(
                    spec.address, security=spec.security(), timeout="10s"
                )
        except OSError as exc:
            if self._cluster is not None:
                self._cluster.close()
            raise HedgedeskError(
                f"--cluster {spec.address}: cannot reach the scheduler ({exc})"
            ) from None
        if n_local is not None:
            self.client.wait_for_workers(n_local, timeout=120)
        devices = self.client.run(_describe_worker)
        if not devices:
            self.close()
            raise HedgedeskError(f"--cluster {spec.address}: the scheduler has no workers")
        kinds: dict[str, int] = {}
        for d in devices.values():
            kinds[d] = kinds.get(d, 0) + 1
        self.workers = len(devices)
        self.device = (
            f"Dask {self.client.scheduler.address}, {self.workers} worker(s): "
            + "; ".join(f"{n} x {d}" for d, n in kinds.items())
        )
        self._args = None
        self._token = ""

    def prepare(self, args: KernelArgs) -> None:
        """Send the leg's kernel arguments to every worker once (one object: the workers
        receive the same :class:`KernelArgs`).
        """
        self._token = uuid.uuid4().hex
        [self._args] = self.client.scatter([args], broadcast=True, hash=False)

    def run(self, row0: int, count: int, rows: np.ndarray | None = None) -> np.ndarray:
        """Metrics of grid rows [row0, row0 + count), or of the listed ``rows``, split into
        tasks over the workers: shape (n_out(n_blocks), count), columns in request order.
        """
        n_tasks = max(1, min(count // 64, self.workers * TASKS_PER_WORKER))
        bounds = np.linspace(0, count, n_tasks + 1).astype(int)
        futures = []
        for a, b in itertools.pairwise(bounds):
            if b <= a:
                continue
            part = None if rows is None else rows[a:b]
            futures.append(
                self.client.submit(
                    _run_task,
                    self._token,
                    self._args,
                    row0 + (a if rows is None else 0),
                    int(b - a),
                    part,
                    pure=False,
                )
            )
        return np.concatenate(self.client.gather(futures), axis=1)

    def close(self) -> None:
        """Disconnect from the scheduler, and stop a ``local:N`` cluster."""
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()
