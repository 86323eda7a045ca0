#!/usr/bin/env bash
# Hostile payloads. The broker runs with message.max.bytes = 300000 (every topic's
# max.message.bytes); the producer keeps librdkafka's message.max.bytes of 1000000.
# - poll, on_error = "dead-letter": a 500 kB payload (refused by the broker), a 2 MB one (refused
#   by the producer) and a 50 MB one each go to the dead-letter topic without their payload
#   (header payload_omitted; the payload is kept in outbox_dead_letters) and are marked; their
#   neighbours are published; a JSON payload nested 10,000 deep (jsonb takes it) is passed
#   through intact; the relay's peak RSS with the 50 MB row stays under 400 MiB (a few copies of
#   the row: libpq's result, the dead-letter record's parameter).
# - poll, on_error = "stop": the 2 MB row stops the source with an ERROR naming it, the row before
#   it published, none after; once fixed, the rest follows.
# - logical: a 250 kB TOASTed payload arrives intact, a 500 kB one is dead-lettered with its WAL
#   position, the rest in commit order.
# - format = "avro": the 10,000-deep payload is poison with the JSON scanner's depth message (no
#   stack overflow).
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/logical.sh"

KAFKA_EXTRA_CONFIG="message.max.bytes=300000"
pg_start
kafka_start

# blob BYTES: SQL for an incompressible text of about BYTES bytes (md5 hex digits)
blob() { echo "(SELECT string_agg(md5(g::text), '') FROM generate_series(1, $(( $1 / 32 ))) g)"; }
DEEP="(repeat('[', 10000) || '\"deep\"' || repeat(']', 10000))::jsonb"

emit() {  # emit TABLE AGGREGATE_ID PAYLOAD_SQL
  pg_sql "INSERT INTO $1 (aggregate_type, aggregate_id, event_type, payload)
          VALUES ('big', '$2', 'Tested', $3)"
}
row_marked() { [ "$(pg_sql "SELECT published_at IS NOT NULL FROM $1 WHERE id = $2")" = t ]; }

# --- poll, dead-letter ----------------------------------------------------------------------------
pg_migrate
emit outbox a-1 "'{\"n\": 1}'"                               # 1
emit outbox a-2 "jsonb_build_object('blob', $(blob 512000))"   # 2: 500 kB, the broker refuses it
emit outbox a-3 "'{\"n\": 3}'"                               # 3
emit outbox a-4 "jsonb_build_object('blob', $(blob 2080000))"  # 4: 2 MB, the producer refuses it
emit outbox a-5 "'{\"n\": 5}'"                               # 5
emit outbox a-6 "jsonb_build_object('blob', repeat('x', 50000000))"   # 6: 50 MB
emit outbox a-7 "$DEEP"                                      # 7: 10,000 levels
emit outbox a-8 "'{\"n\": 8}'"                               # 8
relay_conf -o "$T/dl.conf" -s dl -x 'on_error = "dead-letter";'
relay_start "$T/dl.conf" "$T/dl.log"
wait_for "all 8 rows marked" 90 pg_all_marked
hwm=$(relay_vmhwm_kb)
relay_stop
log "peak RSS with the 50 MB row: $(( hwm / 1024 )) MiB"
relay_rss_below "$hwm" 400 "with a 50 MB row"
! log_has "$T/dl.log" 'ERROR' || fail "the relay logged an error"
kafka_consume outbox.dlq.dl '%h\t%S\n' >"$T/dlq.txt"
[ "$(wc -l <"$T/dlq.txt")" -eq 3 ] || { cut -c1-300 "$T/dlq.txt" >&2; fail "expected 3 dead letters"; }
for id in 2 4 6; do
  line=$(grep -E "(^|,)outbox_id=$id(,|	)" "$T/dlq.txt") || fail "row $id not dead-lettered"
  printf '%s\n' "$line" | grep -q 'error=[^	]*[Tt]oo large' || fail "row $id: error header: $line"
  printf '%s\n' "$line" | grep -Eq 'payload_omitted=[0-9]+ bytes' || fail "row $id: no payload_omitted: $line"
  [ "$(pg_sql "SELECT d.payload::jsonb = o.payload FROM outbox_dead_letters d JOIN outbox o ON o.id = d.outbox_id
               WHERE d.outbox_id = $id")" = t ] || fail "row $id: payload not kept in outbox_dead_letters"
done
verify_outbox --where "id NOT IN (2, 4, 6)" --topics '^outbox\.event\.big$' --expect-all-marked
# the deep payload intact: Kafka holds what jsonb returns
kafka_consume outbox.event.big '%k\t%s\n' | awk -F '\t' '$1 == "a-7" { print $2 }' >"$T/deep.got"
pg_sql "SELECT payload::text FROM outbox WHERE id = 7" >"$T/deep.want"
cmp -s "$T/deep.got" "$T/deep.want" || fail "the 10,000-deep payload differs in Kafka"
log "dead-letter: 500 kB, 2 MB and 50 MB payloads dead-lettered, 10,000-deep JSON passed through"

# --- poll, stop -----------------------------------------------------------------------------------
pg_migrate --table ostop
emit ostop s-1 "'{\"n\": 1}'"
emit ostop s-2 "jsonb_build_object('blob', $(blob 2080000))"
emit ostop s-3 "'{\"n\": 3}'"
relay_conf -o "$T/st.conf" -s st -t public.ostop -x 'on_error = "stop"; retry_backoff_max_ms = 1000; topic = "stop.{aggregate_type}";'
relay_start "$T/st.conf" "$T/st.log"
wait_for "an ERROR naming row 2" 30 log_has "$T/st.log" 'ERROR: .*row 2 of public\.ostop cannot be published: .*too large'
wait_for "row 1 marked" 30 row_marked ostop 1
assert_for "row 3, after the oversized row, is not published" 3 eval '! row_marked ostop 3'
[ "$(kafka_count outbox.dlq.st)" -eq 0 ] || fail "on_error = stop wrote a dead letter"
pg_sql "UPDATE ostop SET payload = '{\"n\": 2}' WHERE id = 2"
wait_for "the rest published once the row is fixed" 60 pg_all_marked public.ostop
relay_stop
verify_outbox --table public.ostop --topics '^stop\.big$' --expect-all-marked

# --- logical: TOASTed payload intact, oversized dead-lettered -------------------------------------
pg_migrate --table olg
relay_conf -o "$T/lg.conf" -s lg -m logical -t public.olg -x 'on_error = "dead-letter"; topic = "lg.{aggregate_type}";'
relay_start "$T/lg.conf" "$T/lg.log"
wait_for "logical source streaming" 30 log_has "$T/lg.log" 'source "lg": active'
pg_sql "BEGIN;
        INSERT INTO olg (aggregate_type, aggregate_id, event_type, payload)
          VALUES ('big', 'l-1', 'Tested', '{\"n\": 1}'),
                 ('big', 'l-2', 'Tested', jsonb_build_object('blob', $(blob 256000))),
                 ('big', 'l-3', 'Tested', jsonb_build_object('blob', $(blob 512000))),
                 ('big', 'l-4', 'Tested', '{\"n\": 4}');
        COMMIT" >/dev/null
[ "$(pg_sql "SELECT pg_column_size(payload) < octet_length(payload::text) OR
                    (SELECT reltoastrelid <> 0 FROM pg_class WHERE relname = 'olg') FROM olg WHERE aggregate_id = 'l-2'")" = t ] \
  || fail "the 250 kB payload is not TOASTed"
lg_dead() { [ "$(pg_sql "SELECT count(*) FROM olg_dead_letters WHERE wal_lsn IS NOT NULL")" -eq 1 ]; }
wait_for "the 500 kB event dead-lettered" 30 lg_dead
KAFKA_MESSAGE_TOPICS=lg.big
wait_for "3 logical events in Kafka" 30 kafka_messages_at_least 3
relay_stop
kafka_consume lg.big '%k\t%s\n' >"$T/lg.txt"
# the refused record's neighbours are sent again when the stream restarts to isolate it:
# duplicates are allowed (at least once), losses are not
[ "$(cut -f1 "$T/lg.txt" | sort -u | tr '\n' ' ')" = "l-1 l-2 l-4 " ] \
  || fail "logical: got keys $(cut -f1 "$T/lg.txt" | tr '\n' ' ')"
pg_sql "SELECT payload::text FROM olg WHERE aggregate_id = 'l-2'" >"$T/toast.want"
awk -F '\t' '$1 == "l-2" { print $2 }' "$T/lg.txt" | sort -u >"$T/toast.got"
cmp -s "$T/toast.got" "$T/toast.want" || fail "the TOASTed payload differs in Kafka"
[ "$(kafka_count outbox.dlq.lg)" -eq 1 ] || fail "logical: expected one dead letter"
log "logical: $(wc -c <"$T/toast.want")-byte TOASTed payload intact, 500 kB one dead-lettered"

# --- avro: 10,000 levels are poison, not a stack overflow ------------------------------------------
pg_migrate --table oav
relay_conf -o "$T/av.conf" -s av -t public.oav \
  -x 'on_error = "dead-letter"; format = "avro"; framing = "single-object"; topic = "av.{aggregate_type}";'
cat >"$T/deep.avsc" <<'EOF'
{"type": "array", "items": {"type": "array", "items": "string"}}
EOF
"$OUTBOX_RELAY" schema add -c "$T/av.conf" --event-type Tested "$T/deep.avsc" >/dev/null
emit oav v-1 "'[[\"a\"]]'"
emit oav v-2 "$DEEP"
emit oav v-3 "'[[\"b\", \"c\"]]'"
relay_start "$T/av.conf" "$T/av.log"
wait_for "all avro rows marked" 30 pg_all_marked public.oav
relay_stop
[ "$(kafka_count av.big)" -eq 2 ] || fail "avro: expected 2 records"
kafka_consume outbox.dlq.av '%h\n' >"$T/avdlq.txt"
grep -q 'outbox_id=2' "$T/avdlq.txt" && grep -q 'error=[^	]*maximum parsing depth' "$T/avdlq.txt" \
  || fail "avro: the deep payload's dead letter: $(cut -c1-300 "$T/avdlq.txt")"
log "hostile payloads: oversized dead-lettered or stopping, deep JSON intact or refused, TOAST intact"
