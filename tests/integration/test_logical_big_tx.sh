#!/usr/bin/env bash
# Logical mode, must-show 4: one transaction of EVENTS (1,000,000) outbox rows with ~300-byte
# payloads over 10,000 aggregates, written while the relay streams. PostgreSQL decodes it only
# at COMMIT (protocol v1, no streaming of transactions in progress) and hands it over in one
# piece; the relay must pass it through with at most max_in_flight events in memory.
#
# Must show: every event in Kafka exactly once, keyed, in order (one transaction: commit order
# is id order, so the poll-mode verifier applies to the rows); the relay's peak RSS (VmHWM)
# below RSS_LIMIT_MIB (64). Takes 1-2 minutes on 2 cores.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/logical.sh"

EVENTS=${EVENTS:-1000000}
RSS_LIMIT_MIB=${RSS_LIMIT_MIB:-64}
SOURCE=big
SLOT=$(logical_slot_name "$SOURCE")

pg_start
kafka_start
pg_migrate
kafka_create_topic outbox.event.order

relay_conf -o "$T/relay.conf" -s "$SOURCE" -m logical
relay_start "$T/relay.conf" "$T/relay.log"
wait_for "relay active" 30 log_has "$T/relay.log" "source \"$SOURCE\": active"

start=$(now_ms)
pg_sql "INSERT INTO public.outbox (aggregate_type, aggregate_id, event_type, payload)
        SELECT 'order', 'agg-' || (g % 10000), 'BigTx',
               jsonb_build_object('seq', g, 'at', '2026-01-01T00:00:00Z', 'pad', repeat('x', 240))
        FROM generate_series(1, $EVENTS) g"
end_lsn=$(pg_wal_lsn)
committed=$(now_ms)
log "one transaction of $EVENTS events committed in $(( committed - start )) ms (WAL end $end_lsn)"
wait_for "slot $SLOT confirmed past the transaction" 600 pg_slot_lsn_ge "$SLOT" "$end_lsn"
done_ms=$(now_ms)
rss_kb=$(relay_vmhwm_kb)
relay_stop
log "relay delivered the transaction $(( done_ms - committed )) ms after its COMMIT" \
    "($(( EVENTS * 1000 / (done_ms - committed + 1) )) events/s including decoding)"
log "relay peak RSS (VmHWM): $(( rss_kb / 1024 )) MiB ($rss_kb kB), limit $RSS_LIMIT_MIB MiB"

verify_outbox
relay_rss_below "$rss_kb" "$RSS_LIMIT_MIB" "for a $EVENTS-event transaction"
log "a $EVENTS-event transaction delivered completely in bounded memory"
