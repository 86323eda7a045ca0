#!/usr/bin/env bash
# Fault: a slow and flaky Kafka cluster, which a real broker cannot be on demand: librdkafka's
# mock cluster (3 brokers, tests/tools/mock_broker.c) in a process of its own, and for
# FAULT_FLAKY_SECONDS (20; times FAULT_SOAK_FACTOR) a seeded chaos every 100-300 ms: retriable
# Produce errors, round trips up to 800 ms, partition leaders moving, a broker down and up.
# The relay produces to it while the writers commit; the verifier reads the mock cluster with
# kcat like a real one. Cycles: the faults injected. Recovery: from the end of the chaos to
# the next message.
#   fault_flaky_broker.sh poll|logical
set -euo pipefail
. "$(dirname "$0")/lib.sh"

MOCK_BROKER=${MOCK_BROKER:-$REPO/build/tools/mock-broker}
[ -x "$MOCK_BROKER" ] || fail "$MOCK_BROKER not found: run make build/tools/mock-broker"
SECONDS_CHAOS=$(fault_cycles "${FAULT_FLAKY_SECONDS:-20}")
SEED=${FAULT_FLAKY_SEED:-$RANDOM}

FAULT_APPEND_TIMES=0   # the mock cluster keeps the producer's timestamps
fault_setup "${1:-poll}" none
mkfifo "$T/mock.in"
"$MOCK_BROKER" --brokers 3 --partitions "${KAFKA_PARTITIONS:-4}" --topic "$FAULT_TOPIC" \
  --ready-file "$T/mock.bootstrap" <"$T/mock.in" >"$T/mock.out" 2>"$T/mock.err" &
MOCK_PID=$!
exec 7>"$T/mock.in"      # held open: the tool reads commands until it is closed
wait_for "the mock cluster is up" 30 test -s "$T/mock.bootstrap"
KAFKA_BROKERS=$(cat "$T/mock.bootstrap")
log "mock cluster on $KAFKA_BROKERS (pid $MOCK_PID), chaos seed $SEED"
# One request in flight per connection. The mock cluster does not check an idempotent
# producer's sequence numbers as a broker does: it appends a batch although the one before it
# failed. With several requests in flight librdkafka then sees a later batch acked and takes
# the failed one for persisted (right against a real broker, which refuses such a batch), so
# the relay is told of deliveries the mock never stored: seeds 3 and 4 lost 3-10 acked events
# with 5 in flight and none with 1, nor with idempotence off.
FAULT_KAFKA_EXTRA="max_in_flight_requests_per_connection = 1; ${FAULT_KAFKA_EXTRA:-}"
fault_conf "$FAULT_CONF" "$KAFKA_BROKERS"

answers() { [ "$(grep -c '' "$T/mock.out")" -ge "$1" ]; }
fault_start
echo "chaos $SECONDS_CHAOS $SEED" >&7
wait_for "the chaos starts" 10 answers 1
grep -qx ok "$T/mock.out" || fail "mock-broker refused the chaos: $(cat "$T/mock.out")"
wait_for "the chaos ends" $(( SECONDS_CHAOS + 30 )) log_has "$T/mock.err" 'chaos done'
fault_recovery_begin
fault_recovery_end
summary=$(grep -m 1 'chaos done' "$T/mock.err")
log "$summary"
cycles=$(printf '%s\n' "$summary" | grep -o '[a-z_]*=[0-9]*' | grep -v '(' \
         | awk -F= '$1 ~ /^(produce_errors|rtt|leader_moves|broker_downs)$/ { n += $2 } END { print n + 0 }')
fault_end flaky-broker "$cycles"
echo quit >&7
exec 7>&-
wait_for "mock-broker exits" 30 child_gone "$MOCK_PID"
