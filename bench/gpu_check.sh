#!/usr/bin/env bash
# The GPU check of issue 15, as one short script for a lent GPU machine (README "GPU"): install
# hedgedesk with its GPU extra into a fresh venv, print nvidia-smi, then run, each under its own
# timeout,
#   1. python bench/sweep.py --e2e --configs 1000000 --backend gpu: the kernel benchmark (CPU
#      and GPU kernels against the plain loops, measured in the same run) and the end-to-end
#      sweep of 10 tickers x 1e6 configurations x 5,000 synthetic days;
#   2. the 1e8-configuration variant: python bench/sweep_scale.py --configs 100000000 --days 250
#      --backend gpu (one synthetic leg, end to end with the ledger; it prints peak memory,
#      ledger bytes per configuration and the kernel's share of the wall as JSON).
# Each run's output, its peak host memory and the ledger's peak disk go to $OUT (default
# $TMPDIR/hedgedesk-gpu-check); the last lines print what to record: config-days/s, the end-to-end
# seconds and the host-side share (1 - kernel / end to end).
#
# Offline machines (the lent ones reach no package index): the image's Python already has the
# GPU extra's packages (cupy-cuda13x, numba-cuda) and the scientific stack, so hedgedesk is
# installed --no-deps over them, and pure-Python wheels the image lacks are taken from .whl/
# (platformdirs is the one the benchmark needs; carry .whl). Where an index is reachable, pip
# installs hedgedesk[gpu-cuda13] (CUDA 13 drivers) or hedgedesk[gpu] (CUDA 12) as usual.
#
# Usage (repository root): bash bench/gpu_check.sh      Environment: PYTHON (default python3),
# OUT, E2E_TIMEOUT (default 300 s), SCALE_TIMEOUT (default 150 s), INDEX=no (never ask a
# package index), VENV (default /tmp/hedgedesk-gpu-venv); for a dry run of the script itself on
# a machine without a GPU: BACKEND=cpu CONFIGS=2000 SCALE_CONFIGS=100000 (defaults gpu,
# 1000000, 100000000; SCALE_CONFIGS a multiple of 100000).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

PYTHON=${PYTHON:-python3}
OUT=${OUT:-${TMPDIR:-/tmp}/hedgedesk-gpu-check}
E2E_TIMEOUT=${E2E_TIMEOUT:-300}
SCALE_TIMEOUT=${SCALE_TIMEOUT:-150}
VENV=${VENV:-/tmp/hedgedesk-gpu-venv}
INDEX=${INDEX:-auto}
BACKEND=${BACKEND:-gpu}
CONFIGS=${CONFIGS:-1000000}
SCALE_CONFIGS=${SCALE_CONFIGS:-100000000}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1

say() { printf '== %s\n' "$*" | tee -a "$OUT/summary.txt"; }

# -- the device --------------------------------------------------------------------------------
nvidia-smi 2>&1 | tee "$OUT/nvidia-smi.txt"
cuda_major=$(grep -o 'CUDA Version: [0-9]*' "$OUT/nvidia-smi.txt" | grep -o '[0-9]*$' || true)
extra="gpu-cuda13"
[ "${cuda_major:-13}" = 12 ] && extra=gpu
gpu=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null)
say "device: ${gpu:-unknown}, CUDA ${cuda_major:-?} -> extra [$extra]"

# -- the venv: the image's site-packages visible (a venv made from a venv's Python does not see
# them with --system-site-packages), hedgedesk installed into it -------------------------------
{
    # (a Python without ensurepip makes the venv bare; its own pip then installs into it)
    "$PYTHON" -m venv "$VENV" || "$PYTHON" -m venv --without-pip "$VENV" || exit 1
    image_site=$("$PYTHON" -c 'import site; print(site.getsitepackages()[0])')
    venv_site=$("$VENV/bin/python" -c 'import site; print(site.getsitepackages()[0])')
    echo "$image_site" >"$venv_site/_image_site.pth"
    pip=("$VENV/bin/python" -m pip --disable-pip-version-check)
    "${pip[@]}" --version ||
        pip=("$PYTHON" -m pip --disable-pip-version-check --python "$VENV/bin/python")
    if [ "$INDEX" != no ] &&
        "${pip[@]}" download --no-deps --retries 0 --timeout 5 -q -d "$WORK/probe" \
            platformdirs; then
        echo "a package index is reachable: pip install .[$extra]"
        "${pip[@]}" install ".[$extra]"
    else
        echo "no package index: hedgedesk --no-deps over the image's packages, wheels from .whl/"
        if compgen -G ".whl/*.whl" >/dev/null; then
            "${pip[@]}" install --no-index --no-deps .whl/*.whl
        fi
        "${pip[@]}" install --no-index --no-deps --no-build-isolation .
    fi
} >"$OUT/install.log" 2>&1 || {
    tail -20 "$OUT/install.log"
    say "install failed (install.log)"
    exit 1
}
PY="$VENV/bin/python"
# (in $WORK: the installed hedgedesk is checked, not the checkout's folders)
if [ "$BACKEND" = gpu ] && ! (cd "$WORK" && "$PY" - <<'EOF') 2>&1 | tee -a "$OUT/summary.txt"; then
import sys

import cupy
import numba.cuda

from hedgedesk.core.sweep.gpu import gpu_status

ok, why = gpu_status()
print(f"== hedgedesk's GPU backend: {'ok' if ok else 'NOT usable'} {why}".rstrip())
print(f"== cupy {cupy.__version__}, numba.cuda available: {numba.cuda.is_available()}")
sys.exit(0 if ok else 1)
EOF
    say "the GPU backend is not usable: nothing benchmarked"
    exit 1
fi

# -- helpers: peak host memory of a command (its children's max RSS) and peak ledger disk ------
cat >"$WORK/peak.py" <<'EOF'
import resource
import subprocess
import sys

code = subprocess.call([sys.executable, *sys.argv[1:]])
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"peak host memory: {peak:,.0f} MiB", file=sys.stderr)
sys.exit(code)
EOF
run_measured() { # name timeout command...: output to $OUT/name.txt, ledger disk sampled
    local name=$1 limit=$2
    shift 2
    local tmp="$WORK/tmp-$name"
    mkdir -p "$tmp"
    (
        max=0
        while sleep 0.5; do
            now=$(du -sb "$tmp" 2>/dev/null | cut -f1)
            [ "${now:-0}" -gt "$max" ] && max=$now && echo "$max" >"$WORK/disk-$name"
        done
    ) &
    local sampler=$!
    local t0=$SECONDS
    TMPDIR=$tmp timeout "$limit" "$PY" "$WORK/peak.py" "$@" 2>&1 | tee "$OUT/$name.txt"
    local rc=${PIPESTATUS[0]}
    kill "$sampler" 2>/dev/null
    wait "$sampler" 2>/dev/null
    local disk
    disk=$(cat "$WORK/disk-$name" 2>/dev/null || echo 0)
    echo "ledger peak disk: $((disk / 1048576)) MiB; exit $rc after $((SECONDS - t0)) s" |
        tee -a "$OUT/$name.txt"
    [ "$rc" = 124 ] && say "$name: TIMED OUT after $limit s"
    return 0
}
host_share() { # end to end, kernel and host-side share: bench/sweep.py's (e) line, or
    # bench/sweep_scale.py's JSON
    "$PY" - "$1" <<'EOF'
import json
import re
import sys


def show(what, total, kernel):
    share = 1 - kernel / total if total > 0 else 0.0
    print(f"{what}: end to end {total:.2f} s, kernel {kernel:.2f} s, host-side share {share:.0%}")


for line in open(sys.argv[1], encoding="utf-8"):
    if m := re.match(r"\(e\) (.*): ([\d.]+) s \(kernel ([\d.]+) s", line):
        show(m[1], float(m[2]), float(m[3]))
    elif line.startswith("{"):
        d = json.loads(line)
        show(f"{d['configurations']:,} configurations x {d['days']} days ({d['status']})",
             d["wall_s"], d["kernel_s"])
        print(f"peak memory {d['peak_memory_bytes'] / 2**30:.2f} GiB (< 2), ledger peak "
              f"{d['ledger_peak_bytes_per_config']:.2f} B/configuration (< 16), "
              f"{d['config_days_per_s']:.3g} config-days/s")
EOF
}

# -- 1. the issue's command: kernel benchmark and 10 x 1e6 x 5,000 end to end ---------------
run_measured bench_1e6 "$E2E_TIMEOUT" bench/sweep.py --e2e --configs "$CONFIGS" --backend "$BACKEND"

# -- 2. 1e8 configurations over 250 days, end to end with the ledger ----------------------------
run_measured scale_1e8 "$SCALE_TIMEOUT" bench/sweep_scale.py --configs "$SCALE_CONFIGS" \
    --days 250 --backend "$BACKEND"

# -- what to record -----------------------------------------------------------------------------
{
    echo "== to record (README GPU):"
    grep -E '^\(a\)|^\(b\)|^ +[0-9,]+ configs|config-days/s' "$OUT/bench_1e6.txt" || true
    host_share "$OUT/bench_1e6.txt"
    grep -E '^peak host memory|^ledger peak disk' "$OUT/bench_1e6.txt" | sed 's/^/1e6: /'
    host_share "$OUT/scale_1e8.txt"
    grep -E '^peak host memory|^ledger peak disk' "$OUT/scale_1e8.txt" | sed 's/^/1e8: /'
} | tee -a "$OUT/summary.txt"
