"""Dask's scheduler and worker without their HTTP servers, for the clusters that
:mod:`hedgedesk.core.sweep.cluster` starts.

Dask's scheduler always listens for HTTP (port 8787, else a free one) and each worker on a
free port, even with no dashboard: info, JSON, Prometheus and health pages that need no
credentials, TLS or not. These classes start no listener at all; a cluster started with its
dashboard keeps Dask's own classes. Imported only where a cluster starts (Dask is optional).
"""

from __future__ import annotations

from typing import TypeVar

from distributed import Scheduler, Worker
from distributed.deploy.spec import SpecCluster


class QuietScheduler(Scheduler):
    """A Dask scheduler that serves no HTTP (no dashboard, no info or metrics pages)."""

    def start_http_server(self, routes, dashboard_address, default_port=0, ssl_options=None):
        """Start nothing: the scheduler's only listener is its Dask comm (TLS by default)."""


class QuietWorker(Worker):
    """A Dask worker that serves no HTTP (no metrics or health pages); ``dask worker
    --worker-class hedgedesk.core.sweep.dask_nodes.QuietWorker`` starts one by hand.
    """

    def start_http_server(self, routes, dashboard_address, default_port=0, ssl_options=None):
        """Start nothing: the worker's only listeners are its Dask comm and its nanny's."""


Cluster = TypeVar("Cluster", bound=SpecCluster)


def without_http(cluster_cls: type[Cluster]) -> type[Cluster]:
    """``cluster_cls`` (``LocalCluster``, ``LocalCUDACluster``) whose scheduler and workers are
    the quiet ones above: its specs are switched just before it starts them.
    """

    class Quiet(cluster_cls):  # type: ignore[valid-type,misc]  # a class made from an argument
        scheduler_spec: dict
        new_spec: dict
        worker_spec: dict

        async def _start(self):
            self.scheduler_spec = {**self.scheduler_spec, "cls": QuietScheduler}
            self.new_spec = _quiet_worker(self.new_spec)
            self.worker_spec = {k: _quiet_worker(v) for k, v in self.worker_spec.items()}
            await super()._start()

    Quiet.__name__ = Quiet.__qualname__ = f"Quiet{cluster_cls.__name__}"
    return Quiet


def _quiet_worker(spec: dict) -> dict:
    """A worker spec whose nanny starts a :class:`QuietWorker` (a bare worker spec: one)."""
    if isinstance(spec.get("cls"), type) and issubclass(spec["cls"], Worker):
        return {**spec, "cls": QuietWorker}
    return {**spec, "options": {**spec.get("options", {}), "worker_class": QuietWorker}}
