#!/usr/bin/env bash
# Fault: the Kafka broker stops and comes back while the relay streams, FAULT_BROKER_CYCLES (4)
# times: odd cycles a clean shutdown (SIGTERM), even cycles SIGKILL, which drops the batches in
# flight on the floor. The broker stays down while the writers commit 30 more transactions.
# While it is down nothing may be marked that the broker did not acknowledge; afterwards every
# event arrives. Recovery: from the broker answering again to the next message in Kafka.
#   fault_broker.sh poll|logical
set -euo pipefail
. "$(dirname "$0")/lib.sh"

fault_setup "${1:-poll}"
CYCLES=$(fault_cycles "${FAULT_BROKER_CYCLES:-4}")
fault_start
for cycle in $(seq 1 "$CYCLES"); do
  fault_delivering "$cycle"
  if [ $(( cycle % 2 )) -eq 1 ]; then sig=TERM; else sig=KILL; fi
  kafka_stop "$sig"
  fault_writes_mark
  wait_for "cycle $cycle: 30 transactions committed with the broker down" 60 \
    fault_writes_at_least 30
  kafka_restart
  fault_recovery_begin
  [ "$FAULT_MODE" = logical ] || fault_check_marked
  fault_recovery_end
done
fault_end broker-restart "$CYCLES"
