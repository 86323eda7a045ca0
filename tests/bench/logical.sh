#!/usr/bin/env bash
# Logical-mode drain benchmark (not part of `make check`): how fast the relay empties a backlog
# of EVENTS (1,000,000) events from its replication slot into Kafka, next to pg_recvlogical
# decoding the same WAL with pgoutput into /dev/null — the ceiling of one slot on this machine.
#
# Each run writes the backlog while no relay runs (its slot, created by a first start, retains
# the WAL): transactions of TX_EVENTS (1000) rows with ~300-byte JSON payloads over AGGREGATES
# (10,000) aggregates, aggregate type bench<run> (its own topic, created beforehand). Just
# before the load a second slot, raw, is created at the same point. Then, in alternating order
# from run to run:
#   relay          started and timed until its slot's confirmed_flush_lsn reaches the WAL
#                  position right after the last COMMIT (every event acked by Kafka); peak RSS
#                  (VmHWM) read before stopping it. status_interval_ms = 100, so that the
#                  confirmation adds at most 0.1 s to the time measured;
#   pg_recvlogical --start --slot raw -o proto_version=1 -o publication_names=<the relay's>
#                  -o messages=true --endpos=<that position> -f /dev/null, timed until it exits.
# Reports events/s of both and their ratio per run, then the medians over RUNS (3) runs.
# VERIFY=1 (default) checks the last run's topic against its rows with the verifier.
#
#   tests/bench/logical.sh                 RUNS=5 EVENTS=200000 tests/bench/logical.sh
# Extra relay settings: RELAY_SOURCE_CONF='max_in_flight = 50000;' RELAY_KAFKA_CONF='linger_ms = 20;'
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

RUNS=${RUNS:-3}
EVENTS=${EVENTS:-1000000}
TX_EVENTS=${TX_EVENTS:-1000}
AGGREGATES=${AGGREGATES:-10000}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-600}
SOURCE=bench
SLOT=outbox_relay_bench     # the relay's default slot and publication for source "bench"
RAW=raw

# load_backlog TYPE: EVENTS events of aggregate type TYPE in transactions of TX_EVENTS; prints
# the WAL insert position right after the last COMMIT, taken in the same session.
load_backlog() {
  local tx n=$(( (EVENTS + TX_EVENTS - 1) / TX_EVENTS )) first last
  for tx in $(seq 0 $(( n - 1 ))); do
    first=$(( tx * TX_EVENTS + 1 ))
    last=$(( first + TX_EVENTS - 1 )); [ "$last" -le "$EVENTS" ] || last=$EVENTS
    printf "INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload)
  SELECT '%s', 'agg-' || (g %% %d), 'BenchEvent',
         jsonb_build_object('seq', g, 'at', '2026-01-01T00:00:00Z', 'pad', repeat('x', 240))
  FROM generate_series(%d, %d) g;\n" "$1" "$AGGREGATES" "$first" "$last"
  done >"$T/load.sql"
  echo "SELECT pg_current_wal_insert_lsn();" >>"$T/load.sql"
  pg_sql_file "$T/load.sql" | tail -n 1
}

slot_inactive() { ! pg_slot_active "$1"; }
slot_restart_past() { pg_lsn_ge "$(pg_slot_restart_lsn "$1")" "$2"; }

# run_relay RUN END_LSN: drains with the relay; appends to rates and rss.
run_relay() {
  local run=$1 end=$2 ms rss_kb
  relay_timed "$T/relay.conf" "$T/relay-$run.log" "run $run: relay confirmed $EVENTS events" \
    "$DRAIN_TIMEOUT" pg_slot_lsn_ge "$SLOT" "$end"
  ms=$DRAIN_MS rss_kb=$DRAIN_RSS_KB
  # let restart_lsn catch up before the next load, so that no run re-reads an older backlog
  pg_admin_sql "CHECKPOINT" >/dev/null
  wait_for "run $run: restart_lsn of $SLOT past the backlog" 120 slot_restart_past "$SLOT" "$end"
  relay_stop
  wait_for "slot $SLOT released" 30 slot_inactive "$SLOT"
  echo "$(( EVENTS * 1000 / ms ))" >>"$T/relay_rates"
  echo "$rss_kb" >>"$T/rss"
  RELAY_MS=$ms RELAY_RSS=$rss_kb
}

# run_recvlogical RUN END_LSN: decodes the same WAL through slot raw; appends to raw_rates.
run_recvlogical() {
  local run=$1 end=$2 start ms
  start=$(now_ms)
  "$PG_BIN/pg_recvlogical" -d "$PG_DSN" --slot "$RAW" --start --no-loop \
    -o proto_version=1 -o publication_names="$SLOT" -o messages=true \
    --endpos="$end" -f /dev/null 2>"$T/recvlogical-$run.log" \
    || { cat "$T/recvlogical-$run.log" >&2; fail "pg_recvlogical failed"; }
  ms=$(( $(now_ms) - start ))
  echo "$(( EVENTS * 1000 / ms ))" >>"$T/raw_rates"
  RAW_MS=$ms
}

relay_require
pg_start
kafka_start
pg_migrate
# autovacuum would analyze the table right after each load: WAL after the last COMMIT that
# neither reader needs but both would have to pass
pg_sql "ALTER TABLE outbox SET (autovacuum_enabled = false)"
payload_bytes=$(pg_sql "SELECT length(jsonb_build_object('seq', 123456, 'at', '2026-01-01T00:00:00Z',
                                                         'pad', repeat('x', 240))::text)")
relay_conf -o "$T/relay.conf" -s "$SOURCE" -m logical \
  -x "status_interval_ms = 100; ${RELAY_SOURCE_CONF:-}" -k "${RELAY_KAFKA_CONF:-}"
relay_start "$T/relay.conf" "$T/relay-setup.log"
wait_for "relay created slot $SLOT" 30 log_has "$T/relay-setup.log" "source \"$SOURCE\": active"
relay_stop
wait_for "slot $SLOT released" 30 slot_inactive "$SLOT"
log "backlog: $EVENTS events in transactions of $TX_EVENTS, $AGGREGATES aggregates," \
    "~$payload_bytes-byte payloads, $RUNS run(s)"

: >"$T/relay_rates"; : >"$T/raw_rates"; : >"$T/rss"
for run in $(seq 1 "$RUNS"); do
  type=bench$run
  kafka_create_topic "outbox.event.$type"
  ! pg_slot_exists "$RAW" || pg_sql "SELECT pg_drop_replication_slot('$RAW')" >/dev/null
  pg_sql "SELECT pg_create_logical_replication_slot('$RAW', 'pgoutput')" >/dev/null
  start=$(now_ms)
  end=$(load_backlog "$type")
  log "run $run: loaded in $(( $(now_ms) - start )) ms, WAL end $end," \
      "$(pg_sql "SELECT pg_size_pretty(pg_wal_lsn_diff('$end', confirmed_flush_lsn))
                 FROM pg_replication_slots WHERE slot_name = '$SLOT'") behind $SLOT"
  if [ $(( run % 2 )) -eq 1 ]; then
    run_relay "$run" "$end"; run_recvlogical "$run" "$end"
  else
    run_recvlogical "$run" "$end"; run_relay "$run" "$end"
  fi
  awk -v r="$run" -v n="$EVENTS" -v rms="$RELAY_MS" -v pms="$RAW_MS" -v kb="$RELAY_RSS" 'BEGIN {
    printf "run %d: relay %d events/s (%.2f s, peak RSS %.1f MiB), pg_recvlogical %d events/s (%.2f s), ratio %.2f\n",
           r, n * 1000 / rms, rms / 1000, kb / 1024, n * 1000 / pms, pms / 1000, pms / rms }'
done

if [ "${VERIFY:-1}" = 1 ]; then
  verify_outbox --where "aggregate_type = 'bench$RUNS'" --topics "^outbox\\.event\\.bench$RUNS\$"
fi
relay_rate=$(median <"$T/relay_rates")
raw_rate=$(median <"$T/raw_rates")
awk -v runs="$RUNS" -v rr="$relay_rate" -v pr="$raw_rate" -v kb="$(median <"$T/rss")" -v n="$EVENTS" \
    -v tx="$TX_EVENTS" -v aggs="$AGGREGATES" -v bytes="$payload_bytes" 'BEGIN {
  printf "median of %d run(s): relay %s events/s, pg_recvlogical %s events/s, ratio %.2f; relay peak RSS %.1f MiB\n",
         runs, rr, pr, rr / pr, kb / 1024
  printf "(%d events in transactions of %d, %d aggregates, ~%d-byte payloads)\n", n, tx, aggs, bytes }'
