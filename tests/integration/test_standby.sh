#!/usr/bin/env bash
# Two relay instances on one source (invariant 8): exactly one logs `active`, the other
# `standby`; only the active one publishes; when the active one is SIGKILLed mid-stream the
# standby takes over within seconds and nothing is lost. The killed one, restarted, waits as
# the new standby.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

ACTIVE_RE='source "orders": active'
STANDBY_RE='source "orders": standby'

insert_events() {
  pg_sql "INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload)
          SELECT 'order', 'agg-' || (g % 200), 'OrderChanged', jsonb_build_object('n', g)
          FROM generate_series(1, $1) g"
}

# roles_settled: one log says active and the other standby.
roles_settled() {
  { log_has "$T/a.log" "$ACTIVE_RE" && log_has "$T/b.log" "$STANDBY_RE"; } ||
  { log_has "$T/b.log" "$ACTIVE_RE" && log_has "$T/a.log" "$STANDBY_RE"; }
}

# advisory_locks_held: number of advisory locks granted in the database.
advisory_locks_held() {
  pg_admin_sql "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
}

pg_start
kafka_start
pg_migrate
relay_conf -o "$T/relay.conf" -s orders -x 'max_in_flight = 1000;'
relay_start "$T/relay.conf" "$T/a.log"; pid_a=$RELAY_PID
relay_start "$T/relay.conf" "$T/b.log"; pid_b=$RELAY_PID
wait_for "one relay active, the other standby" 30 roles_settled
if log_has "$T/a.log" "$ACTIVE_RE"; then
  active=$pid_a standby=$pid_b standby_log=$T/b.log
else
  active=$pid_b standby=$pid_a standby_log=$T/a.log
fi
log "active: pid $active, standby: pid $standby"
[ "$(advisory_locks_held)" -eq 1 ] || fail "expected one advisory lock held, by the active relay"

insert_events 3000
wait_for "3000 rows marked" 60 pg_all_marked
relay_alive "$standby" || fail "the standby exited"
! log_has "$standby_log" "$ACTIVE_RE|events published" \
  || fail "the standby claims to have been active or to have published"
verify_outbox --expect-all-marked   # no duplicates: a single writer

# a backlog, and the active relay dies mid-stream
insert_events 20000
wait_for "the active relay is draining" 60 pg_marked_at_least 4000
relay_kill "$active"
killed_at=$(now_ms)
log "killed the active relay with $(pg_marked) of 23000 rows marked"
wait_for "the standby takes over" 15 log_has "$standby_log" "$ACTIVE_RE"
log "takeover after $(( $(now_ms) - killed_at )) ms"
wait_for "all 23000 rows marked" 90 pg_all_marked

relay_start "$T/relay.conf" "$T/a2.log"
wait_for "the restarted relay waits as standby" 30 log_has "$T/a2.log" "$STANDBY_RE"
! log_has "$T/a2.log" "$ACTIVE_RE" || fail "the restarted relay became active too"
relay_stop "$RELAY_PID"
relay_stop "$standby"
verify_outbox --allow-duplicates --expect-all-marked
log "one writer at a time, takeover within 15 s, nothing lost"
