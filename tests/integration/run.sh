#!/usr/bin/env bash
# Runs every tests/integration/test_*.sh (or the ones named on the command line), each in its
# own process with its own PostgreSQL and Kafka broker. Prints PASS/FAIL and the time of each,
# the output of each failed test, and ends with the line "N passed, N failed"; exits 1 if any
# failed.
#
#   tests/integration/run.sh [test_name ...]       e.g. run.sh test_standby
# Environment: OUTBOX_RELAY (binary, default ./outbox-relay), KAFKA_LIB (broker jars, default
# tests/kafka/lib), TEST_TIMEOUT (seconds per test, default 300), KEEP_TMP=1 (keep temp dirs),
# VERBOSE=1 (print every test's output, not only failures').
set -euo pipefail

DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TEST_TIMEOUT=${TEST_TIMEOUT:-300}
LOG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/outbox-it-logs.XXXXXX")
trap 'rm -rf "$LOG_DIR"' EXIT

tests=()
if [ $# -gt 0 ]; then
  for name in "$@"; do
    name=$(basename "$name" .sh)
    [ -f "$DIR/$name.sh" ] || { echo "run.sh: no test $name" >&2; exit 64; }
    tests+=("$DIR/$name.sh")
  done
else
  for t in "$DIR"/test_*.sh; do tests+=("$t"); done
fi

passed=0 failed=0 failures=()
suite_start=$(date +%s)
for t in "${tests[@]}"; do
  name=$(basename "$t" .sh)
  start=$(date +%s)
  rc=0
  # timeout runs the test in a process group of its own and signals the whole group: the
  # test's cleanup trap runs on SIGTERM, and whatever is left gets SIGKILL 10 s later
  timeout --kill-after=10 "$TEST_TIMEOUT" bash "$t" </dev/null >"$LOG_DIR/$name.log" 2>&1 \
    || rc=$?
  secs=$(( $(date +%s) - start ))
  if [ "$rc" -eq 0 ]; then
    passed=$(( passed + 1 ))
    printf 'PASS  %-28s %4ds\n' "$name" "$secs"
    [ "${VERBOSE:-0}" != 1 ] || sed 's/^/    /' "$LOG_DIR/$name.log"
  else
    failed=$(( failed + 1 ))
    failures+=("$name")
    [ "$rc" -ne 124 ] || echo "    (timed out after ${TEST_TIMEOUT}s)" >>"$LOG_DIR/$name.log"
    printf 'FAIL  %-28s %4ds  (exit %d)\n' "$name" "$secs" "$rc"
    sed 's/^/    /' "$LOG_DIR/$name.log" | cut -c1-400 | tail -n 150
  fi
done

echo
echo "integration suite: $(( $(date +%s) - suite_start ))s${failures[*]:+; failed: ${failures[*]}}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
