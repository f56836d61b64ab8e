#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 60): ./fuzz/run.sh [SECONDS]
#
# Installs cargo-fuzz when it is missing. cargo-fuzz needs nightly compiler flags; on a stable
# toolchain RUSTC_BOOTSTRAP=1 lets the stable compiler accept them. Seeds come from
# fuzz/seeds/<target> (never modified); what the fuzzer learns goes to fuzz/corpus/<target>,
# crashes to fuzz/artifacts/<target>; neither is committed. A target stops at its first crash
# (printing the input); the others still run, and the script exits non-zero if any crashed.
set -euo pipefail
cd "$(dirname "$0")"

seconds="${1:-60}"
case "$seconds" in
  '' | *[!0-9]*) echo "usage: $0 [SECONDS]   (whole seconds per target)" >&2; exit 2 ;;
esac

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "==> installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi
export RUSTC_BOOTSTRAP="${RUSTC_BOOTSTRAP:-1}"

targets=(telegram_update vk_event max_update ozon_push email_letter webchat_message order_id)
crashed=()
echo "==> building ${targets[*]}"
cargo fuzz build

for target in "${targets[@]}"; do
  echo "==> $target for ${seconds}s"
  mkdir -p "corpus/$target"
  dict=()
  [ "$target" = order_id ] || dict=(-dict=json.dict)
  # -timeout: an input taking over 10 s is reported as a hang; -rss_limit_mb bounds memory.
  if ! cargo fuzz run "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "${dict[@]}"; then
    crashed+=("$target")
  fi
done
if [ "${#crashed[@]}" -gt 0 ]; then
  echo "==> crashed: ${crashed[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
echo "==> no crashes in ${#targets[@]} targets, ${seconds}s each"
