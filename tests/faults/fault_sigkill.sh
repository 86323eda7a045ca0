#!/usr/bin/env bash
# Fault: SIGKILL the relay at a random moment while it streams (0-990 ms after a delivery),
# restart it, many cycles in a row (FAULT_SIGKILL_CYCLES, 20; times FAULT_SOAK_FACTOR in
# `make soak`), with writers committing throughout. After each kill, before the restart:
# nothing marked (poll) or confirmed (logical) is missing from Kafka. Recovery: from the
# restart to the next message in Kafka.
#   fault_sigkill.sh poll|logical
set -euo pipefail
. "$(dirname "$0")/lib.sh"

fault_setup "${1:-poll}"
CYCLES=$(fault_cycles "${FAULT_SIGKILL_CYCLES:-20}")
fault_start
for cycle in $(seq 1 "$CYCLES"); do
  fault_delivering "$cycle"
  relay_kill
  fault_check_marked
  fault_recovery_begin
  fault_relay_start
  fault_recovery_end
done
fault_end sigkill "$CYCLES"
