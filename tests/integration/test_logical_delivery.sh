#!/usr/bin/env bash
# Logical mode, must-show 1: concurrent transactions committing out of id order, all three
# outbox styles. WRITERS sessions write EVENTS events over AGGREGATES aggregates shared by all
# writers without any lock, so one aggregate's transactions commit in an order unrelated to
# their ids; each event is, at random, a kept row (INSERT), a row deleted again before COMMIT,
# or a message from outbox_emit_message(); some transactions roll back. Each writer records its
# events in verify.expected in the same transaction. Besides, one transaction inserts its
# events for aggregate "hot" first (lowest ids) and commits last, after three later events of
# "hot" have reached Kafka.
#
# Must show: Kafka holds exactly the committed events (checked against both verify.expected and
# a test_decoding slot), each once, keyed by aggregate id on outbox.event.<aggregate_type>,
# each aggregate in one partition in commit order; value = payload, headers event_id,
# event_type, aggregate_type, schema_version and the extra headers; rolled-back events absent;
# the deleted rows gone from the table; the late "hot" events after the earlier-committed ones.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/logical.sh"

EVENTS=${EVENTS:-6000}
AGGREGATES=${AGGREGATES:-40}
WRITERS=${WRITERS:-4}
SOURCE=orders
SLOT=$(logical_slot_name "$SOURCE")

# write_scripts: one SQL script per writer, about EVENTS/WRITERS events each, in transactions of
# 1-4 events; every 13th transaction rolls back.
write_scripts() {
  local w
  for w in $(seq 1 "$WRITERS"); do
    awk -v w="$w" -v n=$(( EVENTS / WRITERS )) -v aggs="$AGGREGATES" '
    function q(s) { gsub(/'\''/, "'\'''\''", s); return "'\''" s "'\''" }
    BEGIN {
      srand(w * 7919)
      done_ = 0; tx = 0
      while (done_ < n) {
        tx++; k = 1 + int(rand() * 4); rollback = (tx % 13 == 0); deleted = 0
        print "BEGIN;"
        for (i = 0; i < k; i++) {
          a = int(rand() * aggs); type = (a % 2) ? "customer" : "order"
          agg = "agg-" a; et = type "Changed"; v = (rand() < 0.15) ? 2 : 1
          r = rand(); style = (r < 0.4) ? "row" : (r < 0.7) ? "deleted" : "message"
          p = sprintf("{\"writer\": %d, \"tx\": %d, \"i\": %d, \"style\": \"%s\", " \
                      "\"note\": \"caf\\u00e9 \\\"q\\\" back\\\\slash it'\''s\"}", w, tx, i, style)
          h = ((tx + i) % 5 == 0) ? q(sprintf("{\"trace_id\": \"tr-%d-%d-%d\", \"tenant\": \"acme\", " \
                                              "\"attempt\": 3, \"replayed\": false}", w, tx, i)) "::jsonb" \
                                  : "NULL::jsonb"
          if (style == "message") {
            printf "INSERT INTO verify.expected SELECT public.outbox_emit_message(%s, %s, %s, %s::jsonb, %s, %d), " \
                   "%s, %s, %s, %d, %s::jsonb, %s, '\''message'\'';\n",
                   q(type), q(agg), q(et), q(p), h, v, q(type), q(agg), q(et), v, q(p), h
          } else {
            if (style == "deleted") deleted++
            printf "WITH e AS (INSERT INTO public.outbox (aggregate_type, aggregate_id, event_type, " \
                   "schema_version, payload, headers) VALUES (%s, %s, %s, %d, %s::jsonb, %s) " \
                   "RETURNING event_id, aggregate_type, aggregate_id, event_type, schema_version, " \
                   "payload, headers) INSERT INTO verify.expected SELECT e.*, %s FROM e;\n",
                   q(type), q(agg), q(et), v, q(p), h, q(style)
          }
          if (!rollback) done_++
        }
        if (deleted)
          print "DELETE FROM public.outbox WHERE txid = pg_current_xact_id() AND payload->>'\''style'\'' = '\''deleted'\'';"
        if (tx % 7 == 0) printf "SELECT pg_sleep(%.3f);\n", rand() * 0.03
        print rollback ? "ROLLBACK;" : "COMMIT;"
      }
    }' >"$T/writer$w.sql"
  done
}

# tx_idle: the held session sits in its open transaction.
tx_idle() {
  [ "$(pg_sql "SELECT count(*) FROM pg_stat_activity
               WHERE application_name = 'late-hot' AND state = 'idle in transaction'")" -eq 1 ]
}

# hot_in_kafka N: at least N messages keyed "hot" are in outbox.event.order.
hot_in_kafka() {
  [ "$(kafka_consume outbox.event.order '%k\n' 2>/dev/null | grep -cx hot || true)" -ge "$1" ]
}

# hot_events STYLE_SUFFIX: SQL writing one event of each style for aggregate "hot", recorded in
# verify.expected; the deleted row is deleted by the caller before COMMIT.
hot_events() {
  local tag=$1
  cat <<EOF
WITH e AS (INSERT INTO public.outbox (aggregate_type, aggregate_id, event_type, payload)
           VALUES ('order', 'hot', 'HotRow', '{"tag": "$tag", "style": "row"}') RETURNING *)
  INSERT INTO verify.expected SELECT event_id, aggregate_type, aggregate_id, event_type,
                                     schema_version, payload, headers, 'row' FROM e;
WITH e AS (INSERT INTO public.outbox (aggregate_type, aggregate_id, event_type, payload)
           VALUES ('order', 'hot', 'HotDeleted', '{"tag": "$tag", "style": "deleted"}') RETURNING *)
  INSERT INTO verify.expected SELECT event_id, aggregate_type, aggregate_id, event_type,
                                     schema_version, payload, headers, 'deleted' FROM e;
INSERT INTO verify.expected
  SELECT public.outbox_emit_message('order', 'hot', 'HotMessage', '{"tag": "$tag", "style": "message"}',
                                    '{"trace_id": "hot-$tag"}'),
         'order', 'hot', 'HotMessage', 1, '{"tag": "$tag", "style": "message"}',
         '{"trace_id": "hot-$tag"}', 'message';
EOF
}

# check_values_and_headers: every message's value is its event's payload (as JSON) and its
# headers are exactly event_id, event_type, aggregate_type, schema_version, content-type
# (application/json) and the extra ones.
check_values_and_headers() {
  local out
  out=$(pg_sql "
    WITH m AS (SELECT DISTINCT ON (event_id) * FROM verify.msgs ORDER BY event_id, off),
    h AS (SELECT m.event_id, m.value,
                 (SELECT jsonb_object_agg(split_part(x, '=', 1), substr(x, strpos(x, '=') + 1))
                  FROM unnest(string_to_array(m.headers, ',')) x) AS hdr
          FROM m),
    c AS (
      SELECT e.style,
             h.value IS NULL OR h.value::jsonb IS DISTINCT FROM e.payload AS value_bad,
             h.hdr->>'event_type' IS DISTINCT FROM e.event_type
               OR h.hdr->>'aggregate_type' IS DISTINCT FROM e.aggregate_type
               OR h.hdr->>'schema_version' IS DISTINCT FROM e.schema_version::text
               OR h.hdr->>'content-type' IS DISTINCT FROM 'application/json' AS std_bad,
             h.hdr - ARRAY['event_id', 'event_type', 'aggregate_type', 'schema_version',
                           'content-type']
               IS DISTINCT FROM coalesce((SELECT jsonb_object_agg(k, v)
                                          FROM jsonb_each_text(e.headers) AS x(k, v)), '{}')
               AS extra_bad,
             e.headers IS NOT NULL AS has_extra
      FROM h JOIN verify.expected e ON e.event_id::text = h.event_id)
    SELECT string_agg(style || ': messages=' || n || ' with_extra_headers=' || nx
                      || ' value_mismatch=' || vb || ' standard_header_mismatch=' || sb
                      || ' extra_header_mismatch=' || xb, '; ' ORDER BY style)
           || CASE WHEN sum(vb + sb + xb) = 0 THEN ' -> OK' ELSE ' -> FAILED' END
    FROM (SELECT style, count(*) n, count(*) FILTER (WHERE has_extra) nx,
                 count(*) FILTER (WHERE value_bad) vb, count(*) FILTER (WHERE std_bad) sb,
                 count(*) FILTER (WHERE extra_bad) xb
          FROM c GROUP BY style) s")
  log "values and headers: $out"
  case $out in *'-> OK') ;; *) fail "values or headers differ from the events written" ;; esac
}

pg_start
kafka_start
pg_migrate
truth_start
pg_sql "CREATE TABLE verify.expected (event_id uuid PRIMARY KEY, aggregate_type text,
          aggregate_id text, event_type text, schema_version int, payload jsonb, headers jsonb,
          style text)"
write_scripts

relay_conf -o "$T/relay.conf" -s "$SOURCE" -m logical
relay_start "$T/relay.conf" "$T/relay.log"
wait_for "relay active" 30 log_has "$T/relay.log" "source \"$SOURCE\": active"
pg_slot_exists "$SLOT" || fail "the relay did not create slot $SLOT"

# the late transaction: inserts first, commits last
mkfifo "$T/hot.fifo"
"$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 "$PG_DSN application_name=late-hot" \
  <"$T/hot.fifo" >"$T/hot.out" 2>&1 &
exec 3>"$T/hot.fifo"
{ echo "BEGIN;"; hot_events late; } >&3
wait_for "the late transaction wrote its events and waits" 10 tx_idle

# three later events of "hot" (higher ids), committed in one transaction, published meanwhile
pg_sql "BEGIN; $(hot_events early)
        DELETE FROM public.outbox WHERE aggregate_id = 'hot' AND payload->>'tag' = 'early'
                                    AND payload->>'style' = 'deleted';
        COMMIT;" >/dev/null
wait_for "the earlier-committed events of \"hot\" in Kafka" 30 hot_in_kafka 3

start=$(now_ms)
pg_sql_files_concurrently "$T"/writer*.sql &
writers=$!
echo "DELETE FROM public.outbox WHERE txid = pg_current_xact_id() AND payload->>'style' = 'deleted';
      COMMIT;" >&3
exec 3>&-
wait "$writers" || fail "the writers failed"
log "writers committed in $(( $(now_ms) - start )) ms"
[ "$(pg_sql "SELECT count(*) FROM public.outbox WHERE aggregate_id = 'hot'")" -eq 2 ] \
  || fail "the late transaction did not commit: $(cat "$T/hot.out")"

end_lsn=$(pg_wal_lsn)
wait_for "slot $SLOT confirmed past every commit ($end_lsn)" 120 pg_slot_lsn_ge "$SLOT" "$end_lsn"
log "relay drained everything $(( $(now_ms) - start )) ms after the writers started"
relay_stop

truth_load
kafka_load msgs
log "expected: $(pg_sql "SELECT string_agg(style || '=' || n, ' ') FROM (SELECT style, count(*) n
                         FROM verify.expected GROUP BY style ORDER BY style) s")"

# the decoded truth and the writers' own record agree: committed events only, right styles
[ "$(pg_sql "SELECT count(*) FROM verify.truth t FULL JOIN verify.expected e
             ON e.event_id::text = t.event_id
             WHERE t.event_id IS NULL OR e.event_id IS NULL
                OR (t.style = 'row') <> (e.style IN ('row', 'deleted'))")" -eq 0 ] \
  || fail "verify.truth and verify.expected disagree"
[ "$(pg_sql "SELECT count(*) FROM verify.expected WHERE style = 'deleted'")" -gt 0 ] \
  && [ "$(pg_sql "SELECT count(*) FROM verify.expected WHERE style = 'message'")" -gt 0 ] \
  || fail "the writers did not use every style"
# the table holds exactly the kept rows
[ "$(pg_sql "SELECT count(*) FROM public.outbox o FULL JOIN
               (SELECT * FROM verify.expected WHERE style = 'row') e USING (event_id)
             WHERE o.event_id IS NULL OR e.event_id IS NULL")" -eq 0 ] \
  || fail "public.outbox does not hold exactly the kept rows"

verify_logical
check_values_and_headers

# commit order is not id order: rows that committed after a row of the same aggregate with a
# higher id (and so reached Kafka after it)
inversions=$(pg_sql "SELECT count(*) FROM (
                       SELECT id, max(id) OVER (PARTITION BY aggregate_id ORDER BY seq
                                                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before
                       FROM verify.truth WHERE style = 'row') r WHERE id < before")
log "$inversions rows committed after a higher id of their aggregate"
[ "$inversions" -gt 1 ] || fail "the writers never committed an aggregate's rows out of id order"

# the late transaction's events: lowest ids of "hot", yet after the earlier-committed ones
late_id=$(pg_sql "SELECT o.id FROM public.outbox o WHERE payload->>'tag' = 'late'")
early_id=$(pg_sql "SELECT o.id FROM public.outbox o WHERE payload->>'tag' = 'early'")
[ "$late_id" -lt "$early_id" ] || fail "the late row ($late_id) does not have the lower id ($early_id)"
order=$(pg_sql "SELECT string_agg(e.payload->>'tag', ',' ORDER BY m.off)
                FROM verify.msgs m JOIN verify.expected e ON e.event_id::text = m.event_id
                WHERE m.key = 'hot'")
[ "$order" = "early,early,early,late,late,late" ] \
  || fail "aggregate hot in Kafka: $order (expected early x3, then late x3: commit order)"
log "hot: id $late_id committed after id $early_id and is published after it: $order"
log "all three styles delivered once each, in commit order per aggregate"
