#!/usr/bin/env bash
# Backlog drain benchmark (not part of `make check`): a throwaway PostgreSQL and Kafka broker, a
# backlog of EVENTS (200,000) events with ~300-byte JSON payloads over AGGREGATES (10,000)
# aggregates written by one INSERT ... SELECT, then the relay is started and timed until every
# row is marked published. Reports events/s and the relay's peak RSS (VmHWM, read just before
# stopping it) for each of RUNS (3) runs, then the medians. VERIFY=1 (default) checks the last
# run's topic against the table with the verifier.
#
#   tests/bench/drain.sh                 RUNS=5 EVENTS=500000 tests/bench/drain.sh
# Extra relay settings: RELAY_SOURCE_CONF='batch_size = 5000;' RELAY_KAFKA_CONF='linger_ms = 20;'
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

RUNS=${RUNS:-3}
EVENTS=${EVENTS:-200000}
AGGREGATES=${AGGREGATES:-10000}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-600}

# load_backlog TYPE: empties the table and writes the backlog for aggregate type TYPE (its own
# topic per run, so the verifier sees only that run's messages).
load_backlog() {
  pg_sql "TRUNCATE outbox RESTART IDENTITY"
  pg_sql "INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload)
          SELECT '$1', 'agg-' || (g % $AGGREGATES), 'BenchEvent',
                 jsonb_build_object('seq', g, 'at', '2026-01-01T00:00:00Z',
                                    'pad', repeat('x', 240))
          FROM generate_series(1, $EVENTS) g"
  pg_sql "ANALYZE outbox"
}

relay_require
pg_start
kafka_start
pg_migrate
payload_bytes=$(pg_sql "SELECT length(jsonb_build_object('seq', 123456, 'at', '2026-01-01T00:00:00Z',
                                                         'pad', repeat('x', 240))::text)")
log "backlog: $EVENTS events, $AGGREGATES aggregates, ~$payload_bytes-byte payloads, $RUNS run(s)"

: >"$T/rates" ; : >"$T/rss"
for run in $(seq 1 "$RUNS"); do
  type=bench$run
  load_backlog "$type"
  kafka_create_topic "outbox.event.$type"   # topic creation is not the relay's time
  relay_conf -o "$T/relay-$run.conf" -s bench -x "${RELAY_SOURCE_CONF:-}" -k "${RELAY_KAFKA_CONF:-}"
  relay_timed "$T/relay-$run.conf" "$T/relay-$run.log" "run $run: $EVENTS rows marked" \
    "$DRAIN_TIMEOUT" pg_all_marked
  ms=$DRAIN_MS rss_kb=$DRAIN_RSS_KB
  relay_stop
  rate=$(( EVENTS * 1000 / ms ))
  echo "$rate" >>"$T/rates"
  echo "$rss_kb" >>"$T/rss"
  awk -v r="$run" -v n="$EVENTS" -v ms="$ms" -v rate="$rate" -v kb="$rss_kb" 'BEGIN {
    printf "run %d: %d events in %.2f s = %d events/s, peak RSS %.1f MiB\n", r, n, ms / 1000, rate, kb / 1024 }'
done

if [ "${VERIFY:-1}" = 1 ]; then
  verify_outbox --topics "^outbox\\.event\\.bench$RUNS\$" --expect-all-marked
fi
awk -v runs="$RUNS" -v rate="$(median <"$T/rates")" -v kb="$(median <"$T/rss")" -v n="$EVENTS" \
    -v aggs="$AGGREGATES" -v bytes="$payload_bytes" 'BEGIN {
  printf "median of %d run(s): %s events/s, peak RSS %.1f MiB (%d events, %d aggregates, ~%d-byte payloads)\n",
         runs, rate, kb / 1024, n, aggs, bytes }'
