"""Sweeps on a Dask cluster: each chunk of the grid is split into tasks that the cluster's
workers run on their own backend (their GPU when CuPy sees one, else the CPU kernel), and the
results come back to the same engine loop, so the ledger, resume and progress are unchanged.

Addresses: ``tcp://host:8786`` or ``tls://host:8786`` (a scheduler the user started, e.g. with
``hedgedesk cluster local``), or ``local:N`` (N worker processes on this machine, started and
stopped with the run, bound to loopback). A worker that dies mid-task has its tasks re-run on
another by the scheduler; a scheduler that goes away fails the run, which stays resumable from
its last finished chunk.

Dask moves task arguments with pickle, so connect only to schedulers and workers you started
yourself; TLS (``Security``) authenticates and encrypts every connection.
"""

from __future__ import annotations

import itertools
import os
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from hedgedesk.core.config import address_kind
from hedgedesk.core.errors import HedgedeskError

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
):
    """A scheduler and ``workers`` worker processes on this machine (one Dask thread each,
    ``threads`` numba threads, default its share of the cores), bound to ``host`` (loopback
    unless told otherwise). With ``gpus`` and dask-cuda installed: one worker per visible GPU
    instead.
    """
    _import_distributed()
    if gpus:
        try:
            from dask_cuda import LocalCUDACluster  # type: ignore[import-not-found]  # optional
        except ImportError:
            raise HedgedeskError("--gpus needs dask-cuda: pip install dask-cuda") from None
        return LocalCUDACluster(
            host=host, scheduler_port=port, dashboard_address=f"{host}:0" if dashboard else None
        )
    from distributed import LocalCluster

    return LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host=host,
        scheduler_port=port,
        dashboard_address=f"{host}:0" if dashboard else None,
        env=worker_env(workers, threads),
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
