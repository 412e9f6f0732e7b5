#!/bin/sh
# The constrained ETF/bond optimisation of the original study, rebuilt on the real data in
# ../shared/data (the folder beside this repository): the 21 ETFs plus two bond series made from
# Moody's seasoned AAA and BAA corporate yields (percent, monthly), each read as a 30-year
# constant-maturity par bond's total return (--yield T=30, CONVENTIONS "Yields and FX").
# The yields are monthly, so every series is resampled monthly (--resample monthly: the last
# observation of each month) and annualised x12; the window is what all 23 series share
# (BIL's first month-end, 2007-05, to the yields' last, 2018-12).
# Constraints: long only, each weight capped (4 % where feasible), equity ETFs >= 50 %, an
# annualised volatility cap of 12 %. With 23 assets a 4 % cap cannot hold 100 % (it needs
# N >= 25), nor can 9 equity ETFs reach 50 % at 4 %: the script asks hedgedesk, takes the
# smallest feasible cap it suggests, and runs the frontier and the maximum Sharpe portfolio
# with it, then the report of the same optimisation (examples/etf_bond.toml, the same cap).
#
#   sh examples/etf_bond_frontier.sh [OUT]
#
# OUT (default ${TMPDIR:-/tmp}/hedgedesk-etf-bond) receives the report (report.md, report.pdf,
# report.json, charts) and the JSON of each step. Exit 0 when every step worked; 2 when the
# data is missing or a step refused its input; 1 otherwise. HEDGEDESK names the command
# (default: hedgedesk), e.g. HEDGEDESK="python -m hedgedesk.tui.cli".
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
DATA="$HERE/../../shared/data"
OUT="${1:-${TMPDIR:-/tmp}/hedgedesk-etf-bond}"
HD="${HEDGEDESK:-hedgedesk}"

for need in etf rates/moody_aaa_baa_monthly.csv; do
  if [ ! -e "$DATA/$need" ]; then
    echo "etf_bond_frontier: $DATA/$need not found: expected ../shared/data beside the repository" >&2
    exit 2
  fi
done
mkdir -p "$OUT"

EQUITY=SPY,QQQ,IWM,MDY,VTI,EFA,EEM,EWJ,IEV
BONDS=AGG,IEF,TLT,SHY,TIP,LQD,HYG,AAA,BAA
OTHER=VNQ,IYR,GLD,DBC,BIL
run_optimize() {
  # shellcheck disable=SC2086  # HD may be a command with arguments
  $HD optimize --data "$DATA/etf" --data "$DATA/rates/moody_aaa_baa_monthly.csv" \
    --tickers "$EQUITY,$BONDS,$OTHER" --yield AAA=30 --yield BAA=30 --resample monthly \
    --long-only --group "equity=$EQUITY:0.5:1" --vol-cap 0.12 "$@"
}

echo "== 1. a 4 % cap on each of the 23 assets"
if run_optimize --objective max-sharpe --max-weight 0.04 >/dev/null 2>"$OUT/cap_4pct.txt"; then
  CAP=0.04
  echo "feasible: using 4 %"
else
  rc=$?
  cat "$OUT/cap_4pct.txt"
  [ "$rc" -eq 2 ] || exit "$rc"
  PCT=$(sed -n 's/.*raise the maximum weight from [0-9.]* % to \([0-9.]*\) %.*/\1/p' "$OUT/cap_4pct.txt")
  if [ -z "$PCT" ]; then
    echo "etf_bond_frontier: hedgedesk refused the 4 % run without suggesting a cap (above)" >&2
    exit 2
  fi
  CAP=$(awk -v p="$PCT" 'BEGIN { printf "%.6g", p / 100 }')
  echo "infeasible: using the smallest feasible cap hedgedesk suggests, $PCT % (--max-weight $CAP)"
fi

echo
echo "== 2. efficient frontier (monthly returns, annualised x12; rf 0)"
run_optimize --objective frontier --points 12 --max-weight "$CAP"
run_optimize --objective frontier --points 12 --max-weight "$CAP" --json >"$OUT/frontier.json"

echo
echo "== 3. maximum Sharpe"
run_optimize --objective max-sharpe --max-weight "$CAP"
run_optimize --objective max-sharpe --max-weight "$CAP" --json >"$OUT/max_sharpe.json"

echo
echo "== 4. report of the same optimisation (examples/etf_bond.toml)"
# shellcheck disable=SC2086
$HD report --config "$HERE/etf_bond.toml" --what optimize --max-weight "$CAP" --out "$OUT"
