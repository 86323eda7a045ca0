#!/usr/bin/env bash
# Metrics and health over HTTP (issue 6), with events flowing:
# - /metrics parses as Prometheus text format 0.0.4 (tests/lib/promcheck.awk) during and after
#   the run; events_published_total and the latency histogram's count equal the records
#   consumed from Kafka once every row is marked;
# - /healthz 200; /readyz 200 while active, 503 naming the source once the broker is stopped,
#   200 again after it is back;
# - 405 for POST, 404 for another path; the page names no DSN or password.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

command -v curl >/dev/null || fail "curl is needed (tests/install-deps.sh)"
pg_start
kafka_start
pg_migrate
free_port; MPORT=$FREE_PORT
relay_conf -o "$T/relay.conf" -s mx -x 'topic = "mx.{aggregate_type}";'
printf 'metrics = { listen = "127.0.0.1:%s"; };\n' "$MPORT" >>"$T/relay.conf"
URL=http://127.0.0.1:$MPORT

code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
scrape() {  # scrape FILE: /metrics into FILE, checked
  curl -sf --max-time 5 "$URL/metrics" >"$1" || fail "GET /metrics failed"
  awk -f "$HARNESS_DIR/promcheck.awk" "$1" || fail "/metrics is not valid text format ($1)"
}
sample() {  # sample FILE NAME: the value of NAME{source="mx"} (a whole sample name with labels)
  awk -v n="$2" '$1 == n { print $2 }' "$1"
}
http_is() { [ "$(code "${@:2}")" = "$1" ]; }

relay_start "$T/relay.conf" "$T/relay.log"
wait_for "/healthz 200" 30 http_is 200 "$URL/healthz"
wait_for "/readyz 200 once the source is active" 60 http_is 200 "$URL/readyz"

pg_sql "INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload)
        SELECT 'order', 'a-' || (i % 7), 'Placed', jsonb_build_object('i', i)
        FROM generate_series(1, 3000) AS i"
# scrape while the events flow
scrape "$T/during.txt"
pg_sql "INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload)
        SELECT 'order', 'b-' || (i % 7), 'Placed', '{}' FROM generate_series(1, 2000) AS i"
scrape "$T/during2.txt"
wait_for "every row marked" 60 pg_all_marked

consumed=$(kafka_count mx.order)
published_is() {
  scrape "$T/after.txt"
  [ "$(sample "$T/after.txt" 'outbox_relay_events_published_total{source="mx"}')" = "$1" ]
}
wait_for "events_published_total = $consumed" 10 published_is "$consumed"
[ "$consumed" -eq 5000 ] || fail "consumed $consumed records, expected 5000"
count=$(sample "$T/after.txt" 'outbox_relay_event_latency_seconds_count{source="mx"}')
[ "$count" = "$consumed" ] || fail "latency histogram count $count != $consumed consumed"
inf=$(sample "$T/after.txt" 'outbox_relay_event_latency_seconds_bucket{source="mx",le="+Inf"}')
[ "$inf" = "$consumed" ] || fail "+Inf bucket $inf != $consumed"
for m in outbox_relay_events_dead_lettered_total outbox_relay_delivery_failures_total \
         outbox_relay_sessions_total outbox_relay_events_in_flight \
         outbox_relay_producer_queue_depth outbox_relay_last_ack_timestamp_seconds; do
  [ -n "$(sample "$T/after.txt" "$m{source=\"mx\"}")" ] || fail "no $m for source mx"
done
[ "$(sample "$T/after.txt" 'outbox_relay_source_state{source="mx",state="active"}')" = 1 ] \
  || fail "source state is not active"
for m in process_resident_memory_bytes process_cpu_seconds_total process_open_fds \
         process_start_time_seconds 'outbox_relay_build_info{version="0.1.0"}'; do
  [ -n "$(sample "$T/after.txt" "$m")" ] || fail "no $m"
done
backlog_zero() {
  scrape "$T/backlog.txt"
  [ "$(sample "$T/backlog.txt" 'outbox_relay_backlog_rows{source="mx"}')" = 0 ]
}
wait_for "backlog_rows 0 once everything is marked" 15 backlog_zero
! grep -qiE 'password|dsn|host=|postgres(ql)?://' "$T/after.txt" || fail "/metrics names a DSN"

[ "$(code -X POST "$URL/metrics")" = 405 ] || fail "POST /metrics is not 405"
[ "$(code "$URL/nope")" = 404 ] || fail "GET /nope is not 404"
[ "$(code -I "$URL/healthz")" = 200 ] || fail "HEAD /healthz is not 200"

# the broker goes away: not ready, and the body says which source and why
kafka_stop
wait_for "/readyz 503 while the broker is down" 60 http_is 503 "$URL/readyz"
body=$(curl -s --max-time 5 "$URL/readyz")
case "$body" in *'"mx"'*) ;; *) fail "/readyz does not name the source: $body" ;; esac
log "/readyz while the broker is down: $body"
[ "$(code "$URL/healthz")" = 200 ] || fail "/healthz is not 200 while the broker is down"
scrape "$T/down.txt"
kafka_restart
wait_for "/readyz 200 once the broker is back" 90 http_is 200 "$URL/readyz"

# events flow again and the counters go on from where they were
pg_sql "INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload)
        SELECT 'order', 'c-' || i, 'Placed', '{}' FROM generate_series(1, 100) AS i"
wait_for "the new rows marked" 60 pg_all_marked
consumed=$(kafka_count mx.order)
wait_for "events_published_total = $consumed after the outage" 10 published_is "$consumed"
relay_stop
log "metrics: $(grep -c '^[a-z]' "$T/after.txt") samples, $consumed events"
