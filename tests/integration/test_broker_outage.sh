#!/usr/bin/env bash
# The broker stops mid-run. Rows written while it is down must stay unmarked (ack before mark,
# invariant 1) while the relay keeps running; once the broker is back on the same port and data
# dir, they are delivered and marked, and nothing is lost.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

# insert_events FIRST LAST: events FIRST..LAST over 50 aggregates, 100 per transaction.
insert_events() {
  local from=$1 to=$2 lo
  for (( lo = from; lo <= to; lo += 100 )); do
    pg_sql "INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload)
            SELECT 'order', 'agg-' || (g % 50), 'OrderChanged', jsonb_build_object('n', g)
            FROM generate_series($lo, least($lo + 99, $to)) g"
  done
}

unreachable_lines() { log_count "$T/relay.log" 'could not reach Kafka'; }

# relay_noticed N: the relay logged "could not reach Kafka" more than N times.
relay_noticed() { [ "$(unreachable_lines)" -gt "$1" ]; }

# none_marked_above ID: no row with a higher id is marked published.
none_marked_above() {
  [ "$(pg_sql "SELECT count(*) FROM outbox WHERE id > $1 AND published_at IS NOT NULL")" -eq 0 ]
}

pg_start
kafka_start
pg_migrate
relay_conf -o "$T/relay.conf" -s orders
relay_start "$T/relay.conf" "$T/relay.log"

insert_events 1 1000
wait_for "first 1000 rows marked" 60 pg_all_marked

seen=$(unreachable_lines)
kafka_stop
if try_for 45 relay_noticed "$seen"; then
  log "relay logged that it cannot reach Kafka"
else
  log "NOTE: no 'could not reach Kafka' line within 45 s of the broker stopping"
fi
insert_events 1001 2000
# the relay polls every 50 ms: over 5 s it reads the new rows many times, and must mark none
assert_for "rows written while the broker is down stay unmarked" 5 none_marked_above 1000
relay_alive || fail "relay exited while the broker was down"
[ "$(pg_unmarked)" -eq 1000 ] || fail "expected exactly the 1000 new rows unmarked"

kafka_restart
insert_events 2001 2500
wait_for "all 2500 rows marked after the broker came back" 90 pg_all_marked
relay_stop
verify_outbox --allow-duplicates --expect-all-marked
log "broker outage: nothing lost, nothing marked early"
