#!/bin/sh
# The original study, redone: AAPL, MSFT, GOOGL, AMZN and META each hedged with QQQ on the real
# daily data in ../shared/data (this repository's sibling folder), 720 strategies per ticker
# (4 rebalance periods x 4 beta windows x 3 estimators x 5 exposures x 3 hedge ratios), every
# one run under 4 cost scenarios, ranked under the costliest, with the deflated Sharpe ratio,
# the probability of backtest overfitting and a 70/30 walk-forward split.
# Run from the repository root:  sh examples/original_study.sh [--json] [--backend gpu]
set -e
DATA="${HEDGEDESK_SHARED:-../shared}/data"
exec hedgedesk sweep --data "$DATA/mag7" --data "$DATA/etf" \
  --tickers AAPL,MSFT,GOOGL,AMZN,META --hedge QQQ \
  --rebalance 1,5,10,21 --window 20,60,120,250 --estimator ols,ewma --halflife 20,60 \
  --exposure 0.5:1.5:5 --hedge-ratio 0.5,0.75,1 --cost 0,0.0005,0.001,0.002 \
  --top 10 "$@"
