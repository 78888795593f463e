#!/usr/bin/env bash
# Fuzzes every parser of outside input for a short while (cargo-fuzz, libFuzzer), from the root of
# a clone with shared/ beside it: `bash .ci/fuzz.sh`. Fails if any target crashes; the crashing
# input is left in fuzz/artifacts/<target>/ and printed in base64 by libFuzzer.
#
# FUZZ_SECONDS   time per target (default 60)
# FUZZ_TARGETS   space-separated subset of the targets (default: all of `cargo fuzz list`)
# FUZZ_SANITIZER none (default: our crates hold no unsafe code, and it builds on stable) or address
#                (nightly if installed, else stable with RUSTC_BOOTSTRAP=1)
# FUZZ_TIMEOUT   seconds one input may take before it counts as a hang (default 25)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root_dir=$(pwd)
seconds=${FUZZ_SECONDS:-60}
sanitizer=${FUZZ_SANITIZER:-none}
timeout=${FUZZ_TIMEOUT:-25}
samples="$root_dir/../shared/samples"
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

# Instrumented builds never share the main target dir: other flags, and its lock.
if [[ -n "${CARGO_TARGET_DIR:-}" ]]; then
  target_dir="$CARGO_TARGET_DIR/fuzz"
else
  target_dir="$root_dir/fuzz/target"
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  cargo install cargo-fuzz --locked </dev/null
fi
cargo fuzz --version

cargo_fuzz=(cargo)
if [[ "$sanitizer" != none ]]; then
  if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    cargo_fuzz=(cargo +nightly)
  else
    # -Zsanitizer on a stable compiler.
    export RUSTC_BOOTSTRAP=1
  fi
fi
build_flags=(--sanitizer "$sanitizer" --debug-assertions --target-dir "$target_dir")

# ---------------------------------------------------------------------------------------------
# Seed corpora, rebuilt at each run from shared/samples, the small seeds in fuzz/seeds, and files
# made here with openssl and qpdf when they are installed (.ci/run installs both).
corpus="$root_dir/fuzz/corpus"
# seed TARGET FILE...: copies the files into the target's corpus, those of at most
# $seed_max_kib KiB when it is set (sealing a 300 KB invoice is slow enough to waste the minute).
seed_max_kib=
seed() {
  local target="$1"
  shift
  mkdir -p "$corpus/$target"
  local file
  for file in "$@"; do
    [[ -f "$file" ]] || continue
    if [[ -n "$seed_max_kib" ]] && (($(stat -c %s "$file") > seed_max_kib * 1024)); then
      continue
    fi
    cp -f "$file" "$corpus/$target/"
  done
  return 0
}
seed_for_sealing() {
  seed_max_kib=100 seed pdf_seal "$@"
}

if [[ ! -d "$samples" ]]; then
  echo "no samples at $samples: the corpora start from fuzz/seeds only" >&2
fi
shopt -s nullglob
thermal_xml=("$samples"/thermal/dpe/*.xml "$samples"/thermal/synthetic/*.xml)
facturx_xml=("$samples"/facturx/*.xml)
facturx_pdf=("$samples"/facturx/*.pdf)
seed thermal_parse "${thermal_xml[@]}" "${facturx_xml[@]}" fuzz/seeds/thermal_parse/*
seed upload_sniff "${facturx_pdf[@]}" "${facturx_xml[@]}" "${thermal_xml[@]}" fuzz/seeds/upload_sniff/*
seed pdf_open "${facturx_pdf[@]}" fuzz/seeds/pdf_open/*
seed_for_sealing "${facturx_pdf[@]}" fuzz/seeds/pdf_open/*
seed seal_stamp fuzz/seeds/seal_stamp/*
seed pkcs12
shopt -u nullglob

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

if command -v qpdf >/dev/null 2>&1; then
  # The same documents as object streams, linearized, and uncompressed (qdf: text that mutates well).
  for pdf in "${facturx_pdf[@]}" fuzz/seeds/pdf_open/*.pdf; do
    name=$(basename "$pdf" .pdf)
    for variant in "object-streams:--object-streams=generate" "linearized:--linearize" "qdf:--qdf"; do
      out="$scratch/${name}_${variant%%:*}.pdf"
      # qpdf exits 3 for warnings on a file it still wrote.
      qpdf "${variant#*:}" "$pdf" "$out" </dev/null >/dev/null 2>&1 || [[ -s "$out" ]] || continue
      seed pdf_open "$out"
      seed_for_sealing "$out"
    done
  done
fi

if command -v openssl >/dev/null 2>&1; then
  # The password is the pkcs12 target's. One KDF iteration keeps each execution fast; the
  # unencrypted files without a MAC let mutations reach the key and certificate parsers.
  # Each file is optional: an openssl without the legacy provider skips the 3DES one.
  (
    cd "$scratch"
    pkcs12() { openssl pkcs12 -export -passout pass:fuzz "$@" </dev/null || true; }
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ec.key -out ec.crt \
      -subj "/O=Fuzz SARL/CN=Sceau Fuzz" -days 30 </dev/null
    openssl req -x509 -newkey rsa:1024 -nodes -keyout rsa.key -out rsa.crt -subj "/CN=Fuzz RSA" -days 30 </dev/null
    pkcs12 -inkey ec.key -in ec.crt -iter 1 -out ec_aes.p12
    pkcs12 -inkey ec.key -in ec.crt -keypbe NONE -certpbe NONE -nomac -out ec_clear.p12
    pkcs12 -inkey rsa.key -in rsa.crt -keypbe NONE -certpbe NONE -nomac -out rsa_clear.p12
    pkcs12 -inkey ec.key -in ec.crt -certfile rsa.crt -keypbe NONE -certpbe NONE -nomac -out chain_clear.p12
    pkcs12 -legacy -inkey rsa.key -in rsa.crt -iter 1 -out rsa_legacy.p12
  ) >"$scratch/openssl.log" 2>&1 || cat "$scratch/openssl.log" >&2
  shopt -s nullglob
  seed pkcs12 "$scratch"/*.p12
  shopt -u nullglob
fi

# ---------------------------------------------------------------------------------------------
echo "building the fuzz targets (sanitizer: $sanitizer, target dir: $target_dir)"
"${cargo_fuzz[@]}" fuzz build "${build_flags[@]}" </dev/null

if [[ -n "${FUZZ_TARGETS:-}" ]]; then
  read -r -a targets <<<"$FUZZ_TARGETS"
else
  mapfile -t targets < <("${cargo_fuzz[@]}" fuzz list </dev/null)
fi

logs="$target_dir/logs"
mkdir -p "$logs"
failed=()
summary=()
for target in "${targets[@]}"; do
  mkdir -p "$corpus/$target"
  printf '\n---- %s: %s s, corpus of %d files ----\n' "$target" "$seconds" "$(find "$corpus/$target" -type f | wc -l)"
  status=0
  "${cargo_fuzz[@]}" fuzz run "${build_flags[@]}" "$target" "$corpus/$target" -- \
    -max_total_time="$seconds" -timeout="$timeout" -print_final_stats=1 \
    </dev/null >"$logs/$target.log" 2>&1 || status=$?
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$target.log" | tail -1)
  contained=$(grep -c '^contained panic at' "$logs/$target.log" || true)
  grep '^contained panic at' "$logs/$target.log" | sort -u || true
  if ((status != 0)); then
    # libFuzzer's report: the error, the stack, the input's path and base64.
    grep -v -E '^#[0-9]+' "$logs/$target.log" | tail -60
    failed+=("$target")
    summary+=("$(printf '%-14s CRASH (exit %d) after %s executions; log %s' "$target" "$status" "${executions:-?}" "$logs/$target.log")")
  else
    summary+=("$(printf '%-14s %10s executions in %s s, %s contained third-party panic site(s)' "$target" "${executions:-?}" "$seconds" "$contained")")
  fi
  echo "${summary[-1]}"
done

printf '\n---- fuzzing summary ----\n'
printf '%s\n' "${summary[@]}"
if ((${#failed[@]})); then
  echo "crashed: ${failed[*]} (inputs in fuzz/artifacts/; reproduce with: cargo fuzz run ${build_flags[*]} <target> <input>)" >&2
  exit 1
fi
