#!/usr/bin/env bash
# Hostile identifiers: every configured name reaches SQL quoted, and names PostgreSQL would cut
# short are refused up front.
# - `migrate` creates schema "Sales Dept" and table Out"box (and their side tables); a poll source
#   relays from it with on_error = "dead-letter" (a poison row goes to the DLQ topic and to
#   "Out""box_dead_letters"), `status` sees the relay's lock (the same lock text) and backlog 0,
#   `replay` re-sends an id range and records it in "Out""box_replays"; in the same daemon a
#   source on the app's own table "Legacy ""Events""" with column names that need quoting
#   ("Seq No", agg"id, "tx id", ...) and one on a table with a 63-byte name; then a logical
#   source on Out"box through publication `Order "Events"` delivers in commit order and
#   dead-letters with the WAL position.
# - names over 63 bytes (NAMEDATALEN - 1), and table names whose side tables (_dead_letters,
#   _schemas) or default slot names would be, are refused by check-config and migrate with a
#   message naming the key and the limit, exit non-zero, before anything is created.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/logical.sh"

N63=t23456789012345678901234567890123456789012345678901234567890123   # 63 bytes
S63=s23456789012345678901234567890123456789012345678901234567890123
T41=t2345678901234567890123456789012345678901

# check_refused WHAT EXPECTED_RC PATTERN CMD...: CMD exits EXPECTED_RC with PATTERN in its output.
check_refused() {
  local what=$1 want=$2 re=$3 rc=0
  shift 3
  "$@" >"$T/refused.out" 2>&1 || rc=$?
  [ "$rc" -eq "$want" ] || { cat "$T/refused.out" >&2; fail "$what: exit $rc, not $want"; }
  grep -Eq -- "$re" "$T/refused.out" || fail "$what: /$re/ not in: $(cat "$T/refused.out")"
  log "refused ($rc): $what: $(head -c 200 "$T/refused.out")"
}

# conf_with FILE SOURCE_LINES: a config with one poll source (dsn unused by check-config).
conf_with() {
  cat >"$1" <<EOF
kafka = { brokers = "127.0.0.1:1"; };
sources = ( { name = "n"; dsn = "host=127.0.0.1 password=x"; $2 } );
EOF
}

# --- refused up front: no servers needed ---------------------------------------------------------
conf_with "$T/c1.conf" "table = \"public.${N63}4\";"
check_refused "64-byte table" 78 "table name \"${N63}4\" is 64 bytes; PostgreSQL's limit for names is 63" \
  "$OUTBOX_RELAY" check-config -c "$T/c1.conf"
conf_with "$T/c2.conf" "table = \"${S63}4.outbox\";"
check_refused "64-byte schema" 78 "schema name \"${S63}4\" is 64 bytes" \
  "$OUTBOX_RELAY" check-config -c "$T/c2.conf"
conf_with "$T/c3.conf" "table = \"${N63:0:51}\"; on_error = \"dead-letter\";"
check_refused "dead-letter side table of 64 bytes" 78 \
  "on_error = \"dead-letter\" needs the table \"${N63:0:51}_dead_letters\", which would be 64 bytes; PostgreSQL's limit for names is 63" \
  "$OUTBOX_RELAY" check-config -c "$T/c3.conf"
conf_with "$T/c4.conf" "table = \"${N63:0:56}\"; format = \"avro\"; framing = \"single-object\";"
check_refused "avro catalog of 64 bytes" 78 "format = \"avro\" needs the table \"${N63:0:56}_schemas\", which would be 64 bytes" \
  "$OUTBOX_RELAY" check-config -c "$T/c4.conf"
cat >"$T/c5.conf" <<EOF
kafka = { brokers = "127.0.0.1:1"; };
sources = ( { name = "${N63:0:51}"; dsn = "host=127.0.0.1"; mode = "logical"; } );
EOF
check_refused "default slot name of 64 bytes" 78 \
  "the default slot name \"outbox_relay_${N63:0:51}\" is 64 bytes; PostgreSQL's limit for names is 63 .*set \"slot\"" \
  "$OUTBOX_RELAY" check-config -c "$T/c5.conf"
conf_with "$T/c6.conf" "mode = \"logical\"; slot = \"s\"; publication = \"${N63}4\";"
check_refused "64-byte publication" 78 "publication \"${N63}4\" is 64 bytes" \
  "$OUTBOX_RELAY" check-config -c "$T/c6.conf"
conf_with "$T/c7.conf" "columns = { payload = \"${N63}4\"; };"
check_refused "64-byte column" 78 "column \"payload\": \"${N63}4\" is 64 bytes" \
  "$OUTBOX_RELAY" check-config -c "$T/c7.conf"
# 63 bytes everywhere is fine
conf_with "$T/ok.conf" "table = \"${S63}.${N63}\"; columns = { payload = \"${N63}\"; };"
"$OUTBOX_RELAY" check-config -c "$T/ok.conf" >"$T/ok.out" 2>&1 || fail "63-byte names refused: $(cat "$T/ok.out")"

pg_start
kafka_start
check_refused "migrate: 42-byte table" 64 "table name \"${T41}2\" is too long: 42 bytes, at most 41" \
  "$OUTBOX_RELAY" migrate --dsn "$PG_DSN" --table "${T41}2"
check_refused "migrate: 64-byte schema" 64 "schema name \"${S63}4\" is too long: 64 bytes, at most 63" \
  "$OUTBOX_RELAY" migrate --dsn "$PG_DSN" --schema "${S63}4"
check_refused "migrate: a name that would end a \$\$ body" 64 'holds "\$\$"' \
  "$OUTBOX_RELAY" migrate --dsn "$PG_DSN" --schema 'never$created' --table 'a$$b'
[ "$(pg_sql "SELECT count(*) FROM pg_namespace WHERE nspname = 'never\$created'")" -eq 0 ] \
  || fail "a refused migrate created its schema"

# --- migrate with names that need quoting; the longest names -------------------------------------
pg_migrate --schema 'Sales Dept' --table 'Out"box'
pg_migrate --schema "$S63" --table "$T41"
Q='"Sales Dept"."Out""box"'
for t in '' _dead_letters _schemas _replays; do
  [ "$(pg_sql "SELECT to_regclass('\"Sales Dept\".\"Out\"\"box$t\"') IS NOT NULL")" = t ] \
    || fail "migrate did not create \"Sales Dept\".\"Out\"\"box$t\""
done
[ "$(pg_sql "SELECT count(*) FROM \"$S63\".outbox_relay_migrations WHERE table_name = '$T41'")" -eq 5 ] \
  || fail "migrations of $S63.$T41 not recorded"
pg_sql "SELECT \"Sales Dept\".\"Out\"\"box_emit\"('order', 'emit-1', 'Emitted', '{\"via\": \"emit\"}')" >/dev/null

# the app's own table, every column name needing quotes, and a table with a 63-byte name
pg_sql "CREATE TABLE \"Sales Dept\".\"Legacy \"\"Events\"\"\" (
          \"Seq No\" bigserial PRIMARY KEY, \"Event ID\" uuid DEFAULT gen_random_uuid(),
          \"Aggregate-Type\" text NOT NULL, \"agg\"\"id\" text NOT NULL, \"Type\" text,
          \"Body\" jsonb, \"Sent At\" timestamptz, \"tx id\" xid8 DEFAULT pg_current_xact_id())"
pg_sql "CREATE TABLE public.\"$N63\" (LIKE \"Sales Dept\".\"Out\"\"box\" INCLUDING ALL)"

emit() {  # emit TABLE_SQL AGGREGATE_TYPE AGGREGATE_ID N
  pg_sql "INSERT INTO $1 (aggregate_type, aggregate_id, event_type, payload)
          VALUES ('$2', '$3', 'Tested', jsonb_build_object('n', $4))"
}
for i in 1 2 3; do emit "$Q" order "o-$i" "$i"; done
emit "$Q" order '' 99                                   # poison: empty aggregate_id
for i in 4 5; do emit "$Q" order "o-$i" "$i"; done
for i in 1 2 3 4; do emit "public.\"$N63\"" long "l-$i" "$i"; done
pg_sql "INSERT INTO \"Sales Dept\".\"Legacy \"\"Events\"\"\" (\"Aggregate-Type\", \"agg\"\"id\", \"Type\", \"Body\")
        SELECT 'invoice', 'inv-' || (g % 3), 'Issued', jsonb_build_object('g', g) FROM generate_series(1, 30) g"
poison_id=$(pg_sql "SELECT id FROM $Q WHERE aggregate_id = ''")

cat >"$T/relay.conf" <<EOF
kafka = { brokers = "$KAFKA_BROKERS"; };
sources = (
  { name = "quoted"; dsn = "$PG_DSN"; poll_interval_ms = 50; on_error = "dead-letter";
    table = "\"Sales Dept\".\"Out\"\"box\""; },
  { name = "legacy"; dsn = "$PG_DSN"; poll_interval_ms = 50;
    table = "\"Sales Dept\".\"Legacy \"\"Events\"\"\"";
    columns = { id = "Seq No"; event_id = "Event ID"; aggregate_type = "Aggregate-Type";
                aggregate_id = "agg\"id"; event_type = "Type"; payload = "Body";
                published_at = "Sent At"; txid = "tx id"; schema_version = ""; headers = "";
                created_at = ""; }; },
  { name = "long"; dsn = "$PG_DSN"; poll_interval_ms = 50; table = "$N63"; }
);
EOF
"$OUTBOX_RELAY" check-config -c "$T/relay.conf" >/dev/null
relay_start "$T/relay.conf" "$T/relay.log"
legacy_marked() {
  [ "$(pg_sql "SELECT count(*) FROM \"Sales Dept\".\"Legacy \"\"Events\"\"\" WHERE \"Sent At\" IS NULL")" -eq 0 ]
}
wait_for "Out\"box drained (poison dead-lettered)" 60 pg_all_marked "$Q"
wait_for "the 63-byte table drained" 60 pg_all_marked "public.\"$N63\""
wait_for "Legacy \"Events\" drained" 60 legacy_marked
! log_has "$T/relay.log" 'ERROR' || fail "the relay logged an error"
log_has "$T/relay.log" 'active: relaying "Sales Dept"\."Out""box" at' \
  || fail "messages do not show the table as \"Sales Dept\".\"Out\"\"box\""
log_has "$T/relay.log" "row $poison_id of \"Sales Dept\"\\.\"Out\"\"box\" cannot be published" \
  || fail "the poison row's message does not name it"

# dead letter: topic and record
kafka_consume outbox.dlq.quoted '%h\t%s\n' >"$T/dlq.txt"
[ "$(wc -l <"$T/dlq.txt")" -eq 1 ] && grep -q "outbox_id=$poison_id" "$T/dlq.txt" \
  || fail "dead letter topic: $(cat "$T/dlq.txt")"
[ "$(pg_sql "SELECT count(*) FROM \"Sales Dept\".\"Out\"\"box_dead_letters\" WHERE outbox_id = $poison_id")" -eq 1 ] \
  || fail "no dead-letter record in \"Out\"\"box_dead_letters\""

# status: the relay's lock is found under the same text, backlog 0
"$OUTBOX_RELAY" status -c "$T/relay.conf" --json >"$T/status.json" || fail "status failed: $(cat "$T/status.json")"
for s in quoted legacy long; do
  jq -e --arg s "$s" '.[] | select(.source == $s) | .backlog == 0 and .state == "active"' \
    "$T/status.json" >/dev/null || { cat "$T/status.json" >&2; fail "status of $s"; }
done

# replay of ids 1..3, recorded in "Out""box_replays"
"$OUTBOX_RELAY" replay -c "$T/relay.conf" --source quoted --from-id 1 --to-id 3 >"$T/replay.out" 2>&1 \
  || fail "replay failed: $(cat "$T/replay.out")"
grep -q 'done: 3 selected, 3 sent, 3 acked, 0 failed' "$T/replay.out" || fail "replay: $(cat "$T/replay.out")"
[ "$(pg_sql "SELECT count(*) FROM \"Sales Dept\".\"Out\"\"box_replays\" WHERE status = 'done'")" -eq 1 ] \
  || fail "the replay is not in \"Out\"\"box_replays\""
"$OUTBOX_RELAY" replay -c "$T/relay.conf" --source quoted --history >"$T/history.out" 2>&1 \
  || fail "replay --history: $(cat "$T/history.out")"
relay_stop

verify_outbox --table "$Q" --where "id <> $poison_id" --topics '^outbox\.event\.order$' \
  --allow-duplicates --expect-all-marked
verify_outbox --table "public.\"$N63\"" --topics '^outbox\.event\.long$' --expect-all-marked
kafka_consume outbox.event.invoice '%k\t%s\n' | sort >"$T/legacy.got"
pg_sql "SELECT \"agg\"\"id\" || E'\t' || \"Body\"::text FROM \"Sales Dept\".\"Legacy \"\"Events\"\"\"" \
  | sort >"$T/legacy.want"
diff "$T/legacy.got" "$T/legacy.want" >/dev/null || fail "Legacy \"Events\": records differ from the rows"
log "poll: quoted schema, table and columns; 63-byte table; dead letter, status, replay"

# --- logical mode on Out"box, publication Order "Events" ------------------------------------------
cat >"$T/logical.conf" <<EOF
kafka = { brokers = "$KAFKA_BROKERS"; };
sources = ( { name = "lq"; dsn = "$PG_DSN"; mode = "logical"; on_error = "dead-letter";
              table = "\"Sales Dept\".\"Out\"\"box\""; slot = "hostile_slot";
              publication = "Order \"Events\""; } );
EOF
relay_start "$T/logical.conf" "$T/logical.log"
wait_for "logical source streaming" 30 log_has "$T/logical.log" 'source "lq": active'
[ "$(pg_sql "SELECT count(*) FROM pg_publication_tables WHERE pubname = 'Order \"Events\"'
              AND schemaname = 'Sales Dept' AND tablename = 'Out\"box'")" -eq 1 ] \
  || fail "publication Order \"Events\" does not hold \"Sales Dept\".\"Out\"\"box\""
TRUTH_TABLE=$Q truth_start
pg_sql "BEGIN;
        INSERT INTO $Q (aggregate_type, aggregate_id, event_type, payload)
          SELECT 'lg', 'lg-' || (g % 5), 'Tested', jsonb_build_object('g', g) FROM generate_series(1, 40) g;
        INSERT INTO $Q (aggregate_type, aggregate_id, event_type, payload) VALUES ('lg', '', 'Tested', '{}');
        COMMIT" >/dev/null
pg_sql "INSERT INTO $Q (aggregate_type, aggregate_id, event_type, payload)
        SELECT 'lg', 'lg-' || (g % 5), 'Tested', jsonb_build_object('g', g) FROM generate_series(41, 60) g" >/dev/null
KAFKA_MESSAGE_TOPICS=outbox.event.lg
wait_for "60 logical events in Kafka" 60 kafka_messages_at_least 60
logical_dl() { [ "$(pg_sql "SELECT count(*) FROM \"Sales Dept\".\"Out\"\"box_dead_letters\" WHERE wal_lsn IS NOT NULL")" -eq 1 ]; }
wait_for "the logical poison event recorded with its WAL position" 30 logical_dl
relay_stop
TRUTH_TABLE=$Q truth_load
pg_sql "DELETE FROM verify.truth WHERE aggregate_id = ''" >/dev/null
[ "$(pg_sql "SELECT count(*) FROM verify.truth")" -eq 60 ] || fail "truth holds $(pg_sql "SELECT count(*) FROM verify.truth") events, not 60"
kafka_load msgs '^outbox\.event\.lg$'
verify_logical
log "hostile names: quoted everywhere, 63 bytes work, longer ones refused up front"
