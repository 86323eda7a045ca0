#!/usr/bin/env bash
# Avro end to end without a registry (format = "avro", framing = "single-object"):
# - `outbox-relay schema add` accepts version 1 and a backward-compatible version 2 of
#   OrderPlaced, and refuses two incompatible candidates with a message naming the field and the
#   rule; `schema check` and `schema list` see the catalog;
# - events of both versions, interleaved, are published; a consumer (tests/tools/avro-decode)
#   decodes every record with the writer schema its fingerprint names, and that schema is the
#   version the row asked for; a field left out of a v2 payload carries the schema's default;
#   the content-type header names the framing; a replay re-sends them with the same encoding.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

AVSC=$(dirname "$0")/avro
[ -x "${AVRO_DECODE:-}" ] || fail "AVRO_DECODE must name the avro-decode test tool (make integration builds it)"

pg_start
kafka_start
pg_migrate

relay_conf -o "$T/relay.conf" -s av -x 'format = "avro"; framing = "single-object";'

# --- the catalog ---------------------------------------------------------------------------
schema() { "$OUTBOX_RELAY" schema "$@" -c "$T/relay.conf"; }

schema add --event-type OrderPlaced "$AVSC/order_v1.avsc" >"$T/add1.out" 2>&1 \
  || { cat "$T/add1.out" >&2; fail "schema add of version 1 failed"; }
grep -q 'added OrderPlaced version 1' "$T/add1.out" || fail "unexpected: $(cat "$T/add1.out")"
schema add --event-type OrderPlaced "$AVSC/order_v2.avsc" >"$T/add2.out" 2>&1 \
  || { cat "$T/add2.out" >&2; fail "schema add of a compatible version 2 failed"; }
grep -q 'added OrderPlaced version 2' "$T/add2.out" || fail "unexpected: $(cat "$T/add2.out")"

rc=0; schema add --event-type OrderPlaced "$AVSC/order_bad_type.avsc" >"$T/bad1.out" 2>&1 || rc=$?
[ "$rc" -eq 65 ] || { cat "$T/bad1.out" >&2; fail "incompatible type change: exit $rc, expected 65"; }
grep -q 'order_id' "$T/bad1.out" && grep -qi 'backward' "$T/bad1.out" \
  || fail "refusal does not name the field and the rule: $(cat "$T/bad1.out")"
log "refused: $(cat "$T/bad1.out")"
rc=0; schema add --event-type OrderPlaced "$AVSC/order_bad_nodefault.avsc" >"$T/bad2.out" 2>&1 || rc=$?
[ "$rc" -eq 65 ] || { cat "$T/bad2.out" >&2; fail "new field without default: exit $rc, expected 65"; }
grep -q 'warehouse' "$T/bad2.out" && grep -qi 'default' "$T/bad2.out" \
  || fail "refusal does not name the field and the missing default: $(cat "$T/bad2.out")"
log "refused: $(cat "$T/bad2.out")"
[ "$(pg_sql "SELECT count(*) FROM outbox_schemas")" -eq 2 ] || fail "a refused schema was stored"

schema check --event-type OrderPlaced "$AVSC/order_bad_type.avsc" >/dev/null 2>&1 \
  && fail "schema check passed an incompatible schema"
schema check >"$T/check.out" 2>&1 || { cat "$T/check.out" >&2; fail "schema check of the catalog failed"; }
schema list >"$T/list.out" || fail "schema list failed"
[ "$(grep -c '^OrderPlaced ' "$T/list.out")" -eq 2 ] || { cat "$T/list.out" >&2; fail "schema list"; }
schema show --event-type OrderPlaced --version 1 | cmp -s - "$AVSC/order_v1.avsc" \
  || fail "schema show does not give back the original text"

# --- events of both versions -----------------------------------------------------------------
N=60
pg_sql "INSERT INTO outbox (aggregate_type, aggregate_id, event_type, schema_version, payload)
        SELECT 'order', 'o-' || (i % 7), 'OrderPlaced', 1 + i % 2,
               CASE WHEN i % 2 = 0 THEN
                 jsonb_build_object('order_id', 'order-' || i, 'amount', (i * 1.25)::text,
                                    'placed_at', '2026-11-21T10:00:00.123+01:00',
                                    'customer_id', '2f1e8f36-5a4c-4f3e-9d1a-0c6b3f2d9e' || lpad(i::text, 2, '0'),
                                    'note', CASE WHEN i % 4 = 0 THEN NULL ELSE 'n' || i END)
               ELSE
                 jsonb_build_object('order_id', 'order-' || i, 'amount', i * 2,
                                    'placed_at', 1795251600000 + i,
                                    'customer_id', '2f1e8f36-5a4c-4f3e-9d1a-0c6b3f2d9e' || lpad(i::text, 2, '0'))
                 || CASE WHEN i % 3 = 0 THEN '{}'::jsonb
                         ELSE jsonb_build_object('channel', 'APP', 'tags', jsonb_build_array('t' || i)) END
               END
        FROM generate_series(0, $N - 1) AS i"

relay_start "$T/relay.conf" "$T/relay.log"
wait_for "all $N rows marked" 60 pg_all_marked
relay_stop

kcat -C -b "$KAFKA_BROKERS" -t outbox.event.order -o beginning -e -q -m 30 -f '%K %S %h\n%k%s' \
  | "$AVRO_DECODE" --schema "$AVSC/order_v1.avsc" --schema "$AVSC/order_v2.avsc" >"$T/decoded.txt" \
  || fail "a record did not decode with its writer schema (see above)"
[ "$(wc -l <"$T/decoded.txt")" -eq "$N" ] || fail "decoded $(wc -l <"$T/decoded.txt") records, expected $N"

fp1=$(pg_sql "SELECT lpad(to_hex(fingerprint), 16, '0') FROM outbox_schemas WHERE schema_version = 1")
fp2=$(pg_sql "SELECT lpad(to_hex(fingerprint), 16, '0') FROM outbox_schemas WHERE schema_version = 2")
[ "$fp1" != "$fp2" ] || fail "both versions have fingerprint $fp1"

# every record: the writer is the version its schema_version header names, the content-type
# names the framing, and the decoded order_id is the row's
while IFS=$'\t' read -r key headers writer json; do
  version=$(printf '%s' "$headers" | grep -o 'schema_version=[0-9]*' | cut -d= -f2)
  case $version in 1) want=fp:$fp1 ;; 2) want=fp:$fp2 ;; *) fail "record without schema_version: $headers" ;; esac
  [ "$writer" = "$want" ] || fail "key $key: version $version written with $writer, expected $want"
  case $headers in *'content-type=avro/binary; framing=single-object'*) ;;
    *) fail "key $key: no single-object content-type header: $headers" ;; esac
  printf '%s' "$json" | grep -q '"order_id": "order-' || fail "key $key: decoded value lacks order_id: $json"
done <"$T/decoded.txt"

# defaults: v2 rows whose payload left out channel and tags (i % 3 = 0, i odd: 3, 9, 15, ...)
grep -F '"order_id": "order-3"' "$T/decoded.txt" | grep -F '"channel": "WEB"' | grep -qF '"tags": []' \
  || fail "order-3 (v2 without channel/tags) did not get the defaults: $(grep -F '"order-3"' "$T/decoded.txt")"
grep -F '"order_id": "order-5"' "$T/decoded.txt" | grep -qF '"channel": "APP"' \
  || fail "order-5: channel APP not kept"
# a union: null and a string
grep -F '"order_id": "order-4"' "$T/decoded.txt" | grep -qF '"note": null' || fail "order-4 note null"
grep -F '"order_id": "order-2"' "$T/decoded.txt" | grep -qF '"note": {"string": "n2"}' \
  || fail "order-2 note: $(grep -F '"order-2"' "$T/decoded.txt")"
# the logical type: 2026-11-21T10:00:00.123+01:00 = 1795251600123 ms
grep -F '"order_id": "order-0"' "$T/decoded.txt" | grep -qF '"placed_at": 1795251600123' \
  || fail "order-0 placed_at: $(grep -F '"order-0"' "$T/decoded.txt")"
log "$N records decoded, $(grep -c "fp:$fp1" "$T/decoded.txt") with v1 ($fp1), $(grep -c "fp:$fp2" "$T/decoded.txt") with v2 ($fp2)"
verify_outbox --topics '^outbox\.event\.order$' --expect-all-marked

# a replay goes through the same encoding: rows 1 and 2 (v1 and v2) again, same writer schemas
"$OUTBOX_RELAY" replay -c "$T/relay.conf" --from-id 1 --to-id 2 >"$T/replay.out" 2>&1 \
  || { cat "$T/replay.out" >&2; fail "replay of two Avro events failed"; }
kcat -C -b "$KAFKA_BROKERS" -t outbox.event.order -o beginning -e -q -m 30 -f '%K %S %h\n%k%s' \
  | "$AVRO_DECODE" --schema "$AVSC/order_v1.avsc" --schema "$AVSC/order_v2.avsc" | grep 'replay=1' >"$T/replayed.txt" \
  || fail "replayed Avro records do not decode"
[ "$(wc -l <"$T/replayed.txt")" -eq 2 ] || fail "expected 2 replayed records: $(cat "$T/replayed.txt")"
for id in 1 2; do
  orig=$(grep -F "\"order_id\": \"order-$((id - 1))\"" "$T/decoded.txt" | cut -f1,3,4)
  again=$(grep -F "\"order_id\": \"order-$((id - 1))\"" "$T/replayed.txt" | cut -f1,3,4)
  [ -n "$orig" ] && [ "$orig" = "$again" ] || fail "row $id replayed differs: '$again' vs '$orig'"
done

# --- logical mode: the same encoding from the WAL, and a poison event dead-lettered ----------
pg_migrate --table olog
relay_conf -o "$T/log.conf" -s lg -m logical -t public.olog \
  -x 'format = "avro"; framing = "single-object"; topic = "lg.{aggregate_type}"; on_error = "dead-letter";'
"$OUTBOX_RELAY" schema add -c "$T/log.conf" --event-type OrderPlaced "$AVSC/order_v2.avsc" --version 2 >/dev/null
relay_start "$T/log.conf" "$T/log.log"
wait_for "logical relay streaming" 30 log_has "$T/log.log" 'active: streaming'
pg_sql "BEGIN;
        SELECT public.olog_emit_message('order', 'l-1', 'OrderPlaced',
          '{\"order_id\": \"log-1\", \"amount\": \"3.10\", \"placed_at\": \"2026-11-21T10:00:00Z\",
            \"customer_id\": \"2f1e8f36-5a4c-4f3e-9d1a-0c6b3f2d9e01\"}', NULL, 2, 'outbox');
        INSERT INTO olog (aggregate_type, aggregate_id, event_type, schema_version, payload)
          VALUES ('order', 'l-1', 'OrderPlaced', 2, '{\"order_id\": \"log-2\", \"amount\": \"x\"}');
        INSERT INTO olog (aggregate_type, aggregate_id, event_type, schema_version, payload)
          VALUES ('order', 'l-1', 'OrderPlaced', 2,
          '{\"order_id\": \"log-3\", \"amount\": 7, \"placed_at\": 0, \"channel\": \"STORE\",
            \"customer_id\": \"2f1e8f36-5a4c-4f3e-9d1a-0c6b3f2d9e03\"}');
        COMMIT;"
lg_done() { [ "$(kafka_count lg.order)" -ge 2 ] && [ "$(kafka_count outbox.dlq.lg)" -ge 1 ]; }
wait_for "2 logical events published and 1 dead-lettered" 60 lg_done
relay_stop
kcat -C -b "$KAFKA_BROKERS" -t lg.order -o beginning -e -q -m 30 -f '%K %S %h\n%k%s' \
  | "$AVRO_DECODE" --schema "$AVSC/order_v2.avsc" >"$T/lg.txt" || fail "logical records do not decode"
[ "$(cut -f4 "$T/lg.txt" | grep -o '"order_id": "log-[0-9]"' | tr '\n' ' ')" = '"order_id": "log-1" "order_id": "log-3" ' ] \
  || fail "logical records: $(cat "$T/lg.txt")"
[ "$(pg_sql "SELECT count(*) FROM olog_dead_letters WHERE wal_lsn IS NOT NULL AND error ~ 'amount'
               AND payload LIKE '%log-2%'")" -eq 1 ] \
  || fail "the logical poison event is not recorded: $(pg_sql "SELECT * FROM olog_dead_letters")"
log "logical: log-1 (message) and log-3 (row) published in Avro, log-2 dead-lettered with its WAL position"
