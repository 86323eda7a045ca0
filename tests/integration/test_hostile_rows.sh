#!/usr/bin/env bash
# Hostile rows: invalid UTF-8 and NULLs. Every row ends up published with a defined behaviour or
# dead-lettered with a message naming the column: never a crash, never a silent skip.
# - invalid UTF-8, in a SQL_ASCII database (a UTF8 one refuses it): in the key (aggregate_id) and
#   event_type the bytes pass through to Kafka as they are; in headers (JSON, read with jansson)
#   the row is poison ("headers are not valid JSON"); a JSON payload passes through byte for
#   byte; with format = "avro" a payload string that is not UTF-8 is poison with the scanner's
#   message.
# - NULL in each column of a mapped table that allows NULL everywhere: event_id, event_type,
#   schema_version, headers, created_at -> published without that header (created_at: the send
#   time); payload -> a record with a null value; txid -> published (read as without txid);
#   aggregate_type, aggregate_id -> dead-lettered naming the column. With format = "avro":
#   event_type and schema_version NULL are poison naming them; a NULL payload is a tombstone
#   (null value, no schema), as in JSON.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

AVSC_S='{"type": "record", "name": "S", "fields": [{"name": "s", "type": "string"}]}'
pg_start
kafka_start

# dead_letter_error TOPIC ID: the error header of row ID's dead letter
dead_letter_error() {
  kafka_consume "$1" '%h\n' | LC_ALL=C grep -aE "(^|,)outbox_id=$2(,|$)" | LC_ALL=C grep -ao 'error=[^,]*' | head -n 1
}

# --- invalid UTF-8 -----------------------------------------------------------------------------
pg_admin_sql "CREATE DATABASE latin ENCODING 'SQL_ASCII' TEMPLATE template0 LC_COLLATE 'C'
              LC_CTYPE 'C' OWNER $PG_USER" >/dev/null
LATIN_DSN=${PG_DSN/dbname=$PG_DB/dbname=latin}
"$OUTBOX_RELAY" migrate --dsn "$LATIN_DSN" >/dev/null
"$OUTBOX_RELAY" migrate --dsn "$LATIN_DSN" --table oav >/dev/null
lsql() { pg_sql "$1" latin; }
lsql "INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload, headers) VALUES
        ('u8', 'k-1', 'T', '{\"s\": \"ok\"}', NULL),
        ('u8', E'k-\\xff', 'T', '{\"n\": 2}', NULL),
        ('u8', 'k-3', E'T\\xfe', '{\"n\": 3}', NULL),
        ('u8', 'k-4', 'T', '{\"n\": 4}', E'{\"h\": \"\\xff\"}'),
        ('u8', 'k-5', 'T', E'{\"s\": \"\\xff\\xfe\"}', NULL)"
[ "$(lsql "SELECT octet_length(aggregate_id) FROM outbox WHERE id = 2")" -eq 3 ] || fail "no raw byte in row 2"
relay_conf -o "$T/u8.conf" -s u8 -d "$LATIN_DSN" -x 'on_error = "dead-letter"; topic = "u8.json";'
relay_start "$T/u8.conf" "$T/u8.log"
u8_marked() { [ "$(lsql "SELECT count(*) FROM outbox WHERE published_at IS NULL")" -eq 0 ]; }
wait_for "all invalid-UTF-8 rows marked" 30 u8_marked
relay_stop
[ "$(kafka_count u8.json)" -eq 4 ] || fail "expected 4 records in u8.json, got $(kafka_count u8.json)"
dead_letter_error outbox.dlq.u8 4 | grep -q 'headers are not valid JSON' \
  || fail "row 4 (headers): $(dead_letter_error outbox.dlq.u8 4)"
hex_of() { od -An -tx1 | tr -d ' \n'; }
[ "$(kafka_consume u8.json '%k\n' | LC_ALL=C grep -a '^k-.$' | head -c 3 | hex_of)" = 6b2dff ] \
  || fail "the key k-\\xff did not pass through as bytes"
kafka_consume u8.json '%h\n' | LC_ALL=C grep -aq "event_type=T$(printf '\xfe')" \
  || fail "event_type T\\xfe did not pass through"
[ "$(kafka_consume u8.json '%k\t%s\n' | LC_ALL=C grep -a '^k-5' | cut -f2 | hex_of)" = \
  "$(lsql "SELECT payload::text FROM outbox WHERE id = 5" | hex_of)" ] \
  || fail "the payload with invalid UTF-8 was not passed through byte for byte"

relay_conf -o "$T/u8a.conf" -s u8a -d "$LATIN_DSN" -t public.oav \
  -x 'on_error = "dead-letter"; format = "avro"; framing = "single-object"; topic = "u8.avro";'
echo "$AVSC_S" >"$T/s.avsc"
"$OUTBOX_RELAY" schema add -c "$T/u8a.conf" --event-type T "$T/s.avsc" >/dev/null
lsql "INSERT INTO oav (aggregate_type, aggregate_id, event_type, payload) VALUES
        ('u8', 'a-1', 'T', '{\"s\": \"ok\"}'), ('u8', 'a-2', 'T', E'{\"s\": \"\\xff\"}'),
        ('u8', E'a-\\xff', 'T', '{\"s\": \"ok\"}')"
relay_start "$T/u8a.conf" "$T/u8a.log"
u8a_marked() { [ "$(lsql "SELECT count(*) FROM oav WHERE published_at IS NULL")" -eq 0 ]; }
wait_for "all avro rows marked" 30 u8a_marked
relay_stop
[ "$(kafka_count u8.avro)" -eq 2 ] || fail "expected 2 avro records"
dead_letter_error outbox.dlq.u8a 2 | grep -Eqi 'utf-8|unable to decode byte 0xff' || fail "avro row 2: $(dead_letter_error outbox.dlq.u8a 2)"
log "invalid UTF-8: key and event_type pass as bytes, JSON payload byte for byte, headers and avro strings poison"

# --- NULL in each column ------------------------------------------------------------------------
pg_migrate --table nulls
for c in event_id aggregate_type aggregate_id event_type schema_version created_at txid; do
  pg_sql "ALTER TABLE nulls ALTER COLUMN $c DROP NOT NULL"
done
insert_null() {  # insert_null COLUMN|- : one row with COLUMN NULL (the others set)
  local cols="event_id, aggregate_type, aggregate_id, event_type, schema_version, payload, headers, created_at, txid"
  local vals="gen_random_uuid(), 'n', 'agg-$1', 'T', 1, '{\"s\": \"$1\"}', '{\"h\": \"v\"}', now(), pg_current_xact_id()"
  if [ "$1" != - ]; then
    vals=$(printf '%s' "$vals" | awk -v c="$1" -v cols="$cols" 'BEGIN { FS = ", " } {
      n = split(cols, k, ", "); out = ""
      # values split naively: none of them holds ", "
      for (i = 1; i <= NF; i++) out = out (i > 1 ? ", " : "") (k[i] == c ? "NULL" : $i); print out }')
  fi
  pg_sql "INSERT INTO nulls ($cols) VALUES ($vals)"
}
COLS="event_id aggregate_type aggregate_id event_type schema_version payload headers created_at txid"
insert_null -
for c in $COLS; do insert_null "$c"; done
pg_sql "CREATE TABLE nulls_av (LIKE nulls INCLUDING ALL); INSERT INTO nulls_av SELECT * FROM nulls"
pg_sql "CREATE TABLE nulls_av_dead_letters (LIKE nulls_dead_letters INCLUDING ALL)"
pg_sql "CREATE TABLE nulls_av_schemas (LIKE nulls_schemas INCLUDING ALL)"
id_of() { pg_sql "SELECT id FROM $1 WHERE aggregate_id = 'agg-$2' OR (aggregate_id IS NULL AND '$2' = 'aggregate_id')"; }
relay_conf -o "$T/nulls.conf" -s nl -t public.nulls -x 'on_error = "dead-letter"; topic = "nulls.{aggregate_type}";'
relay_start "$T/nulls.conf" "$T/nulls.log"
wait_for "every NULL row marked" 30 pg_all_marked public.nulls
relay_stop
! log_has "$T/nulls.log" 'ERROR' || fail "the relay logged an error"
kafka_consume nulls.n '%k\t%h\t%S\n' >"$T/nulls.txt"
published=$(cut -f1 "$T/nulls.txt" | sort | tr '\n' ' ')
[ "$published" = "agg-- agg-created_at agg-event_id agg-event_type agg-headers agg-payload agg-schema_version agg-txid " ] \
  || fail "published: $published"
grep -a '^agg-event_id	' "$T/nulls.txt" | grep -q 'event_id=' && fail "a NULL event_id sent as a header"
grep -a '^agg-payload	' "$T/nulls.txt" | grep -q '	-1$' || fail "a NULL payload is not a null value: $(grep -a '^agg-payload' "$T/nulls.txt")"
dead_letter_error outbox.dlq.nl "$(id_of nulls aggregate_type)" | grep -q 'aggregate_type is empty' || fail "NULL aggregate_type"
dead_letter_error outbox.dlq.nl "$(id_of nulls aggregate_id)" | grep -q 'aggregate_id is empty' || fail "NULL aggregate_id"

relay_conf -o "$T/nav.conf" -s nav -t public.nulls_av \
  -x 'on_error = "dead-letter"; format = "avro"; framing = "single-object"; topic = "nav.{aggregate_type}";'
"$OUTBOX_RELAY" schema add -c "$T/nav.conf" --event-type T "$T/s.avsc" >/dev/null
relay_start "$T/nav.conf" "$T/nav.log"
wait_for "every NULL row marked (avro)" 30 pg_all_marked public.nulls_av
relay_stop
kafka_consume nav.n '%k\t%S\n' | grep -q '^agg-payload	-1$' || fail "avro: a NULL payload is not a tombstone"
for c in event_type:event_type schema_version:schema_version aggregate_id:aggregate_id; do
  err=$(dead_letter_error outbox.dlq.nav "$(id_of nulls_av "${c%%:*}")")
  printf '%s\n' "$err" | grep -q "${c#*:}" || fail "avro, NULL ${c%%:*}: $err"
  log "avro, NULL ${c%%:*}: $err"
done
log "NULLs: each row published with a defined behaviour or dead-lettered naming the column"
