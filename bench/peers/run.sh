#!/usr/bin/env bash
# Peers side by side: the same work done by the libraries a Python shop would use, run in the
# same invocation as ours, printing the ratio ours/theirs. On demand, not in CI:
#   bash bench/peers/run.sh [REPEAT] [xml|excel|invoice ...]
# With no peer named, runs them all. Installs the peers from PyPI into a throwaway virtualenv;
# builds in release mode only what the chosen peers need: the ouvrage binary (xml, excel), the
# `invoices` example of ouvrage-typeset (invoice), so the app's build does not carry typst.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
repeat=${1:-200}
shift || true
peers=("$@")
if ((${#peers[@]} == 0)); then
  peers=(xml excel invoice)
fi
wants() {
  local p
  for p in "${peers[@]}"; do [[ $p == "$1" ]] && return 0; done
  return 1
}
samples=${OUVRAGE_SAMPLES:-../shared/samples/thermal/synthetic}
target=${CARGO_TARGET_DIR:-target}

venv=$(mktemp -d -t ouvrage-peers-XXXXXX)
trap 'rm -rf "$venv"' EXIT
python3 -m venv "$venv"
"$venv/bin/pip" install -q lxml openpyxl XlsxWriter reportlab

args=(--repeat "$repeat")
for p in "${peers[@]}"; do args+=(--only "$p"); done
if wants xml || wants excel; then
  cargo build --release -q -p ouvrage
  args+=(--ouvrage "$target/release/ouvrage")
fi
if wants invoice; then
  cargo build --release -q -p ouvrage-typeset --example invoices
  args+=(--invoices "$target/release/examples/invoices")
fi

"$venv/bin/python" bench/peers/peers.py "${args[@]}" "$samples"/*.xml
