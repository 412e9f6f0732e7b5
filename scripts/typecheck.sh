#!/usr/bin/env bash
# mypy on the engine under the name it installs as (hedgedesk.core), with pyproject's [tool.mypy].
# mypy does not run setuptools' editable import hook, so a temporary folder maps hedgedesk/core to
# the checkout's core/. Usage: scripts/typecheck.sh [python]   (default .venv/bin/python)
set -euo pipefail
cd "$(dirname "$0")/.."
py=${1:-.venv/bin/python}
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir "$root/hedgedesk"
ln -s "$PWD/core" "$root/hedgedesk/core"
MYPYPATH="$root" "$py" -m mypy -p hedgedesk.core | sed "s#$root/hedgedesk/##"
