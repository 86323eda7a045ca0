#!/usr/bin/env bash
# Unreachable servers at start. The relay starts with neither its database nor Kafka up: it
# keeps running and logs `could not connect to database`; PostgreSQL comes up on that port and
# the relay connects, but with Kafka still down it logs `could not reach Kafka` and marks
# nothing; the broker comes up on its port and every event is delivered and marked.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

all_unmarked() { [ "$(pg_unmarked)" -eq 100 ]; }

free_port; pg_port=$FREE_PORT
free_port; kafka_port=$FREE_PORT

relay_conf -o "$T/relay.conf" -s orders -b "127.0.0.1:$kafka_port" \
  -d "host=127.0.0.1 port=$pg_port dbname=app user=app connect_timeout=2"
relay_start "$T/relay.conf" "$T/relay.log"
wait_for "relay logs it cannot connect to the database" 30 \
  log_has "$T/relay.log" 'source "orders": could not connect to database'
relay_alive || fail "relay exited while its database was unreachable"

pg_start "$pg_port"
pg_migrate
pg_sql "INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload)
        SELECT 'order', 'agg-' || (g % 10), 'OrderChanged', jsonb_build_object('n', g)
        FROM generate_series(1, 100) g"
wait_for "relay connects once PostgreSQL is up" 60 log_has "$T/relay.log" 'source "orders": active'
wait_for "relay logs it cannot reach Kafka" 60 log_has "$T/relay.log" 'could not reach Kafka'
# over 3 s the relay (polling every 50 ms) has the rows in hand many times: none may be marked
assert_for "no row marked while Kafka is unreachable" 3 all_unmarked
relay_alive || fail "relay exited while Kafka was unreachable"

kafka_start "$kafka_port"
wait_for "all rows marked once Kafka is up" 60 pg_all_marked
relay_stop
verify_outbox --expect-all-marked
log "unreachable database and broker at start: waited, then delivered everything"
