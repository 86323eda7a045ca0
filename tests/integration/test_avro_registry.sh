#!/usr/bin/env bash
# Avro with a real Confluent-compatible Schema Registry (Apicurio Registry 2.6, its ccompat API;
# tests/registry/README.md), framing = "confluent":
# - the relay starts while the registry is down: it says so, retries, and publishes nothing
#   (never a record without a valid schema id) until the registry is up;
# - then version 1 and, after `schema add`, version 2 of OrderPlaced are registered under the
#   subject <topic>-value and published; a consumer fetches each writer schema by the id in the
#   record and decodes every record with it, the ids of the two versions differ, and the subject
#   holds both versions;
# - subject_strategy = "record" registers under the record's full name.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

AVSC=$(dirname "$0")/avro
[ -x "${AVRO_DECODE:-}" ] || fail "AVRO_DECODE must name the avro-decode test tool"

pg_start
kafka_start
pg_migrate
free_port; REG_PORT=$FREE_PORT
REG_URL=http://127.0.0.1:$REG_PORT/apis/ccompat/v7

relay_conf -o "$T/relay.conf" -s reg -x 'format = "avro"; retry_backoff_max_ms = 500;'
printf 'schema_registry = { url = "%s"; timeout_ms = 2000; };\n' "$REG_URL" >>"$T/relay.conf"
"$OUTBOX_RELAY" schema add -c "$T/relay.conf" --event-type OrderPlaced "$AVSC/order_v1.avsc" >/dev/null

emit() {  # emit VERSION FROM TO
  pg_sql "INSERT INTO outbox (aggregate_type, aggregate_id, event_type, schema_version, payload)
          SELECT 'order', 'o-' || (i % 5), 'OrderPlaced', $1,
                 jsonb_build_object('order_id', 'order-' || i, 'amount', i || '.50',
                                    'placed_at', '2026-11-21T10:00:00Z',
                                    'customer_id', '2f1e8f36-5a4c-4f3e-9d1a-0c6b3f2d9e' || lpad(i::text, 2, '0'))
          FROM generate_series($2, $3) AS i"
}
no_records() { [ "$(kafka_count outbox.event.order)" -eq 0 ] && [ "$(pg_marked)" -eq 0 ]; }

emit 1 1 20
relay_start "$T/relay.conf" "$T/relay.log"
wait_for "the relay reports the registry unavailable" 30 log_has "$T/relay.log" 'schema registry unavailable'
assert_for "nothing is published while the registry is down" 3 no_records
relay_alive || fail "the relay exited while the registry was down"

registry_start "$REG_PORT"
[ "$REGISTRY_URL" = "$REG_URL" ] || fail "registry URL $REGISTRY_URL, expected $REG_URL"
wait_for "the 20 version-1 events published once the registry is up" 60 pg_all_marked

"$OUTBOX_RELAY" schema add -c "$T/relay.conf" --event-type OrderPlaced "$AVSC/order_v2.avsc" >/dev/null
emit 2 21 40
wait_for "the 20 version-2 events published" 60 pg_all_marked
relay_stop

kcat -C -b "$KAFKA_BROKERS" -t outbox.event.order -o beginning -e -q -m 30 -f '%K %S %h\n%k%s' \
  | "$AVRO_DECODE" --registry "$REGISTRY_URL" >"$T/decoded.txt" \
  || fail "a record did not decode with the schema its id names (see above)"
[ "$(wc -l <"$T/decoded.txt")" -eq 40 ] || fail "decoded $(wc -l <"$T/decoded.txt") records, expected 40"
id_of() {  # the writer ids of the records whose schema_version header is $1
  awk -F '\t' -v v="schema_version=$1" 'index($2, v) { print $3 }' "$T/decoded.txt" | sort -u
}
id1=$(id_of 1); id2=$(id_of 2)
[ "$(printf '%s\n' "$id1" | wc -l)" -eq 1 ] && [ "$(printf '%s\n' "$id2" | wc -l)" -eq 1 ] \
  || fail "each version should have one schema id: v1 $id1, v2 $id2"
[ "$id1" != "$id2" ] || fail "both versions were published with $id1"
grep -c 'content-type=avro/binary; framing=confluent' "$T/decoded.txt" | grep -qx 40 \
  || fail "records without the confluent content-type header"
grep -F '"order_id": "order-30"' "$T/decoded.txt" | grep -qF '"channel": "WEB"' \
  || fail "order-30 (v2, no channel in the payload) lacks the default"
versions=$(curl -fsS "$REGISTRY_URL/subjects/outbox.event.order-value/versions")
[ "$versions" = "[1,2]" ] || fail "subject outbox.event.order-value has versions $versions, expected [1,2]"
curl -fsS "$REGISTRY_URL/schemas/ids/${id2#id:}" | grep -q 'channel' \
  || fail "the registry's schema ${id2} is not version 2"
log "v1 published as $id1, v2 as $id2; subject outbox.event.order-value versions $versions"
verify_outbox --topics '^outbox\.event\.order$' --expect-all-marked

# --- subject_strategy = "record" ---------------------------------------------------------------
pg_migrate --table orec
relay_conf -o "$T/rec.conf" -s rec -t public.orec \
  -x 'format = "avro"; subject_strategy = "record"; topic = "rec.{aggregate_type}";'
printf 'schema_registry = { url = "%s"; };\n' "$REGISTRY_URL" >>"$T/rec.conf"
"$OUTBOX_RELAY" schema add -c "$T/rec.conf" --event-type OrderPlaced "$AVSC/order_v1.avsc" >/dev/null
pg_sql "INSERT INTO orec (aggregate_type, aggregate_id, event_type, payload)
        VALUES ('order', 'r-1', 'OrderPlaced', '{\"order_id\": \"r\", \"amount\": 1, \"placed_at\": 0,
                \"customer_id\": \"2f1e8f36-5a4c-4f3e-9d1a-0c6b3f2d9e00\"}')"
relay_start "$T/rec.conf" "$T/rec.log"
wait_for "the record-strategy event published" 60 pg_all_marked public.orec
relay_stop
curl -fsS "$REGISTRY_URL/subjects" | grep -q '"com.example.orders.OrderPlaced"' \
  || fail "no subject com.example.orders.OrderPlaced: $(curl -fsS "$REGISTRY_URL/subjects")"
registry_stop
