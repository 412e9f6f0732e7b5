#!/usr/bin/env bash
# A real-terminal smoke test of the desk: start it in a detached tmux session at 80x24, wait
# for the demo book, press keys, read the screen with capture-pane, quit with ctrl+q and check
# the exit status. Usage: scripts/tmux_smoke.sh [path/to/hedgedesk]
set -euo pipefail
exe="${1:-.venv/bin/hedgedesk}"
if ! command -v tmux >/dev/null; then
  echo "tmux smoke: tmux is not installed; skipped (apt-get install tmux)" >&2
  exit 0
fi
session="hedgedesk-smoke-$$"
state="$(mktemp -d)"
trap 'tmux kill-session -t "$session" 2>/dev/null || true; rm -rf "$state"' EXIT
# the exit status lands in a file: tmux reports none of its own
tmux new-session -d -s "$session" -x 80 -y 24 \
  "env XDG_STATE_HOME=$state/state XDG_CONFIG_HOME=$state/config $exe; echo \$? > $state/rc"

screen() { tmux capture-pane -t "$session" -p; }
wait_for() {  # wait_for TEXT SECONDS
  for _ in $(seq 1 $(( $2 * 10 ))); do
    if screen | grep -q -- "$1"; then return 0; fi
    sleep 0.1
  done
  echo "tmux smoke: '$1' never appeared; the screen was:" >&2
  screen >&2
  exit 1
}

wait_for "Holdings" 20
wait_for "AAPL" 30          # the demo book is valued and on screen
wait_for "beta 63d" 5
wait_for "g Data" 5          # every screen's key is in the footer at 80 columns
tmux send-keys -t "$session" "?"
wait_for "(Esc closes)" 5
tmux send-keys -t "$session" Escape
sleep 0.5                   # a key right after ESC would read as alt+key
tmux send-keys -t "$session" "+"
wait_for "[*]AAPL" 10      # a what-if edit recomputed the book and marked the row
tmux send-keys -t "$session" Tab
wait_for "SPX put 3400" 5   # tab: the hedge legs take the book's slot
tmux send-keys -t "$session" C-q
wait_for "Quit with unsaved edits" 5
tmux send-keys -t "$session" Escape
sleep 0.5
tmux send-keys -t "$session" "u"
wait_for "Demo core book" 5  # the sub-title again: no unsaved edit
tmux send-keys -t "$session" C-q
for _ in $(seq 1 100); do
  [ -f "$state/rc" ] && break
  sleep 0.1
done
rc="$(cat "$state/rc" 2>/dev/null || echo "none")"
if [ "$rc" != "0" ]; then
  echo "tmux smoke: the desk exited with status $rc (expected 0)" >&2
  exit 1
fi
echo "tmux smoke: desk at 80x24 drawn, keys answered, quit asked about the edit, ctrl+q exited 0"
