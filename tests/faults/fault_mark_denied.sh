#!/usr/bin/env bash
# Fault: the database refuses the relay's mark, as a read-only or full database would, while
# events keep arriving and are delivered to Kafka:
#   poll     UPDATE (published_at) on the outbox is revoked from the relay's role
#   logical  INSERT and UPDATE on outbox_relay_slots are revoked from it (the confirmed
#            position cannot be recorded, so the slot is not confirmed either)
# FAULT_DENY_CYCLES (2) times: the relay must say so clearly in its log, mark/confirm nothing
# while denied (checked over the writers' next 30 transactions), lose nothing, and carry on
# once the privilege is granted again. Recovery: from the GRANT to the next mark (poll: a row
# marked; logical: the slot's confirmed position moving).
#   fault_mark_denied.sh poll|logical
set -euo pipefail
. "$(dirname "$0")/lib.sh"

fault_setup "${1:-poll}"
CYCLES=$(fault_cycles "${FAULT_DENY_CYCLES:-2}")
# the relay runs as its least-privilege role (FAULT_ROLE), which loses the one grant marking needs
if [ "$FAULT_MODE" = poll ]; then
  OBJECT=public.outbox PRIVS='UPDATE (published_at)'
  DENIED_RE='permission denied for table outbox'
else
  OBJECT=public.outbox_relay_slots PRIVS='INSERT, UPDATE'
  DENIED_RE='permission denied for table outbox_relay_slots'
fi

# mark_position: what the relay has marked (poll: rows marked; logical: the confirmed LSN)
mark_position() {
  if [ "$FAULT_MODE" = poll ]; then pg_marked; else fault_confirmed_lsn; fi
}
denied_more() { [ "$(log_count "$T/relay.log" "$DENIED_RE")" -gt "$1" ]; }
mark_moved() { [ "$(mark_position)" != "$1" ]; }

fault_start
for cycle in $(seq 1 "$CYCLES"); do
  fault_delivering "$cycle"
  denied_before=$(log_count "$T/relay.log" "$DENIED_RE")
  pg_admin_sql "REVOKE $PRIVS ON $OBJECT FROM $FAULT_ROLE" "$PG_DB" >/dev/null
  wait_for "cycle $cycle: the relay reports the refused mark" 60 denied_more "$denied_before"
  pos=$(mark_position)
  fault_writes_mark
  wait_for "cycle $cycle: 30 transactions committed while denied" 60 fault_writes_at_least 30
  [ "$(mark_position)" = "$pos" ] || fail "cycle $cycle: marked while denied ($pos -> $(mark_position))"
  [ "$FAULT_MODE" = logical ] || fault_check_marked
  pg_admin_sql "GRANT $PRIVS ON $OBJECT TO $FAULT_ROLE" "$PG_DB" >/dev/null
  FAULT_REC_START=$(now_ms)
  wait_for "cycle $cycle: the relay marks again" 120 mark_moved "$pos"
  FAULT_RECOVERY_MS+=($(( $(now_ms) - FAULT_REC_START )))
  log "recovered: marking again ${FAULT_RECOVERY_MS[-1]} ms after the GRANT"
done
log "the relay's message: $(grep -m 1 -E "$DENIED_RE" "$T/relay.log" | cut -c1-300)"
fault_end mark-denied "$CYCLES"
