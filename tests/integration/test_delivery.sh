#!/usr/bin/env bash
# 20,000 events over 500 aggregates, written by 8 concurrent sessions while the relay runs.
# Each transaction locks its aggregate first (pg_advisory_xact_lock, as an app locks its
# aggregate row) and emits 1-5 events with outbox_emit(); some hold their locks a little before
# committing, so lower ids become visible after higher ones (invariant 4). Must show: every
# event_id arrives exactly once, key = aggregate_id, each aggregate in id order within its
# partition, every row marked; values are the payload text, timestamps are created_at, and
# the rows' extra `headers` land as Kafka headers next to event_id/event_type/... .
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

EVENTS=${EVENTS:-20000}
AGGREGATES=${AGGREGATES:-500}
WRITERS=${WRITERS:-8}

# write_scripts: one SQL script per writer, EVENTS/WRITERS events each.
write_scripts() {
  local w
  for w in $(seq 1 "$WRITERS"); do
    awk -v w="$w" -v n=$(( EVENTS / WRITERS )) -v aggs="$AGGREGATES" 'BEGIN {
      srand(w * 7919)
      done_ = 0; tx = 0
      while (done_ < n) {
        a = int(rand() * aggs); k = 1 + int(rand() * 5); if (k > n - done_) k = n - done_
        type = (a % 2) ? "customer" : "order"
        tx++
        hdr = (tx % 20 == 0) ? sprintf("'\''{\"trace_id\": \"tr-%d-%d\", \"tenant\": \"acme\", \"attempt\": 3, \"replayed\": false}'\''", w, tx) : "NULL"
        print "BEGIN;"
        printf "SELECT pg_advisory_xact_lock(hashtext('\''agg-%d'\''));\n", a
        for (i = 0; i < k; i++) {
          done_++
          printf "SELECT public.outbox_emit('\''%s'\'', '\''agg-%d'\'', '\''%sChanged'\'', " \
                 "'\''{\"writer\": %d, \"tx\": %d, \"seq\": %d, \"note\": \"caf\\u00e9 \\\"q\\\"\"}'\''::jsonb, %s);\n",
                 type, a, type, w, tx, i, hdr
        }
        if (tx % 40 == 0) print "SELECT pg_sleep(0.02);"
        print "COMMIT;"
      }
    }' >"$T/writer$w.sql"
  done
}

# check_headers: rows with extra headers carry them (strings as is, numbers/booleans as JSON
# text) after the standard ones; every message has event_type, aggregate_type, schema_version.
check_headers() {
  local topic
  pg_sql "COPY (SELECT event_id, headers->>'trace_id' FROM outbox WHERE headers IS NOT NULL)
          TO STDOUT" >"$T/hdr_rows.tsv"
  [ -s "$T/hdr_rows.tsv" ] || fail "no rows with headers were written"
  : >"$T/hdr_msgs.txt"
  for topic in outbox.event.order outbox.event.customer; do
    kafka_consume "$topic" '%h\n' >>"$T/hdr_msgs.txt"
  done
  awk -F '\t' '
    FNR == NR { want[$1] = $2; n++; next }
    {
      ev = ""; delete h
      m = split($0, hs, ",")
      for (i = 1; i <= m; i++) { p = index(hs[i], "="); h[substr(hs[i], 1, p - 1)] = substr(hs[i], p + 1) }
      ev = h["event_id"]
      if (!("event_type" in h) || !("aggregate_type" in h) || h["schema_version"] != "1") std_bad++
      if (!(ev in want)) next
      seen++
      if (h["trace_id"] != want[ev] || h["tenant"] != "acme" || h["attempt"] != "3" ||
          h["replayed"] != "false") {
        bad++; if (bad <= 5) print "header mismatch: " $0 > "/dev/stderr"
      }
    }
    END {
      printf "headers: rows_with_headers=%d seen=%d mismatched=%d missing_standard=%d\n", n, seen, bad, std_bad
      exit (seen == n && bad == 0 && std_bad == 0) ? 0 : 1
    }' "$T/hdr_rows.tsv" "$T/hdr_msgs.txt" || fail "extra headers not delivered as Kafka headers"
}

# check_values_and_timestamps: each message value is the row's payload::text and its timestamp
# is created_at in milliseconds.
check_values_and_timestamps() {
  local topic
  # not COPY: its text format would escape the backslashes of the JSON text
  pg_sql "SELECT event_id || E'\t' || floor(extract(epoch FROM created_at) * 1000)::bigint
                 || E'\t' || payload::text FROM outbox" >"$T/values_rows.tsv"
  : >"$T/values_msgs.tsv"
  for topic in outbox.event.order outbox.event.customer; do
    kafka_consume "$topic" '%h\t%T\t%s\n' >>"$T/values_msgs.tsv"
  done
  awk -F '\t' '
    FNR == NR { ts[$1] = $2; val[$1] = $3; next }
    {
      ev = ""; m = split($1, hs, ",")
      for (i = 1; i <= m; i++) if (index(hs[i], "event_id=") == 1) ev = substr(hs[i], 10)
      n++
      if (val[ev] != $3) { vbad++; if (vbad <= 3) print "value mismatch: " ev ": " $3 " vs " val[ev] > "/dev/stderr" }
      d = $2 - ts[ev]; if (d < -1 || d > 1) { tbad++; if (tbad <= 3) print "timestamp mismatch: " ev ": " $2 " vs " ts[ev] > "/dev/stderr" }
    }
    END {
      printf "values: messages=%d value_mismatch=%d timestamp_mismatch=%d\n", n, vbad, tbad
      exit (n > 0 && vbad == 0 && tbad == 0) ? 0 : 1
    }' "$T/values_rows.tsv" "$T/values_msgs.tsv" \
    || fail "message values or timestamps differ from the rows"
}

pg_start
kafka_start
pg_migrate
write_scripts
relay_conf -o "$T/relay.conf" -s orders
relay_start "$T/relay.conf" "$T/relay.log"
wait_for "relay active" 30 log_has "$T/relay.log" 'source "orders": active'

start=$(now_ms)
pg_sql_files_concurrently "$T"/writer*.sql
log "writers committed $EVENTS events in $(( $(now_ms) - start )) ms"
[ "$(pg_sql "SELECT count(*) FROM outbox")" -eq "$EVENTS" ] || fail "writers lost rows"
if [ "$EVENTS" -ge $(( AGGREGATES * 10 )) ]; then
  [ "$(pg_sql "SELECT count(DISTINCT aggregate_id) FROM outbox")" -gt $(( AGGREGATES * 9 / 10 )) ] \
    || fail "too few aggregates written"
fi
wait_for "all $EVENTS rows marked" 120 pg_all_marked
log "relay drained $EVENTS events $(( $(now_ms) - start )) ms after the writers started"
relay_stop

verify_outbox --expect-all-marked
check_headers
check_values_and_timestamps
log "every event exactly once, keyed, in order, marked, with its headers"
