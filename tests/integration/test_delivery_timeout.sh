#!/usr/bin/env bash
# Deliveries that fail for good: with message.timeout.ms short, stopping the broker makes
# librdkafka give up on the events in flight. The relay must not mark them, must keep the rows
# after them unmarked too (contiguous watermark), and once the broker is back must send
# everything unmarked again: nothing lost, duplicates only with the same event_id.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

pg_start
kafka_start
pg_migrate
relay_conf -o "$T/relay.conf" -s orders -k 'message_timeout_ms = 3000; linger_ms = 50;'
relay_start "$T/relay.conf" "$T/relay.log"
wait_for "relay active" 30 log_has "$T/relay.log" 'source "orders": active'

pg_sql "INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload)
        SELECT 'order', 'agg-' || (g % 40), 'OrderChanged', jsonb_build_object('n', g)
        FROM generate_series(1, 2000) g" >/dev/null
wait_for "first 2000 rows marked" 60 pg_all_marked

kafka_stop
pg_sql "INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload)
        SELECT 'order', 'agg-' || (g % 40), 'OrderChanged', jsonb_build_object('n', g)
        FROM generate_series(2001, 3000) g" >/dev/null
wait_for "deliveries timed out" 60 log_has "$T/relay.log" 'events were not acked'
wait_for "relay decided to send again" 30 log_has "$T/relay.log" 'sending everything unmarked again'
[ "$(pg_sql "SELECT count(*) FROM outbox WHERE id > 2000 AND published_at IS NOT NULL")" -eq 0 ] \
  || fail "rows whose delivery failed were marked published"
relay_alive || fail "relay exited after failed deliveries"

kafka_restart
wait_for "all 3000 rows marked after the broker came back" 120 pg_all_marked
relay_stop
verify_outbox --allow-duplicates --expect-all-marked
log "failed deliveries: not marked, sent again, nothing lost"
