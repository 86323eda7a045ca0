#!/usr/bin/env bash
# PostgreSQL restarts under the relay (invariant 2): an immediate (crash-like) restart while a
# backlog drains, then a fast one while idle. The relay keeps running, reconnects by itself,
# and in the end every event is in Kafka at least once, duplicates only as re-sends.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

insert_events() {
  pg_sql "INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload)
          SELECT 'order', 'agg-' || (g % 500), 'OrderChanged', jsonb_build_object('n', g)
          FROM generate_series(1, $1) g"
}

connected_count() { log_count "$T/relay.log" 'source "orders": active'; }
reconnected_since() { [ "$(connected_count)" -gt "$1" ]; }

pg_start
kafka_start
pg_migrate
relay_conf -o "$T/relay.conf" -s orders -x 'max_in_flight = 500; retry_backoff_max_ms = 1000;'
relay_start "$T/relay.conf" "$T/relay.log"
wait_for "relay active" 30 log_has "$T/relay.log" 'source "orders": active'

insert_events 20000
wait_for "the relay is draining" 60 pg_marked_at_least 1
seen=$(connected_count)
pg_restart immediate
wait_for "the relay reconnects after the immediate restart" 60 reconnected_since "$seen"
relay_alive || fail "the relay exited when PostgreSQL went away"
insert_events 1000
wait_for "all 21000 rows marked" 90 pg_all_marked

seen=$(connected_count)
pg_restart fast
wait_for "the relay reconnects after the fast restart" 60 reconnected_since "$seen"
insert_events 1000
wait_for "all 22000 rows marked" 60 pg_all_marked
relay_stop
verify_outbox --allow-duplicates --expect-all-marked
log "PostgreSQL restarts: relay reconnected, nothing lost"
