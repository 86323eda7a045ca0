#!/usr/bin/env bash
# Poison events with format = "avro" (invariant 5: poison events never vanish), under each policy.
# on_error = "stop" (the default): a payload that does not fit its schema halts the source with
#   an ERROR naming the row and the field; the rows before it are published, nothing after it;
#   once the row is fixed the relay's retry publishes the rest, in order.
# on_error = "dead-letter": a payload that does not fit, an unknown schema version and a row
#   missing a required header each go to the dead-letter topic (original JSON payload, error
#   header) and into outbox_dead_letters; the good rows around them are published and every
#   row is marked.
# A record the broker refuses at delivery (larger than the topic's max.message.bytes) is
#   dead-lettered too, and only that record: its batch neighbours, refused with it, are sent
#   again alone and published.
# A dead letter the dead-letter topic refuses for its size (a poison row with a large payload)
#   is sent again without its value (payload_omitted header) instead of being refused forever.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

AVSC=$(dirname "$0")/avro

pg_start
kafka_start

good() {  # good TABLE ORDER_NO [HEADERS_SQL]
  pg_sql "INSERT INTO $1 (aggregate_type, aggregate_id, event_type, schema_version, payload, headers)
          VALUES ('order', 'agg', 'OrderPlaced', 1,
                  jsonb_build_object('order_id', 'order-$2', 'amount', '1.00', 'placed_at', 0,
                                     'customer_id', '2f1e8f36-5a4c-4f3e-9d1a-0c6b3f2d9e00'),
                  ${3:-'{\"tenant_id\": \"t1\"}'})"
}
row_marked() { [ "$(pg_sql "SELECT published_at IS NOT NULL FROM $1 WHERE id = $2")" = t ]; }
nothing_more_published() { [ "$(kafka_count "$1")" -eq "$2" ]; }

# --- on_error = "stop" (default) --------------------------------------------------------------
pg_migrate --table ostop
relay_conf -o "$T/stop.conf" -s st -t public.ostop \
  -x 'format = "avro"; framing = "single-object"; topic = "stop.{aggregate_type}"; retry_backoff_max_ms = 1000;'
"$OUTBOX_RELAY" schema add -c "$T/stop.conf" --event-type OrderPlaced "$AVSC/order_v1.avsc" >/dev/null
good ostop 1
good ostop 2
pg_sql "INSERT INTO ostop (aggregate_type, aggregate_id, event_type, schema_version, payload)
        VALUES ('order', 'agg', 'OrderPlaced', 1,
                '{\"order_id\": \"order-3\", \"amount\": \"12.345\", \"placed_at\": 0,
                  \"customer_id\": \"2f1e8f36-5a4c-4f3e-9d1a-0c6b3f2d9e00\"}')"       # row 3: scale 3 > 2
good ostop 4
relay_start "$T/stop.conf" "$T/stop.log"
wait_for "an ERROR naming row 3 and field amount" 30 \
  log_has "$T/stop.log" 'ERROR: .*row 3 of public\.ostop.*amount'
wait_for "rows 1 and 2 marked" 30 row_marked ostop 2
assert_for "nothing after the poison row is published" 3 nothing_more_published stop.order 2
row_marked ostop 3 && fail "the poison row was marked"
row_marked ostop 4 && fail "a row after the poison row was marked"
relay_alive || fail "the relay exited instead of retrying"
log "stop: $(grep -m1 -o 'ERROR: .*' "$T/stop.log" | cut -c1-200)"
pg_sql "UPDATE ostop SET payload = jsonb_set(payload, '{amount}', '\"12.34\"') WHERE id = 3"
wait_for "all rows marked after the fix" 60 pg_all_marked ostop
relay_stop
[ "$(kafka_count stop.order)" -eq 4 ] || fail "expected 4 records in stop.order"
verify_outbox --table public.ostop --topics '^stop\.order$' --expect-all-marked

# --- on_error = "dead-letter" -------------------------------------------------------------------
pg_migrate
relay_conf -o "$T/dl.conf" -s dl \
  -x 'format = "avro"; framing = "single-object"; on_error = "dead-letter"; required_headers = ["tenant_id"];'
"$OUTBOX_RELAY" schema add -c "$T/dl.conf" --event-type OrderPlaced "$AVSC/order_v1.avsc" >/dev/null
good outbox 1                                                            # 1 good
pg_sql "INSERT INTO outbox (aggregate_type, aggregate_id, event_type, schema_version, payload, headers)
        VALUES ('order', 'agg', 'OrderPlaced', 1, '{\"order_id\": \"order-2\"}',
                '{\"tenant_id\": \"t1\"}')"                                # 2 missing fields
pg_sql "INSERT INTO outbox (aggregate_type, aggregate_id, event_type, schema_version, payload, headers)
        VALUES ('order', 'agg', 'OrderPlaced', 9, '{}', '{\"tenant_id\": \"t1\"}')"   # 3 no version 9
good outbox 4 "'{\"user_id\": \"u1\"}'"                                  # 4 no tenant_id
good outbox 5                                                            # 5 good
relay_start "$T/dl.conf" "$T/dl.log"
wait_for "all 5 rows marked" 60 pg_all_marked
relay_stop
kafka_consume outbox.dlq.dl '%h\t%k\t%s\n' >"$T/dlq.txt"
[ "$(wc -l <"$T/dlq.txt")" -eq 3 ] || { cat "$T/dlq.txt" >&2; fail "expected 3 dead letters"; }
dl_check() {  # dl_check ID ERROR_RE
  local line
  line=$(grep -E "(^|,)outbox_id=$1(,|	)" "$T/dlq.txt") || fail "row $1 not dead-lettered"
  printf '%s' "$line" | grep -Eq "error=[^	]*($2)" || fail "row $1: error does not match /$2/: $line"
  printf '%s' "$line" | grep -qF "$(pg_sql "SELECT payload::text FROM outbox WHERE id = $1")" \
    || fail "row $1: the dead letter's value is not the original payload: $line"
  [ "$(pg_sql "SELECT count(*) FROM outbox_dead_letters WHERE outbox_id = $1 AND error ~ '$2'
                 AND topic = 'outbox.dlq.dl' AND recovered_at IS NULL")" -eq 1 ] \
    || fail "row $1 is not recorded in outbox_dead_letters: $(pg_sql "SELECT * FROM outbox_dead_letters")"
}
dl_check 2 'amount'
dl_check 3 'version 9'
dl_check 4 'tenant_id'
[ "$(kafka_count outbox.event.order)" -eq 2 ] || fail "expected the 2 good rows in outbox.event.order"
verify_outbox --where "id IN (1, 5)" --topics '^outbox\.event\.order$' --expect-all-marked

# --- refused by the broker at delivery ------------------------------------------------------------
pg_migrate --table obig
relay_conf -o "$T/big.conf" -s big -t public.obig \
  -x 'topic = "big.{aggregate_type}"; on_error = "dead-letter"; dead_letter_topic = "big.dlq";'
# the topic takes at most 4000 bytes a batch; the producer's own limit stays at 1 MB
kafka_topic_config big.order max.message.bytes=4000
pg_sql "INSERT INTO obig (aggregate_type, aggregate_id, event_type, payload)
        SELECT 'order', 'a' || (i % 3), 'Sized',
               jsonb_build_object('i', i, 'pad', CASE WHEN i = 10 THEN repeat('x', 6000) ELSE 'small' END)
        FROM generate_series(1, 20) AS i"
relay_start "$T/big.conf" "$T/big.log"
wait_for "all 20 rows marked" 90 pg_all_marked obig
relay_stop
[ "$(kafka_count big.dlq)" -eq 1 ] || fail "expected exactly the oversized row in big.dlq, got $(kafka_count big.dlq)"
kafka_consume big.dlq '%h\n' | grep -q 'outbox_id=10' || fail "the dead letter is not row 10"
[ "$(kafka_count big.order)" -ge 19 ] || fail "neighbours of the oversized row were not published"
verify_outbox --table public.obig --where "id <> 10" --topics '^big\.order$' --expect-all-marked --allow-duplicates
log "delivery-time refusal: $(grep -m1 -o 'cannot be published: .*' "$T/big.log" | cut -c1-160)"

# --- a dead letter the dead-letter topic refuses for its size ------------------------------------
# row 3 is poison (empty aggregate_id) and carries 6 KB: its dead letter, with the payload as its
# value, is refused by small.dlq (max.message.bytes 4000) at delivery; the next try goes without
pg_migrate --table odl
relay_conf -o "$T/dl.conf" -s dls -t public.odl \
  -x 'topic = "dl.{aggregate_type}"; on_error = "dead-letter"; dead_letter_topic = "small.dlq";'
kafka_topic_config small.dlq max.message.bytes=4000
pg_sql "INSERT INTO odl (aggregate_type, aggregate_id, event_type, payload)
        SELECT 'order', CASE WHEN i = 3 THEN '' ELSE 'a' || i END, 'Sized',
               jsonb_build_object('i', i, 'pad', CASE WHEN i = 3 THEN repeat('x', 6000) ELSE 'small' END)
        FROM generate_series(1, 5) AS i"
relay_start "$T/dl.conf" "$T/dl.log"
wait_for "all 5 rows marked" 60 pg_all_marked odl
relay_stop
[ "$(kafka_count small.dlq)" -eq 1 ] || fail "expected one dead letter in small.dlq, got $(kafka_count small.dlq)"
kafka_consume small.dlq '%h\n' | grep -q 'outbox_id=3' || fail "the dead letter is not row 3"
kafka_consume small.dlq '%h\n' | grep -q 'payload_omitted=' || fail "the dead letter still carries its payload"
[ "$(pg_sql "SELECT length(payload) > 6000 FROM odl_dead_letters")" = t ] \
  || fail "the dead-letter record lost the payload"
verify_outbox --table public.odl --where "id <> 3" --topics '^dl\.order$' --expect-all-marked
log "refused dead letter: $(grep -m1 -o 'its dead letter was refused: .*' "$T/dl.log" | cut -c1-160)"
