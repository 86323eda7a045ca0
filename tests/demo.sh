#!/usr/bin/env bash
# make demo: a throwaway PostgreSQL and Kafka, the outbox migration, the relay, a few sample
# events written the way an app writes them, and those events as a consumer sees them.
# Everything is stopped and removed at the end.
set -euo pipefail
TEST_NAME=demo
. "$(dirname "$0")/lib/harness.sh"
harness_init

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "starting a throwaway PostgreSQL and a single-node Kafka broker"
pg_start
kafka_start

say "outbox-relay migrate --dsn \"$PG_DSN\""
"$OUTBOX_RELAY" migrate --dsn "$PG_DSN"

relay_conf -o "$T/relay.conf" -s orders
say "configuration ($T/relay.conf)"
cat "$T/relay.conf"

say "outbox-relay run -c relay.conf"
relay_start "$T/relay.conf" "$T/relay.log"
wait_for "relay active" 30 log_has "$T/relay.log" 'source "orders": active'

say "an app writes business rows and events in the same transactions"
pg_sql "CREATE TABLE orders (id text PRIMARY KEY, total numeric, status text)"
for i in 1 2 3; do
  pg_sql "BEGIN;
    INSERT INTO orders VALUES ('order-$i', $i * 10, 'created');
    SELECT outbox_emit('order', 'order-$i', 'OrderCreated',
                       jsonb_build_object('order_id', 'order-$i', 'total', $i * 10),
                       '{\"trace_id\": \"demo-$i\"}');
  COMMIT;" >/dev/null
done
pg_sql "BEGIN;
  UPDATE orders SET status = 'paid' WHERE id = 'order-2';
  SELECT outbox_emit('order', 'order-2', 'OrderPaid', '{\"order_id\": \"order-2\"}');
COMMIT;" >/dev/null
pg_sql "SELECT outbox_emit('customer', 'customer-7', 'CustomerRegistered', '{\"name\": \"Ada\"}')" >/dev/null
wait_for "every event marked published" 30 pg_all_marked

say "the outbox table"
"$PG_BIN/psql" -X "$PG_DSN" -c "SELECT id, aggregate_type, aggregate_id, event_type, payload, published_at IS NOT NULL AS published FROM outbox ORDER BY id"

for topic in outbox.event.order outbox.event.customer; do
  say "consumed from Kafka topic $topic (partition, offset, key, headers, value)"
  kcat -C -b "$KAFKA_BROKERS" -t "$topic" -e -q -f 'p%p @%o  key=%k\n  headers: %h\n  value:   %s\n'
done

say "relay log"
relay_stop
cat "$T/relay.log"
say "done; everything is stopped and removed"
