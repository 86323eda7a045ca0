#!/usr/bin/env bash
# `outbox-relay migrate` against a real PostgreSQL: creates the outbox table, its index of
# unpublished rows, the <table>_emit() function and the record of applied migrations; a second
# run changes nothing and says the table is up to date; --print writes the SQL without a
# database; --dry-run lists without applying; --schema s2 --table ev works; bad names and an
# unreachable database fail with the documented exit statuses.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

relay_require

# migrate ARGS...: runs the relay's migrate command, output in $T/out, status in MIGRATE_RC.
migrate() {
  MIGRATE_RC=0
  timeout 60 "$OUTBOX_RELAY" migrate "$@" >"$T/out" 2>&1 || MIGRATE_RC=$?
  log "migrate $* -> $MIGRATE_RC: $(tr '\n' ' ' <"$T/out" | cut -c1-200)"
}

expect_rc() {
  [ "$MIGRATE_RC" -eq "$1" ] || { cat "$T/out" >&2; fail "migrate exited $MIGRATE_RC, expected $1"; }
}

expect_out() {
  grep -Eq -- "$1" "$T/out" || { cat "$T/out" >&2; fail "migrate output lacks /$1/"; }
}

# schema_dump DB: the database's schema, for before/after comparisons (less the random
# \restrict keys newer pg_dump releases write).
schema_dump() {
  "$PG_BIN/pg_dump" --schema-only --no-owner "host=127.0.0.1 port=$PG_PORT dbname=$1 user=$PG_USER" \
    | grep -v '^\\\(un\)\{0,1\}restrict '
}

columns() {
  pg_sql "SELECT string_agg(column_name || ':' || data_type, ',' ORDER BY ordinal_position)
          FROM information_schema.columns WHERE table_schema = '$1' AND table_name = '$2'"
}

pg_start

# --print needs no database and changes none
migrate --print
expect_rc 0
expect_out 'CREATE TABLE IF NOT EXISTS "public"."outbox"'
expect_out 'FUNCTION "public"."outbox_emit"'
migrate --print --schema s2 --table ev
expect_rc 0
expect_out '"s2"."ev"'
! grep -q '"public"."outbox"' "$T/out" || fail "--print --schema s2 --table ev still names public.outbox"

# --dry-run lists and applies nothing
migrate --dsn "$PG_DSN" --dry-run
expect_rc 0
expect_out 'would apply 0001'
[ -z "$(pg_sql "SELECT to_regclass('public.outbox')")" ] || fail "--dry-run created the table"

# first run creates everything
migrate --dsn "$PG_DSN"
expect_rc 0
expect_out 'applied 0001_outbox_table to public.outbox'
want='id:bigint,event_id:uuid,aggregate_type:text,aggregate_id:text,event_type:text,schema_version:integer,payload:jsonb,headers:jsonb,created_at:timestamp with time zone,published_at:timestamp with time zone,txid:xid8'
[ "$(columns public outbox)" = "$want" ] || fail "public.outbox columns: $(columns public outbox)"
[ "$(pg_sql "SELECT count(*) FROM pg_indexes WHERE tablename = 'outbox' AND indexdef LIKE '%WHERE (published_at IS NULL)%'")" -eq 1 ] \
  || fail "no partial index of unpublished rows"
applied=$(pg_sql "SELECT count(*) FROM public.outbox_relay_migrations")
[ "$applied" -ge 2 ] || fail "expected the migrations recorded, found $applied"
eid=$(pg_sql "SELECT public.outbox_emit('order', '42', 'OrderPaid', '{\"amount\": 1}', '{\"trace_id\": \"t\"}')")
[ "$(pg_sql "SELECT aggregate_id || '/' || schema_version || '/' || (headers->>'trace_id') || '/' || (published_at IS NULL)
             FROM outbox WHERE event_id = '$eid'")" = "42/1/t/true" ] || fail "outbox_emit did not insert as expected"

# second run: nothing to apply, nothing changes
schema_dump app >"$T/before.sql"
migrate --dsn "$PG_DSN"
expect_rc 0
expect_out 'public.outbox is up to date'
! grep -q '^applied' "$T/out" || fail "second run applied something"
schema_dump app >"$T/after.sql"
diff -u "$T/before.sql" "$T/after.sql" >&2 || fail "second run changed the schema"
[ "$(pg_sql "SELECT count(*) FROM public.outbox_relay_migrations")" -eq "$applied" ] \
  || fail "second run recorded migrations again"

# another schema and table
migrate --dsn "$PG_DSN" --schema s2 --table ev
expect_rc 0
expect_out 'applied 0001_outbox_table to s2.ev'
[ "$(columns s2 ev)" = "$want" ] || fail "s2.ev columns: $(columns s2 ev)"
pg_sql "SELECT s2.ev_emit('order', '7', 'OrderPaid', '{}')" >/dev/null
[ "$(pg_sql "SELECT count(*) FROM s2.ev")" -eq 1 ] || fail "s2.ev_emit did not insert into s2.ev"
[ "$(pg_sql "SELECT count(*) FROM public.outbox")" -eq 1 ] || fail "s2 migration touched public.outbox"
migrate --dsn "$PG_DSN" --schema s2 --table ev
expect_rc 0
expect_out 's2.ev is up to date'

# bad input
# (names are quoted, so Bad-Name would be fine; a dot in the table name is taken for a schema)
migrate --dsn "$PG_DSN" --table 'public.outbox'
[ "$MIGRATE_RC" -eq 64 ] || [ "$MIGRATE_RC" -eq 78 ] || fail "bad table name: exit $MIGRATE_RC"
expect_out 'give the schema separately'
free_port
migrate --dsn "host=127.0.0.1 port=$FREE_PORT dbname=app user=app connect_timeout=2"
expect_rc 69
log "migrate: creates, is idempotent, prints, honours --schema/--table"
