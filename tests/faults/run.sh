#!/usr/bin/env bash
# The fault matrix: every fault of tests/faults/ for both capture modes, each case with its
# own PostgreSQL and Kafka broker, concurrent writers and the verifier at the end. Prints
# PASS/FAIL and the time of each case (and the output of a failed one), then the results table
# in Markdown (the one in README.md, "Fault matrix", comes from here), also written to
# $FAULT_TABLE (default build/faults/results.md). Exits 1 if any case failed.
#
#   tests/faults/run.sh [CASE ...]       e.g. run.sh "sigkill poll" "postgres logical immediate"
# Environment: OUTBOX_RELAY (binary), FAULT_SOAK_FACTOR (multiplies every case's cycles; `make
# soak` sets 10), FAULT_TIMEOUT (seconds per case, default 600), KEEP_TMP=1, VERBOSE=1.
set -euo pipefail

DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$DIR/../.." && pwd)
FAULT_TIMEOUT=${FAULT_TIMEOUT:-600}
FAULT_TABLE=${FAULT_TABLE:-$REPO/build/faults/results.md}
LOG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/outbox-faults.XXXXXX")
trap 'rm -rf "$LOG_DIR"' EXIT
export FAULT_RESULTS=$LOG_DIR/results.tsv
: >"$FAULT_RESULTS"

cases=()
if [ $# -gt 0 ]; then
  cases=("$@")
else
  for mode in poll logical; do
    cases+=("sigkill $mode" "broker $mode" "flaky_broker $mode" "postgres $mode fast"
            "postgres $mode immediate" "postgres $mode terminate" "mark_denied $mode"
            "standby $mode")
  done
fi

passed=0 failed=0 failures=()
start_all=$(date +%s)
for c in "${cases[@]}"; do
  read -r fault args <<<"$c"
  script=$DIR/fault_$fault.sh
  [ -f "$script" ] || { echo "run.sh: no fault $fault" >&2; exit 64; }
  name="$fault ${args}"
  logf=$LOG_DIR/$(echo "$name" | tr ' ' '_').log
  start=$(date +%s) rc=0
  # shellcheck disable=SC2086  # args: mode and kind
  timeout --kill-after=10 "$FAULT_TIMEOUT" bash "$script" $args </dev/null >"$logf" 2>&1 || rc=$?
  secs=$(( $(date +%s) - start ))
  if [ "$rc" -eq 0 ]; then
    passed=$(( passed + 1 ))
    printf 'PASS  %-32s %4ds\n' "$name" "$secs"
    [ "${VERBOSE:-0}" != 1 ] || sed 's/^/    /' "$logf"
  else
    failed=$(( failed + 1 )); failures+=("$name")
    [ "$rc" -ne 124 ] || echo "    (timed out after ${FAULT_TIMEOUT}s)" >>"$logf"
    printf 'FAIL  %-32s %4ds  (exit %d)\n' "$name" "$secs" "$rc"
    grep -v '^\[20[0-9-]* [0-9:,]*\] \|^[[:space:]]' "$logf" | cut -c1-400 | tail -n 120 \
      | sed 's/^/    /'
  fi
done

mkdir -p "$(dirname "$FAULT_TABLE")"
{
  echo "| fault | mode | cycles | events written | lost | marked but absent | duplicates | of which after the mark | order violations | recovery median / max |"
  echo "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|"
  awk -F '\t' '{ printf "| %s | %s | %d | %d | %d | %d | %d | %s | %d | %s / %s ms |\n",
                 $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 }' "$FAULT_RESULTS"
  echo
  echo "$(date -u +%Y-%m-%d), \`make faults\`${FAULT_SOAK_FACTOR:+ (FAULT_SOAK_FACTOR=$FAULT_SOAK_FACTOR)}," \
       "$(nproc) cores, $passed of $(( passed + failed )) cases passed in $(( $(date +%s) - start_all )) s."
} >"$FAULT_TABLE"
echo
cat "$FAULT_TABLE"
echo
echo "fault matrix: $(( $(date +%s) - start_all ))s${failures[*]:+; failed: ${failures[*]}}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
