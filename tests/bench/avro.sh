#!/usr/bin/env bash
# Avro encoding cost (not part of `make check`): the same backlog of EVENTS (200,000) events with
# ~300-byte payloads (8 fields: long, ISO-8601 timestamp, uuid, decimal, enum, array, nullable
# union, string) drained with format = "json" and with format = "avro" (single-object framing,
# tests/bench/bench_event.avsc), both in each of RUNS (3) runs, alternating which goes first.
# Prints events/s and peak RSS per drain, the medians per format and the ratio avro/json.
#
#   tests/bench/avro.sh                 RUNS=5 tests/bench/avro.sh
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

RUNS=${RUNS:-3}
EVENTS=${EVENTS:-200000}
AGGREGATES=${AGGREGATES:-10000}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-600}
SCHEMA=$(dirname "$0")/bench_event.avsc

load_backlog() {  # load_backlog AGGREGATE_TYPE
  pg_sql "TRUNCATE outbox RESTART IDENTITY"
  pg_sql "INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload)
          SELECT '$1', 'agg-' || (g % $AGGREGATES), 'BenchEvent',
                 jsonb_build_object('seq', g, 'at', '2026-01-01T00:00:00.250Z',
                                    'customer_id', md5(g::text)::uuid,
                                    'amount', round((g % 100000) / 100.0, 2)::text,
                                    'status', (ARRAY['OPEN', 'PAID', 'SHIPPED'])[1 + g % 3],
                                    'tags', jsonb_build_array('t' || (g % 10), 'bench'),
                                    'note', CASE WHEN g % 2 = 0 THEN NULL ELSE 'n' || g END,
                                    'pad', repeat('x', 100))
          FROM generate_series(1, $EVENTS) g"
  pg_sql "ANALYZE outbox"
}

drain() {  # drain FORMAT RUN: loads, drains, appends "rate rss_kb" to $T/FORMAT
  local format=$1 run=$2 type=bench_$1_$2 ms rate rss
  load_backlog "$type"
  kafka_create_topic "outbox.event.$type"
  relay_conf -o "$T/$type.conf" -s bench -x "format = \"$format\"; framing = \"single-object\";"
  relay_timed "$T/$type.conf" "$T/$type.log" "$format run $run: $EVENTS rows marked" \
    "$DRAIN_TIMEOUT" pg_all_marked
  ms=$DRAIN_MS rss=$DRAIN_RSS_KB
  relay_stop
  rate=$(( EVENTS * 1000 / ms ))
  echo "$rate $rss" >>"$T/$format"
  awk -v f="$format" -v r="$run" -v ms="$ms" -v rate="$rate" -v kb="$rss" 'BEGIN {
    printf "run %d %-4s: %.2f s = %d events/s, peak RSS %.1f MiB\n", r, f, ms / 1000, rate, kb / 1024 }'
}

relay_require
pg_start
kafka_start
pg_migrate
relay_conf -o "$T/schema.conf" -s bench
"$OUTBOX_RELAY" schema add -c "$T/schema.conf" --event-type BenchEvent "$SCHEMA" >/dev/null
log "backlog: $EVENTS events, $AGGREGATES aggregates, $RUNS run(s) of each format"
: >"$T/json"; : >"$T/avro"
for run in $(seq 1 "$RUNS"); do
  if [ $((run % 2)) -eq 1 ]; then drain json "$run"; drain avro "$run"
  else drain avro "$run"; drain json "$run"; fi
done
j=$(cut -d' ' -f1 "$T/json" | median); a=$(cut -d' ' -f1 "$T/avro" | median)
jr=$(cut -d' ' -f2 "$T/json" | median); ar=$(cut -d' ' -f2 "$T/avro" | median)
awk -v j="$j" -v a="$a" -v jr="$jr" -v ar="$ar" -v runs="$RUNS" 'BEGIN {
  printf "median of %d run(s): json %s events/s (%.1f MiB), avro %s events/s (%.1f MiB), avro/json = %.2f\n",
         runs, j, jr / 1024, a, ar / 1024, a / j }'
