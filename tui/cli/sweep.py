"""Sweep commands: ``sweep`` (run, resume or detach a grid search) and ``runs`` (the ledger).

Grid flags take a list (``1,5,21``) or a range ``a:b:n`` (n evenly spaced values); flags left
out come from the config's ``[sweep]`` table, then from the defaults. Progress goes to stderr
(only on a terminal); the result goes to stdout, as one JSON object with ``--json``.

Before any work the sweep is planned (``hedgedesk.core.sweep.plan``): its size, estimated
time, memory and disk are printed (under ``"plan"`` with ``--json``), and a plan above the
config's ``[sweep.limits]`` exits 2 unless ``--yes``; ``--plan`` prints it and runs nothing.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from hedgedesk.core.bounds import MAX_CASH
from hedgedesk.core.errors import HedgedeskError
from hedgedesk.tui.cli.common import emit_json, load_cfg, market_for, number_arg, whole_arg

if TYPE_CHECKING:
    from hedgedesk.core.sweep.results import SweepSummary

GRID_FLAGS = {  # flag -> (Grid field, integer?)
    "rebalance": ("rebalance", True),
    "window": ("window", True),
    "exposure": ("exposure", False),
    "hedge_ratio": ("hedge_ratio", False),
    "drift_band": ("drift_band", False),
    "cost": ("cost", False),
    "impact": ("impact", False),
}


def add_parsers(sub, parents) -> dict:
    common, window = parents.common, parents.window
    s = sub.add_parser(
        "sweep",
        parents=[common, window],
        help="grid search of dynamic-beta "
        "hedge strategies on the CPU or GPU, ranked with overfitting checks",
    )
    s.add_argument(
        "--data",
        action="append",
        metavar="PATH",
        help="price file or folder; repeat for more (default: the config's data)",
    )
    s.add_argument(
        "--tickers",
        metavar="T1[,T2..]",
        help="long legs, each its own sweep: tickers, or baskets NAME=T1+T2[@equal|@volume]",
    )
    s.add_argument("--hedge", metavar="T", help="hedge instrument")
    for flag, (_, integer) in GRID_FLAGS.items():
        s.add_argument(
            "--" + flag.replace("_", "-"),
            dest=flag,
            metavar="LIST|a:b:n",
            help="whole numbers" if integer else None,
        )
    s.add_argument("--estimator", metavar="ols,ewma", help="beta estimators (default ols)")
    s.add_argument("--halflife", metavar="LIST|a:b:n", help="EWMA half-lives in days (default 20)")
    s.add_argument(
        "--capital",
        type=number_arg(0, MAX_CASH, lo_open=True),
        default=1_000_000.0,
        metavar="USD",
        help="starting capital; matters only for --impact",
    )
    s.add_argument(
        "--rf",
        type=number_arg(-0.5, 1),
        default=None,
        metavar="r",
        help="annual risk-free rate (default: the config's risk.rf, or 0 with --data)",
    )
    s.add_argument(
        "--backend",
        choices=("auto", "cpu", "gpu"),
        help="auto (default): the GPU when CuPy sees one, else the CPU",
    )
    s.add_argument("--top", type=whole_arg(1), default=20, metavar="K")
    s.add_argument(
        "--walk-forward",
        type=number_arg(0, 0.9),
        default=0.7,
        metavar="F",
        help="in-sample fraction of the walk-forward split (0: off; default 0.7)",
    )
    s.add_argument(
        "--blocks",
        type=whole_arg(2),
        default=8,
        metavar="S",
        help="CSCV blocks for the probability of backtest overfitting (even)",
    )
    s.add_argument(
        "--keep",
        choices=("best", "all"),
        help="best (default): the top K, per-axis marginals and a PBO sample; "
        "all: also every configuration's figures in a columnar file",
    )
    s.add_argument(
        "--yes",
        action="store_true",
        help="run even when the plan exceeds a limit of [sweep.limits]",
    )
    s.add_argument(
        "--plan",
        action="store_true",
        help="print the plan (size, estimated time, memory, disk) and run nothing",
    )
    s.add_argument(
        "--resume",
        metavar="RUN",
        help="continue an interrupted or cancelled run "
        "with its recorded parameters (--top, --walk-forward, --blocks included)",
    )
    s.add_argument(
        "--detach",
        action="store_true",
        help="run headless in the background; "
        "survives logout (follow with hedgedesk runs show RUN)",
    )
    s.add_argument(
        "--ledger",
        metavar="PATH",
        help="run ledger database (default: "
        "$HEDGEDESK_LEDGER, else ~/.local/state/hedgedesk/runs.sqlite)",
    )
    s.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help="run the chunks on a Dask cluster: "
        "tls://host:8786 (as hedgedesk cluster local prints it), tcp://host:8786, or local:N "
        "worker processes started for this run, over TLS with temporary credentials "
        "(default: the config's [cluster] address, else this machine)",
    )
    s.add_argument("--tls-ca", metavar="PEM", help="CA certificate for a tls:// scheduler")
    s.add_argument("--tls-cert", metavar="PEM", help="client certificate for a tls:// scheduler")
    s.add_argument("--tls-key", metavar="PEM", help="client key for a tls:// scheduler")

    r = sub.add_parser(
        "runs", parents=[common], help="the sweep run ledger: list, show, diff, rm, prune"
    )
    r.add_argument(
        "action",
        nargs="?",
        choices=("show", "diff", "rm", "prune"),
        metavar="show|diff|rm|prune",
    )
    r.add_argument("run", nargs="*", metavar="RUN", help="run id, unique prefix, or 'last'")
    r.add_argument("--limit", type=whole_arg(1), default=20, metavar="N")
    r.add_argument(
        "--older-than",
        type=number_arg(0),
        metavar="DAYS",
        help="prune: the runs last written more than DAYS days ago",
    )
    r.add_argument("--ledger", metavar="PATH", help="run ledger database")

    c = sub.add_parser("cluster", help="start a Dask cluster for sweeps on this machine")
    cs = c.add_subparsers(
        dest="cluster_command", parser_class=type(c), metavar="local", required=True
    )
    loc = cs.add_parser(
        "local",
        parents=[common],
        help="a scheduler and N worker processes "
        "here; prints the address for --cluster, runs until Ctrl-C",
    )
    loc.add_argument(
        "--workers",
        type=whole_arg(1),
        default=max(1, os.cpu_count() or 1),
        metavar="N",
        help="worker processes (default: one per core)",
    )
    loc.add_argument(
        "--host",
        default="127.0.0.1",
        help="interface to bind (default loopback: only this machine can reach it; "
        "with TLS, the default, any interface may be bound)",
    )
    loc.add_argument(
        "--port",
        type=whole_arg(0, 65535),
        default=8786,
        metavar="P",
        help="scheduler port (default 8786; 0 picks a free one)",
    )
    loc.add_argument("--gpus", action="store_true", help="one worker per GPU (needs dask-cuda)")
    loc.add_argument(
        "--dashboard",
        action="store_true",
        help="serve Dask's dashboard (plain HTTP, no credentials) on --host; "
        "without it no HTTP server listens",
    )
    loc.add_argument(
        "--credentials",
        type=Path,
        metavar="DIR",
        help="folder of the cluster's TLS files, made 0700 and "
        "reused while valid (default: ~/.local/state/hedgedesk/cluster)",
    )
    loc.add_argument(
        "--no-tls",
        action="store_true",
        help="plain tcp:// without credentials: any user who can reach the port runs code "
        "as you; loopback only unless --insecure",
    )
    loc.add_argument(
        "--insecure",
        action="store_true",
        help="plain tcp:// (as --no-tls) on any --host, and a dashboard on any --host",
    )
    return {
        ("sweep", None): cmd_sweep,
        ("runs", None): cmd_runs,
        ("cluster", "local"): cmd_cluster_local,
    }


# -- the request -----------------------------------------------------------------------------
def grid_tickers(request) -> list[str]:
    """The series a sweep reads: every long leg's tickers and the hedge (a folder's other
    files are then left unread).
    """
    grid = request.grid
    return sorted({t for leg in grid.legs for t in leg.tickers} | {grid.hedge})


def build_request(args, cfg):
    """The request of the config (``cfg`` may be None: runs on --data files without --config
    use the defaults) with the flags given as overrides; errors name the flag, or the config
    key a value came from.
    """
    from hedgedesk.core.sweep.grid import FLAGS
    from hedgedesk.core.sweep.request import SweepRequest

    overrides = {
        name: getattr(args, name)
        for name in ("hedge", *GRID_FLAGS, "estimator", "halflife", "backend", "keep")
        if getattr(args, name) is not None
    }
    for name, expected in (
        ("estimator", "ols, ewma or ols,ewma"),
        ("halflife", "days, e.g. 10,20"),
    ):
        if name in overrides and not str(overrides[name]).strip():  # blank is the form's default
            raise HedgedeskError(f"--{name}: empty; expected {expected}")
    if args.tickers is not None:
        overrides["legs"] = args.tickers
    if args.data:  # the config's data section (dates, risk-free rate) is not these files'
        overrides.update(start=args.start, end=args.end, rf=0.0 if args.rf is None else args.rf)
    else:
        overrides.update(
            {n: getattr(args, n) for n in ("start", "end", "rf") if getattr(args, n) is not None}
        )
    return SweepRequest.from_config(
        cfg,
        FLAGS,
        capital=args.capital,
        top=args.top,
        walk_forward=args.walk_forward,
        blocks=args.blocks,
        data=args.data or (),
        **overrides,
    )


def _ledger(args):
    from hedgedesk.core.sweep.ledger import Ledger

    return Ledger(Path(args.ledger).expanduser() if args.ledger else None)


# -- sweep -----------------------------------------------------------------------------------
def cmd_sweep(args) -> int:
    if args.detach:
        if args.plan:
            raise HedgedeskError("--plan prints the plan and runs nothing: drop --detach")
        return _detach(args)
    from hedgedesk.core.sweep.engine import choose_backend, run_sweep
    from hedgedesk.core.sweep.plan import PlanCancelled, PlanLimits, plan_sweep
    from hedgedesk.core.sweep.request import SweepRequest

    ledger = _ledger(args)
    # with --data files the config counts only when named explicitly (its [sweep] grid, limits)
    cfg = load_cfg(args) if not args.data or getattr(args, "config", None) else None
    if args.resume:
        given = [
            f
            for f in (
                "tickers",
                "hedge",
                *GRID_FLAGS,
                "estimator",
                "halflife",
                "backend",
                "start",
                "end",
                "rf",
                "keep",
            )
            if getattr(args, f) is not None
        ]
        if given:
            flags = ", ".join("--" + f.replace("_", "-") for f in given)
            raise HedgedeskError(
                f"--resume continues the run as it was recorded (grid, dates "
                f"and backend); drop {flags}"
            )
        record = ledger.get(args.resume)
        recorded = SweepRequest.from_dict(record.params)
        paths = args.data or list(recorded.data)
        market, _, _ = market_for(args, paths, grid_tickers(recorded))
        request, resume, planned = None, record.id, recorded
    else:
        request, resume = build_request(args, cfg), None
        planned = request
        market, _, _ = market_for(args, args.data, grid_tickers(request))

    cancel = threading.Event()

    def on_sigint(signum, frame):  # first Ctrl-C: finish the chunk, keep results; second: stop
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        print("\ncancelling after this chunk (Ctrl-C again to abort)...", file=sys.stderr)

    limits = PlanLimits.from_config(cfg)
    spec = cluster_spec(args)
    if spec is not None:
        from hedgedesk.core.sweep.cluster import ClusterBackend

        print(f"connecting to the Dask cluster {spec.address}...", file=sys.stderr)
        backend, note = ClusterBackend(spec), f"cluster {spec.address}"
    else:  # a resumed run stays on its backend: results must be identical
        backend, note = choose_backend(record.backend if resume else planned.backend)
    previous = signal.signal(signal.SIGINT, on_sigint)
    live = sys.stderr.isatty()
    try:
        try:
            plan = plan_sweep(planned, market, backend, note, limits, cancel)
        except PlanCancelled as exc:
            print(f"hedgedesk: {exc}", file=sys.stderr)
            return 130
        refused = not (resume or args.yes or args.plan) and plan.exceeded
        if args.plan or refused:
            return _stop_at_plan(plan, args.json, bool(refused))
        if not args.json and not resume:
            print(format_plan(plan), file=sys.stderr)
        gen = run_sweep(
            request,
            market,
            ledger,
            resume=resume,
            cancel=cancel,
            backend=backend,
            backend_note=note,
            rate_hint=plan.calibration.config_days_per_s,
            prepared=list(plan.prepared),
        )
        shown = args.json or not resume
        while True:
            try:
                event = next(gen)
            except StopIteration as stop:
                result = stop.value
                break
            if not shown:  # a resumed run's plan once the run's checks have passed
                print(format_plan(plan), file=sys.stderr)
                shown = True
            if live:
                sys.stderr.write("\r" + _progress_line(event)[:120].ljust(120))
                sys.stderr.flush()
    finally:
        signal.signal(signal.SIGINT, previous)
        if spec is not None:
            backend.close()
        if live:
            sys.stderr.write("\r" + " " * 120 + "\r")
    if args.json:
        emit_json(
            {
                "plan": plan.to_json(),
                **result.summary.to_json(),
                "conventions": SWEEP_CONVENTIONS,
            }
        )
    else:
        if not shown:  # a resumed run that ended before its first progress event
            print(format_plan(plan), file=sys.stderr)
        print(format_summary(result.summary))
    from hedgedesk.core.sweep.ledger import RunStatus

    if result.status == RunStatus.CANCELLED:
        print(f"cancelled: resume with hedgedesk sweep --resume {result.run_id}", file=sys.stderr)
    return 0


def _stop_at_plan(plan, as_json: bool, refused: bool) -> int:
    """--plan (print the plan, exit 0) or a plan above the limits without --yes: one line per
    exceeded figure, exit 2; with --json the plan (and the error) on stdout.
    """
    lines = [
        f"{line}: pass --yes to run it anyway, or raise sweep.limits.{key}"
        for line, key in zip(plan.exceeded, plan.over, strict=True)
    ]
    if as_json:
        out = {"plan": plan.to_json(), "conventions": PLAN_CONVENTIONS}
        if refused:
            out["error"] = "; ".join(lines)
        emit_json(out)
    else:
        print(format_plan(plan), file=sys.stderr if refused else sys.stdout)
    if not refused:
        return 0
    for line in lines:
        print(f"hedgedesk: error: {line}", file=sys.stderr)
    return 2


def cluster_spec(args):
    """--cluster (and its TLS files), else the config's [cluster], else None (this machine)."""
    from hedgedesk.core.sweep.cluster import ClusterSpec

    if args.cluster:
        spec = ClusterSpec(args.cluster, args.tls_ca, args.tls_cert, args.tls_key)
    elif args.tls_ca or args.tls_cert or args.tls_key:
        raise HedgedeskError("--tls-ca/--tls-cert/--tls-key go with --cluster tls://host:port")
    elif args.data and not getattr(args, "config", None):
        return None  # files given, no config named: the config's cluster does not apply
    else:
        spec = ClusterSpec.from_config(load_cfg(args).cluster)
    if spec is not None:
        spec.check()
        if args.backend:
            raise HedgedeskError(
                "--backend applies to this machine; on a cluster each worker "
                "uses its GPU, else its CPU: drop --backend"
            )
    return spec


def cmd_cluster_local(args) -> int:
    """Start the scheduler and workers (mutual TLS unless --no-tls/--insecure), print the
    address and how to connect a sweep or a worker, serve until Ctrl-C or SIGTERM.
    """
    from hedgedesk.core.sweep.cluster import check_bind, ensure_credentials, start_local

    tls = not (args.no_tls or args.insecure)
    check_bind(args.host, tls, args.insecure, args.dashboard)
    creds = None
    if tls:
        creds, note = ensure_credentials(args.credentials)
        if note:
            print(f"hedgedesk: {note}", file=sys.stderr)
    elif args.credentials:
        raise HedgedeskError("--credentials goes with TLS: drop --no-tls/--insecure")
    stop = threading.Event()  # set by Ctrl-C or SIGTERM, from the start on (no default kill)
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        cluster = start_local(
            args.workers,
            host=args.host,
            port=args.port,
            dashboard=args.dashboard,
            gpus=args.gpus,
            security=creds.security() if creds else None,
            tls=tls,
            insecure=args.insecure,
        )
        try:
            _serve_cluster(args, cluster, creds, stop)
        finally:
            cluster.close()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def _serve_cluster(args, cluster, creds, stop: threading.Event) -> None:
    """Print the cluster's address and how to connect (JSON with --json), then wait for
    ``stop``.
    """
    import shlex

    tls = creds is not None
    address = cluster.scheduler.address
    sweep = ["hedgedesk", "sweep", "--cluster", address]
    worker = ["dask", "worker", address]
    if creds:
        sweep += ["--tls-ca", creds.ca, "--tls-cert", creds.client_cert]
        sweep += ["--tls-key", creds.client_key]
        worker += ["--tls-ca-file", creds.ca, "--tls-cert", creds.cluster_cert]
        worker += ["--tls-key", creds.cluster_key]
    worker += ["--worker-class", "hedgedesk.core.sweep.dask_nodes.QuietWorker"]
    info = {
        "address": address,
        "workers": len(cluster.workers),
        "dashboard": cluster.dashboard_link if args.dashboard else None,
        "insecure": not tls,
        "credentials": str(creds.folder) if creds else None,
        "tls": None
        if creds is None
        else {
            "ca": str(creds.ca),
            "cert": str(creds.client_cert),
            "key": str(creds.client_key),
            "worker_cert": str(creds.cluster_cert),
            "worker_key": str(creds.cluster_key),
        },
        "sweep_command": shlex.join(map(str, sweep)),
        "worker_command": shlex.join(map(str, worker)),
    }
    if not tls:
        print(
            f"hedgedesk: warning: {'--insecure' if args.insecure else '--no-tls'}: {address} is "
            "plain tcp:// without credentials: anyone who can reach it can run code as you",
            file=sys.stderr,
        )
    if args.json:
        emit_json({**info, "conventions": "addresses as Dask writes them (tls:// or tcp://)"})
    else:
        print(
            f"Dask scheduler {address} with {info['workers']} worker(s), "
            + (f"TLS credentials in {creds.folder}" if creds else "NO TLS (insecure)")
            + (f"; dashboard {info['dashboard']}" if args.dashboard else "")
        )
        print(f"run sweeps on it with: {info['sweep_command']} ...")
        print(
            "add a worker (in hedgedesk's Python environment"
            + ("; on another machine, with copies of the CA and cluster files" if creds else "")
            + f"): {info['worker_command']}"
        )
        print("Ctrl-C stops the cluster.")
    sys.stdout.flush()
    while not stop.wait(0.5):
        pass


def _progress_line(e) -> str:
    pct = 100.0 * e.done / e.total if e.total else 100.0
    eta = f"ETA {e.eta_s:5.1f}s" if math.isfinite(e.eta_s) else "ETA  ..."
    line = (
        f"{e.phase:<16} {e.done:>12,}/{e.total:,} ({pct:3.0f}%)  {e.rate:9.3g} config-days/s  {eta}"
    )
    if e.best:
        b = e.best[0]
        line += f"  best {b.ticker} score {b.score:.3f}"
    return line


def _detach(args) -> int:
    """Start the same sweep in a new session (no controlling terminal: SIGHUP on logout does
    not reach it), wait until it has registered its run, print the run id.
    """
    from hedgedesk.core.sweep.ledger import Ledger

    argv = [a for a in args.argv if a != "--detach"]
    ledger_path = Path(args.ledger).expanduser() if args.ledger else None
    ledger = Ledger(ledger_path)
    log_dir = ledger.path.parent / "runs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"detached-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    env = dict(os.environ)
    if ledger_path:
        env["HEDGEDESK_LEDGER"] = str(ledger_path)
    with open(log, "w") as fh:
        child = subprocess.Popen(
            # -P: the current folder is not put on sys.path, so a planted ./hedgedesk is never
            # imported in place of the installed package
            [sys.executable, "-P", "-m", "hedgedesk.tui.cli", *argv],
            stdin=subprocess.DEVNULL,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
            cwd=os.getcwd(),  # explicit: the folder the user's relative paths name
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        mine = [r for r in ledger.runs(limit=50) if r.pid == child.pid]
        if mine:
            run = mine[0]
            out = {
                "run_id": run.id,
                "pid": child.pid,
                "log": str(log),
                "follow": f"hedgedesk runs show {run.id}",
            }
            if args.json:
                emit_json({**out, "conventions": "log: the detached run's output file"})
            else:
                print(
                    f"detached: run {run.id} (pid {child.pid}); log {log}\n"
                    f"follow with: hedgedesk runs show {run.id}"
                )
            return 0
        if child.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise HedgedeskError(f"the detached sweep stopped before starting: {tail[0]}")
        time.sleep(0.2)
    raise HedgedeskError(
        f"the detached sweep (pid {child.pid}) did not register within 120 s; see {log}"
    )


# The conventions of every figure `sweep --json` and `runs --json` print (CONVENTIONS).
SWEEP_CONVENTIONS = (
    "CONVENTIONS dynamic-beta backtest per configuration on daily simple returns on the dates "
    "the leg and the hedge share (never forward-filled); returns, volatilities, drawdowns and "
    "costs are fractions (0.01 = 1 %); annual_return and Sharpe annualised with the leg's "
    "periods per year (252; 365 for crypto alone), Sharpe net of the run's rf; max_drawdown "
    "<= 0 on the daily equity curve from 1; score: CONVENTIONS 'Sweep scoring' (targets "
    "Sharpe, return, drawdown, consistency on the curve scaled to the target volatility), "
    "ranked under the costliest scenario; PBO by CSCV, deflated Sharpe per period"
)
PLAN_CONVENTIONS = (
    "config_days = configurations x trading days; calibration in config-days per second; "
    "estimated_seconds in seconds; memory and disk in bytes; limits as sweep.limits states them"
)
RUNS_CONVENTIONS = (
    "times ISO 8601 UTC; elapsed_s in seconds; config_days = configurations x trading days; "
    "figures of a run's summary: " + SWEEP_CONVENTIONS
)


# -- runs ------------------------------------------------------------------------------------
def cmd_runs(args) -> int:
    ledger = _ledger(args)
    if args.action is None:
        records = ledger.runs(limit=args.limit)
        if args.json:
            emit_json({"runs": [_record_dict(r) for r in records], "conventions": RUNS_CONVENTIONS})
        else:
            print(
                f"{'run':<21}{'status':<12}{'backend':<8}{'configs':>12}{'done':>6}"
                f"{'elapsed':>9}  legs"
            )
            for r in records:
                legs = ",".join(r.params.get("grid", {}).get("legs", []))
                pct = 100.0 * r.n_done / r.n_configs if r.n_configs else 0.0
                print(
                    f"{r.id:<21}{r.status:<12}{r.backend:<8}{r.n_configs:>12,}{pct:>5.0f}%"
                    f"{(r.elapsed_s or 0):>8.1f}s  {legs[:20]}"
                )
        return 0
    if args.action == "show":
        if len(args.run) != 1:
            raise HedgedeskError("runs show: give one RUN (an id, a unique prefix or 'last')")
        r = ledger.get(args.run[0])
        if args.json:
            emit_json({**_record_dict(r, full=True), "conventions": RUNS_CONVENTIONS})
        else:
            print(
                f"run {r.id}: {r.status}, {r.n_done:,}/{r.n_configs:,} configurations, "
                f"{r.backend} on {r.device}, {(r.elapsed_s or 0):.1f} s"
                + (f", resumed {r.resumed}x" if r.resumed else "")
            )
            if r.error:
                print(f"error: {r.error}")
            if r.summary:
                print(format_summary(r.summary))
        return 0
    if args.action == "rm":
        if not args.run:
            raise HedgedeskError(
                "runs rm: give the RUNs to delete (ids, unique prefixes or 'last')"
            )
        return _report_removed([ledger.remove(run) for run in args.run], args.json)
    if args.action == "prune":
        if args.older_than is None or args.run:
            raise HedgedeskError("runs prune: give --older-than DAYS (and no RUN)")
        return _report_removed(
            [ledger.remove(r.id) for r in ledger.stale(args.older_than)], args.json
        )
    if len(args.run) != 2:
        raise HedgedeskError("runs diff: give two runs")
    d = ledger.diff(*args.run)
    if args.json:
        emit_json({**d, "conventions": RUNS_CONVENTIONS})
    else:
        for key, (a, b) in d["params"].items():
            print(f"{key}: {a} -> {b}")
        print(f"same data: {d['fingerprint_equal']}; same code: {d['code_version_equal']}")
        for side in ("a", "b"):
            s = d[side]
            top = s.get("top") or {}
            print(
                f"{s['id']}: {s['status']}, {s['n_configs']:,} configurations, best "
                f"{top.get('ticker', '-')} score {_f(top.get('score'), '.3f')}"
            )
    return 0


def _report_removed(records, as_json: bool) -> int:
    if as_json:
        emit_json({"removed": [r.id for r in records], "conventions": "run ids removed"})
    else:
        for r in records:
            print(f"removed {r.id} ({r.status}, {r.n_configs:,} configurations)")
        if not records:
            print("no run to remove")
    return 0


def _record_dict(r, full: bool = False) -> dict:
    d = {
        "run_id": r.id,
        "status": r.status,
        "created": r.created,
        "finished": r.finished,
        "backend": r.backend,
        "device": r.device,
        "n_configs": r.n_configs,
        "n_done": r.n_done,
        "config_days": r.config_days,
        "elapsed_s": r.elapsed_s,
        "resumed": r.resumed,
        "fingerprint": r.fingerprint,
        "code_version": r.code_version,
        "legs": r.params.get("grid", {}).get("legs", []),
        "error": r.error,
    }
    if full:
        summary = None if r.summary is None else r.summary.to_json()
        d.update(params=r.params, summary=summary, parquet=r.parquet)
    return d


# -- text output -----------------------------------------------------------------------------
def _size(n_bytes: int | None) -> str:
    if n_bytes is None:
        return "-"
    return f"{n_bytes / 1e9:,.2f} GB" if n_bytes >= 1e9 else f"{n_bytes / 1e6:,.1f} MB"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:,.1f} h"


def format_plan(p) -> str:
    """The plan as aligned lines: size, backend, calibration, estimates against the limits."""
    c, lim = p.calibration, p.limits
    rows = [
        (
            "plan",
            f"{p.legs} leg(s) x {p.strategies_per_leg:,} strategies x {p.scenarios} scenario(s)",
        ),
        ("configurations", f"{p.configurations:,} (limit {lim.configurations:,.0f})"),
        ("config-days", f"{p.config_days:,}"),
        ("backend", f"{p.backend_note or p.backend}: {p.device}"),
        (
            "calibration",
            f"{c.config_days_per_s:.3g} config-days/s over {c.seconds:.2f} s "
            f"(kernel load {c.load_s:.2f} s)",
        ),
        ("estimated time", f"{_duration(p.estimated_seconds)} (limit {_duration(lim.seconds)})"),
        ("peak memory", f"{_size(p.peak_memory_bytes)} (limit {lim.memory_gb:g} GB)"),
        (
            "disk",
            f"ledger {_size(p.ledger_bytes)}"
            + (f" + --keep all {_size(p.keep_bytes)}" if p.keep == "all" else "")
            + f" (limit {lim.disk_gb:g} GB)",
        ),
    ]
    return "\n".join(f"{label:<15} {text}" for label, text in rows)


def _f(value, spec: str, missing: str = "-") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return missing
    return format(value, spec)


def format_summary(s: SweepSummary) -> str:
    """The leaderboard and the overfitting figures, at most 80 columns wide."""
    c, t = s.counts, s.timings
    rank = s.ranking
    lines = [
        f"run {s.run_id}: {s.status}",
        f"{len(s.grid.legs)} leg(s) x {c.strategies_per_leg:,} strategies x "
        f"{c.scenarios} cost scenario(s) = {c.configurations:,} configurations",
        f"backend {s.backend.name}: {s.backend.device}"[:80],
        f"kernel {_f(t.kernel_s, '.2f')} s ({_f(t.config_days_per_s, '.3g')} config-days/s); "
        f"total {_f(t.total_s, '.2f')} s",
        f"ranked under the costliest scenario: cost {rank.cost:g}, impact {rank.impact:g}",
        f"ok {c.ok:,}  ruined {c.ruined:,}  undefined beta {c.undefined_beta:,}",
        f"DSR: deflated by the leg's {c.strategies_per_leg:,} trials; DSR*: by all {c.trials:,}",
        "",
        f"{'#':>2} {'ticker':<6}{'P':>3}{'W':>4} {'est':<7}{'k':>5}{'h':>5}{'d':>5}"
        f"{'score':>6}{'Sharpe':>7}{'return':>7}{'maxDD':>7}{'DSR':>5}{'DSR*':>5}",
    ]
    for i, r in enumerate(s.top, 1):
        lines.append(
            f"{i:>2} {r.ticker[:5]:<6}{r.rebalance:>3}{r.window:>4} "
            f"{r.estimator_label[:6]:<7}{r.exposure:>5.2f}{r.hedge_ratio:>5.2f}"
            f"{r.drift_band:>5.2f}{_f(r.score, '.3f'):>6}{_f(r.sharpe, '.2f'):>7}"
            f"{_f(r.annual_return, '.0%'):>7}{_f(r.max_drawdown, '.0%'):>7}"
            f"{_f(r.dsr, '.2f'):>5}{_f(r.dsr_all_legs, '.2f'):>5}"
        )
    lines += [
        "",
        "best per leg, and the probability of backtest overfitting (PBO) of its grid",
        f"   {'ticker':<7}{'P':>3}{'W':>5} {'est':<7}{'k':>5}{'h':>5}{'Sharpe':>7}"
        f"{'return':>8}{'maxDD':>8}{'DSR':>6}{'PBO':>6}{'P(OOS<0)':>9}",
    ]
    for leg in s.legs:
        r, p = leg.best, leg.pbo
        if r is None:
            continue
        lines.append(
            f"   {leg.ticker[:6]:<7}{r.rebalance:>3}{r.window:>5} "
            f"{r.estimator_label[:6]:<7}{r.exposure:>5.2f}{r.hedge_ratio:>5.2f}"
            f"{_f(r.sharpe, '.2f'):>7}{_f(r.annual_return, '.1%'):>8}"
            f"{_f(r.max_drawdown, '.1%'):>8}{_f(r.dsr, '.2f'):>6}"
            f"{_f(p and p.pbo, '.2f'):>6}{_f(p and p.prob_oos_loss, '.2f'):>9}"
        )
    p = next((leg.pbo for leg in s.legs if leg.pbo is not None), None)
    if p is not None:
        lines.append(
            f"   PBO: CSCV over each leg's strategies, {p.blocks} blocks, "
            f"{p.combinations} combinations"
        )
    for leg in s.legs:
        q = leg.pbo
        if q is not None and q.method == "sampled":
            lines.append(
                f"   {leg.ticker}: PBO on a sample of {q.configurations:,} of "
                f"{q.population or 0:,} strategies, sampling error {_f(q.standard_error, '.3f')}"
            )
    w = s.walk_forward
    if w is not None:
        lines.append(
            f"walk-forward: {w.fraction_in_sample:.0%} in-sample; Spearman(IS, "
            f"OOS score) {_f(w.spearman_is_oos, '.2f')} over "
            f"{w.strategies:,} strategies"
            + (f" (a sample of {w.population:,})" if (w.population or 0) > w.strategies else "")
        )
        if w.top:
            lead = w.top[0]
            lines.append(
                f"  IS leader {lead.ticker} P={lead.rebalance} "
                f"W={lead.window} {lead.estimator_label} k={lead.exposure:g} "
                f"h={lead.hedge_ratio:g}"
            )
            lines.append(
                f"  Sharpe {_f(lead.in_sample.sharpe, '.2f')} in-sample, "
                f"{_f(lead.oos.sharpe, '.2f')} out-of-sample (OOS percentile "
                f"{_f(lead.oos.percentile, '.0%')})"
            )
    return "\n".join(lines)
