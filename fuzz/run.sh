#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each and prints one line of figures per target.
#   fuzz/run.sh 15          short run (make test): new inputs go to a scratch dir only
#   fuzz/run.sh 600 keep    long run (make fuzz): then re-minimizes fuzz/corpus/<target> to the
#                           smallest set that covers everything the run reached
# cargo-fuzz passes nightly-only flags; RUSTC_BOOTSTRAP lets the one stable toolchain take them.
# No sanitizer: the core has no unsafe code, and what we hunt are panics and failed checks.
# Stream inputs are capped at 512 bytes (about 30 events): longer ones only slow the search.
set -euo pipefail
seconds=${1:?usage: fuzz/run.sh SECONDS [keep]}
keep=${2:-}
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1
fuzz() { cargo fuzz "$@"; }
targets=(eventstream request stream model_path)
fuzz build --sanitizer none
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for t in "${targets[@]}"; do
  mkdir -p "$work/$t" "corpus/$t"
  log="$work/$t.log"
  if ! fuzz run --sanitizer none "$t" "$work/$t" "corpus/$t" -- \
      -max_total_time="$seconds" -print_final_stats=1 $([ -f "dict/$t.dict" ] && echo "-dict=dict/$t.dict") \
      $([ "$t" = stream ] && echo -max_len=512) >"$log" 2>&1; then
    tail -n 40 "$log"
    echo "FUZZ FAILURE in $t: reproducer in fuzz/artifacts/$t/ (copy it to fuzz/regressions/$t/ once fixed)" >&2
    exit 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
  echo "fuzz $t: $runs runs in ${seconds}s ($speed/s), $cov, no crash"
  if [ "$keep" = keep ]; then
    min="$work/$t.min"
    mkdir -p "$min"
    fuzz run --sanitizer none "$t" "$min" "corpus/$t" "$work/$t" -- -set_cover_merge=1 >/dev/null 2>&1
    rm -f corpus/"$t"/*
    cp "$min"/* corpus/"$t"/
    echo "  corpus/$t minimized to $(ls corpus/"$t" | wc -l) inputs"
  fi
done
