#!/usr/bin/env bash
# Several sources in one daemon, each its own pipeline: a source whose database is unreachable
# retries with backoff and says why, while the other sources keep relaying.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

pg_start
kafka_start
pg_migrate
pg_migrate --table payments
free_port; dead_port=$FREE_PORT

cat >"$T/relay.conf" <<CONF
kafka = { brokers = "$KAFKA_BROKERS"; };
sources = (
  { name = "orders";   dsn = "$PG_DSN"; table = "public.outbox";   poll_interval_ms = 50; },
  { name = "broken";   dsn = "host=127.0.0.1 port=$dead_port dbname=app user=app";
    retry_backoff_max_ms = 1000; },
  { name = "payments"; dsn = "$PG_DSN"; table = "public.payments"; poll_interval_ms = 50;
    topic = "payments.{aggregate_type}"; }
);
CONF
relay_start "$T/relay.conf" "$T/relay.log"
wait_for "orders active" 30 log_has "$T/relay.log" 'source "orders": active'
wait_for "payments active" 30 log_has "$T/relay.log" 'source "payments": active'
wait_for "broken source says why" 30 \
  log_has "$T/relay.log" "source \"broken\": could not connect to database at 127.0.0.1:$dead_port"

pg_sql "INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload)
        SELECT 'order', 'o-' || (g % 20), 'OrderPlaced', '{}' FROM generate_series(1, 1000) g"
pg_sql "INSERT INTO payments (aggregate_type, aggregate_id, event_type, payload)
        SELECT 'payment', 'p-' || (g % 20), 'PaymentTaken', '{}' FROM generate_series(1, 1000) g"
wait_for "orders delivered" 60 pg_all_marked public.outbox
wait_for "payments delivered" 60 pg_all_marked public.payments

# the broken source kept retrying, with growing but capped waits
test_retries_at_least() { [ "$(log_count "$T/relay.log" 'source "broken": retrying in')" -ge "$1" ]; }
wait_for "broken source retries repeatedly" 30 test_retries_at_least 4
relay_alive || fail "the relay exited"
relay_stop
verify_outbox --expect-all-marked
verify_outbox --table public.payments --topics '^payments\.' --expect-all-marked
log "one unreachable source does not hold up the others"
