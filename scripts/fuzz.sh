#!/usr/bin/env bash
# Fuzzes the parsers of untrusted input (fuzz/fuzz_targets: image references, inspect
# templates, config.json, image index/manifest/config JSON, `load` archives, the layer
# unpacker) with cargo-fuzz, each for a bounded time, and fails if any target crashes.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET [TARGET...]]     (default: 60 s, every target)
#
# Needs a nightly toolchain (libFuzzer) and root (the unpacker makes devices and sets
# trusted.* attributes). Not part of CI: the property tests run there instead.
# Crashing inputs are left in fuzz/artifacts/TARGET/; the corpus grows in fuzz/corpus/.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(reference template spec image_json load unpack)
toolchain=${FUZZ_TOOLCHAIN:-nightly}
# Safe Rust needs no address sanitizer to find panics; FUZZ_SANITIZER=address to use one.
sanitizer=${FUZZ_SANITIZER:-none}
# The workspace's .cargo/config.toml links statically; sanitizers and libFuzzer want the
# host target built the ordinary way (cargo fuzz's RUSTFLAGS replace the config's).
triple=x86_64-unknown-linux-gnu

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
rustup run "$toolchain" rustc --version >/dev/null

for target in "${targets[@]}"; do
  cargo "+$toolchain" fuzz build --sanitizer "$sanitizer" --target "$triple" "$target" 2>&1 | tail -n 3 \
    || { echo "fuzz.sh: building $target failed" >&2; exit 2; }
done

failed=()
summary=()
for target in "${targets[@]}"; do
  corpus=corpus/$target
  mkdir -p "$corpus" "artifacts/$target"
  if [ -d "seeds/$target" ]; then cp -n seeds/"$target"/* "$corpus"/ 2>/dev/null || true; fi
  if [ "$target" = spec ]; then cp -n ../crates/runtime/src/default_spec.json "$corpus"/ 2>/dev/null || true; fi
  log=$(mktemp)
  echo "== $target: ${seconds}s"
  status=0
  cargo "+$toolchain" fuzz run --sanitizer "$sanitizer" --target "$triple" "$target" "$corpus" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
    >"$log" 2>&1 || status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 || true)
  if [ "$status" -ne 0 ]; then
    failed+=("$target")
    summary+=("$target: CRASH after ${runs:-?} runs (exit $status); see fuzz/artifacts/$target/")
    grep -E -A15 'panicked|ERROR: libFuzzer|SUMMARY' "$log" | head -n 40 >&2 || true
  else
    summary+=("$target: ${runs:-?} runs, ${cov:-cov: ?}, no crash")
  fi
  rm -f "$log"
done
# What the targets left behind (their scratch trees; the unpacker's holds device nodes).
rm -rf /tmp/lindocker-fuzz-unpack /tmp/lindocker-fuzz-load-* /tmp/lindocker-fuzz-spec-*

printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: crashes in: ${failed[*]}" >&2
  exit 1
fi
