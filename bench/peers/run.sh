#!/usr/bin/env bash
# Peers side by side: the same work done by the libraries a Python shop would use, run in the
# same invocation as ours, printing the ratio ours/theirs. On demand, not in CI:
#   bash bench/peers/run.sh [REPEAT]
# Installs the peers from PyPI into a throwaway virtualenv; builds ouvrage in release mode.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
repeat=${1:-200}
samples=${OUVRAGE_SAMPLES:-../shared/samples/thermal/synthetic}

venv=$(mktemp -d -t ouvrage-peers-XXXXXX)
trap 'rm -rf "$venv"' EXIT
python3 -m venv "$venv"
"$venv/bin/pip" install -q lxml openpyxl XlsxWriter reportlab

cargo build --release -q
ouvrage=${CARGO_TARGET_DIR:-target}/release/ouvrage

"$venv/bin/python" bench/peers/peers.py --ouvrage "$ouvrage" --repeat "$repeat" "$samples"/*.xml
