#!/usr/bin/env bash
# What a user installs is what CI tests: build the wheel, install it (not editable) into a fresh
# venv outside the checkout, and run the commands from a folder that has no core/ or tui/ in it,
# so a module the wheel leaves out fails here. Usage: scripts/wheel_smoke.sh [python3]
set -euo pipefail
python="${1:-python3}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$python" -m venv "$work/venv"
# built from a copy of the working tree's files (tracked and untracked, not ignored): a stale
# build/ folder in the checkout can never slip a deleted module into the wheel
mkdir "$work/src"
git -C "$repo" ls-files -z --cached --others --exclude-standard \
  | (cd "$repo" && tar --null --ignore-failed-read -T - -cf - 2>/dev/null) | tar -xf - -C "$work/src"
"$work/venv/bin/pip" -q wheel --no-deps -w "$work/dist" "$work/src"
"$work/venv/bin/pip" -q install "$work"/dist/hedgedesk-*.whl
cd "$work"
export XDG_STATE_HOME="$work/state" XDG_CONFIG_HOME="$work/config" XDG_CACHE_HOME="$work/cache"
hd="$work/venv/bin/hedgedesk"
"$hd" --help >/dev/null
"$work/venv/bin/python" -m hedgedesk.tui.cli --version >/dev/null
# everything installs under the one namespace: the generic names core and tui stay free
"$work/venv/bin/python" -c 'import importlib.util as u, hedgedesk.core.report, hedgedesk.tui.app
assert u.find_spec("core") is None and u.find_spec("tui") is None, "core/tui squatted"'
"$hd" risk --json | "$work/venv/bin/python" -c \
  'import json, sys; r = json.load(sys.stdin); assert r["nav"] > 0 and "alerts" in r'
"$hd" --config demo:multi-asset risk --json | "$work/venv/bin/python" -c \
  'import json, sys; r = json.load(sys.stdin); assert r["nav"] > 0 and len(r["positions"]) == 7'
"$hd" report --what book --out "$work/report" >/dev/null
test -s "$work/report/report.pdf" && test -s "$work/report/report.md"
"$hd" sweep --tickers AAPL --hedge SP500 --rebalance 5,21 --window 60 --exposure 1 \
  --hedge-ratio 0,1 --cost 0.0005 --ledger "$work/runs.db" --json | "$work/venv/bin/python" -c \
  'import json, sys; r = json.load(sys.stdin); assert r["status"] == "done" and r["top"]'
echo "wheel smoke: the installed wheel (hedgedesk.core, hedgedesk.tui) ran --help, risk, report and sweep outside the checkout"
