#!/usr/bin/env bash
# Fault: PostgreSQL goes away under the relay while it streams, FAULT_PG_CYCLES (5) times:
#   fault_postgres.sh poll|logical fast|immediate|terminate
# fast / immediate: `pg_ctl restart -m fast|immediate` (immediate: crash recovery on start);
# terminate: pg_terminate_backend() on every backend of the relay (its session, its
# walsender, its side connections), the server staying up. Writers whose transaction fails
# while the server is down are counted and go on. Recovery: from the server accepting
# connections again (or the termination) to the next message in Kafka.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

KIND=${2:-fast}
case $KIND in fast|immediate|terminate) ;; *) fail "kind must be fast, immediate or terminate" ;; esac
fault_setup "${1:-poll}"
CYCLES=$(fault_cycles "${FAULT_PG_CYCLES:-5}")

relay_backends() {
  pg_admin_sql "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'outbox-relay/%'"
}
relay_connected() { [ "$(relay_backends)" -gt 0 ]; }

fault_start
for cycle in $(seq 1 "$CYCLES"); do
  fault_delivering "$cycle"
  if [ "$KIND" = terminate ]; then
    wait_for "cycle $cycle: the relay is connected" 60 relay_connected
    n=$(pg_admin_sql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                      WHERE application_name LIKE 'outbox-relay/%'")
    log "cycle $cycle: terminated $n backend(s) of the relay"
  else
    pg_restart "$KIND"
  fi
  fault_recovery_begin
  fault_recovery_end
done
fault_end "postgres-$KIND" "$CYCLES"
