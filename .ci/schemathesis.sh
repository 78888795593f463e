#!/usr/bin/env bash
# Fuzzes the integrator API with Schemathesis against a live server: every operation of
# /api/v1/openapi.json, with generated valid and invalid requests, must never answer 5xx and must
# answer what the document declares (status codes, content types, headers, body schemas).
#
# Run from the root of the clone: `bash .ci/schemathesis.sh`. It builds the debug binary (a no-op
# when it is up to date), starts it on a free port with a fresh data directory (the demo firm
# loads into the empty database), creates an API token for the demo client C001 and runs
# Schemathesis with it. Exits non-zero on any failure.
#
# Environment:
#   SCHEMATHESIS_POSTGRES      a PostgreSQL server URL (postgres://user:pass@host:port/postgres,
#                              a role that may create databases): run on a throwaway database of
#                              it, dropped at the end, instead of SQLite
#   SCHEMATHESIS_MAX_EXAMPLES  test cases per operation and phase (default 150)
#   SCHEMATHESIS_SEED          the random seed (default: a new one, printed by Schemathesis)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The version this script was written and checked against: its checks and flags.
schemathesis_version=4.32.5
max_examples=${SCHEMATHESIS_MAX_EXAMPLES:-150}
target_dir=${CARGO_TARGET_DIR:-target}
binary="$target_dir/debug/ouvrage"

work=$(mktemp -d)
server_pid=""
pg_database=""
cleanup() {
  local status=$?
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [[ -n "$pg_database" ]]; then
    psql -q "$SCHEMATHESIS_POSTGRES" -c "DROP DATABASE IF EXISTS \"$pg_database\"" </dev/null || true
  fi
  if ((status != 0)) && [[ -s "$work/server.log" ]]; then
    echo "---- last lines of the server's log ----"
    tail -n 40 "$work/server.log"
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

# ---------------------------------------------------------------------------------------------
echo "Schemathesis $schemathesis_version in a throwaway virtualenv"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$schemathesis_version" </dev/null
"$work/venv/bin/schemathesis" --version

# A no-op when the binary is up to date (after `cargo test`); never fuzz a stale one.
cargo build -p ouvrage --bin ouvrage </dev/null

# ---------------------------------------------------------------------------------------------
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export OUVRAGE_ADDR="127.0.0.1:$port"
export OUVRAGE_DATA="$work/data"
if [[ -n "${SCHEMATHESIS_POSTGRES:-}" ]]; then
  pg_database="ouvrage_schemathesis_$(date +%s)_$$"
  psql -q -v ON_ERROR_STOP=1 "$SCHEMATHESIS_POSTGRES" -c "CREATE DATABASE \"$pg_database\"" </dev/null
  # The same server and credentials, the new database.
  DATABASE_URL=$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$SCHEMATHESIS_POSTGRES" "$pg_database")
else
  DATABASE_URL="sqlite://$work/data/ouvrage.db"
fi
export DATABASE_URL
# Defaults for the rest: local files, mail as files in the data directory.
unset OUVRAGE_CONFIG OUVRAGE_BASE_URL OUVRAGE_SMTP_URL OUVRAGE_S3_BUCKET OUVRAGE_S3_ENDPOINT OUVRAGE_MAX_UPLOAD_MB
mkdir -p "$OUVRAGE_DATA"

echo "Starting $binary on $OUVRAGE_ADDR ($(sed -E 's#//[^@/]*@#//***@#' <<<"$DATABASE_URL"))"
# No command: migrations, the demo firm into the empty database, then the site.
"$binary" </dev/null >"$work/server.log" 2>&1 &
server_pid=$!

base="http://$OUVRAGE_ADDR"
ready=""
for _ in $(seq 1 120); do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "the server stopped before answering"
    exit 1
  fi
  if python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
    "$base/api/v1/openapi.json" 2>/dev/null; then
    ready=1
    break
  fi
  sleep 1
done
if [[ -z "$ready" ]]; then
  echo "the server did not answer within 2 minutes"
  exit 1
fi

token=$("$binary" token create --tenant demo --client C001 --name schemathesis </dev/null)
[[ "$token" == ouv_* ]] || {
  echo "no token created"
  exit 1
}

# ---------------------------------------------------------------------------------------------
# What Schemathesis cannot read from the document, and only that:
# - a study or a document that fits the schema may still be refused for what its file holds (not
#   a thermal study, not a PDF, not a type of the firm's list), which no schema can say: 422 is a
#   right answer to schema-valid data there. Any other refusal of schema-valid data still fails.
# - GET /api/v1/sites refuses a period that ends before it starts (400, "not before `from`" in
#   the document): a rule between two parameters, which OpenAPI cannot state. Such requests are
#   not generated as valid ones.
cat >"$work/schemathesis.toml" <<'TOML'
# Nothing kept between runs (nor left in the clone): each run starts afresh.
cache.enabled = false

[[operations]]
include-operation-id = ["importThermalStudy", "createSiteDocument"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "422"]
TOML
mkdir -p "$work/hooks"
cat >"$work/hooks/ouvrage_hooks.py" <<'PY'
import schemathesis


@schemathesis.hook
def filter_case(context, case):
    if case.operation.method.upper() != "GET" or case.operation.path != "/api/v1/sites":
        return True
    query = case.query or {}
    start, end = query.get("from"), query.get("to")
    return not (isinstance(start, str) and isinstance(end, str) and start > end)
PY

# All of Schemathesis's checks, and all its phases: the document's own examples, the coverage of
# its constraints and their edges, random valid and invalid data, and sequences of calls.
seed_args=()
if [[ -n "${SCHEMATHESIS_SEED:-}" ]]; then
  seed_args=(--seed "$SCHEMATHESIS_SEED")
fi
status=0
PYTHONPATH="$work/hooks" SCHEMATHESIS_HOOKS=ouvrage_hooks \
  "$work/venv/bin/schemathesis" --config-file "$work/schemathesis.toml" run "$base/api/v1/openapi.json" \
  --header "Authorization: Bearer $token" \
  --checks all \
  --phases examples,coverage,fuzzing,stateful \
  --max-examples "$max_examples" \
  --workers 2 \
  --request-timeout 30 \
  --generation-database none \
  --no-color \
  "${seed_args[@]}" \
  </dev/null || status=$?

if ! kill -0 "$server_pid" 2>/dev/null; then
  echo "the server died during the run"
  exit 1
fi
if grep -q "panicked" "$work/server.log"; then
  echo "the server panicked during the run:"
  grep -A5 "panicked" "$work/server.log" | head -40
  exit 1
fi
exit "$status"
