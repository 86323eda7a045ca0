#!/usr/bin/env bash
# The relay runs as a least-privilege role, never a superuser or the table's owner: the grants
# of tests/lib/security.sh's pg_relay_role (the README's "Security" section), with PUBLIC's
# default CONNECT and schema USAGE revoked so that the role has exactly those, and a password
# the server checks. Shows:
# - poll mode with CONNECT, USAGE, SELECT and UPDATE (published_at) only: delivered, all marked
#   (verified against Kafka); the role cannot INSERT, DELETE or UPDATE another column;
# - on_error = "dead-letter", `replay` and retention with their extra grants (dead letters
#   table, replays table, DELETE): a poison row dead-lettered, a replay recorded, published
#   rows deleted;
# - logical mode with REPLICATION and the position table only (the owner created the
#   publication; no SELECT on the outbox): delivered in commit order;
# - without UPDATE (published_at): "permission denied for table outbox" in the log, nothing
#   marked; without SELECT: the same at start, nothing sent;
# - the statements the relay sends (log_statement = all) quote the schema, table and column
#   names.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/logical.sh"
. "$(dirname "$0")/../lib/security.sh"

pg_start
kafka_start
pg_migrate

emit() {   # emit N AGGREGATE_TYPE
  pg_sql "SELECT count(outbox_emit('$2', 'agg-' || (g % 10), 'Happened', jsonb_build_object('g', g)))
          FROM generate_series(1, $1) g" >/dev/null
}
unmarked_of() { pg_sql "SELECT count(*) FROM outbox WHERE aggregate_type = '$1' AND published_at IS NULL"; }
marked_of() { pg_sql "SELECT count(*) FROM outbox WHERE aggregate_type = '$1' AND published_at IS NOT NULL"; }
all_marked_of() { [ "$(unmarked_of "$1")" -eq 0 ]; }
priv() { pg_admin_sql "SELECT $1" "$PG_DB"; }

# ---- poll mode, the base grants
pg_relay_role poll lp_poll
POLL_DSN=$RELAY_ROLE_DSN
[ "$(priv "rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls
           FROM pg_roles WHERE rolname = 'lp_poll'")" = f ] || fail "lp_poll has role attributes"
[ "$(priv "pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'public.outbox'::regclass")" = "$PG_USER" ] \
  || fail "the outbox is not owned by $PG_USER"
[ "$(priv "has_table_privilege('lp_poll', 'public.outbox', 'INSERT')
           OR has_table_privilege('lp_poll', 'public.outbox', 'DELETE')
           OR has_column_privilege('lp_poll', 'public.outbox', 'payload', 'UPDATE')
           OR has_table_privilege('lp_poll', 'public.outbox_dead_letters', 'INSERT')
           OR has_schema_privilege('lp_poll', 'public', 'CREATE')")" = f ] \
  || fail "lp_poll has more than the poll grants"
# every statement of this role in the server log, to look at the SQL the relay sends
pg_admin_sql "ALTER ROLE lp_poll SET log_statement = 'all'" >/dev/null

emit 200 order
relay_conf -o "$T/poll.conf" -s lppoll -d "$POLL_DSN"
relay_start "$T/poll.conf" "$T/poll.log"
wait_for "200 rows marked by lp_poll" 60 pg_all_marked
[ "$(priv "count(*) FROM pg_stat_activity WHERE usename = 'lp_poll'")" -ge 1 ] \
  || fail "the relay is not connected as lp_poll"
relay_stop
verify_outbox --expect-all-marked

# the relay's statements name the table and its columns quoted (the marks come from its
# marking session, outbox-relay/lppoll/mark)
grep -E "outbox-relay/lppoll(/mark)? (LOG|ERROR|STATEMENT): +(statement|execute)" \
  "$PG_DIR/postgresql.log" | sed -E 's/^.*outbox-relay\/lppoll(\/mark)? //' >"$T/statements.log" \
  || true
grep -q "outbox-relay/lppoll/mark " "$PG_DIR/postgresql.log" \
  || fail "no statement from the relay's marking session (outbox-relay/lppoll/mark)"
[ -s "$T/statements.log" ] || fail "no statements of the relay in the server log"
grep -q 'FROM "public"\."outbox"' "$T/statements.log" || fail "no quoted FROM \"public\".\"outbox\""
grep -q 'UPDATE "public"\."outbox" SET "published_at"' "$T/statements.log" \
  || fail "no quoted UPDATE \"public\".\"outbox\" SET \"published_at\""
if grep -E '(FROM|UPDATE|INTO|TABLE) +public\.outbox' "$T/statements.log" >"$T/unquoted.log"; then
  fail "unquoted table names in the relay's SQL: $(head -n 3 "$T/unquoted.log")"
fi
log "relay SQL, e.g.: $(grep -m1 'UPDATE "public"' "$T/statements.log" | cut -c1-160)"

# ---- dead letters, replay and retention with their grants
pg_relay_role poll lp_full dead-letter replay delete
FULL_DSN=$RELAY_ROLE_DSN
emit 50 full
pg_sql "INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload)
        VALUES ('full', '', 'Happened', '{}')" >/dev/null   # poison: empty aggregate_id
relay_conf -o "$T/full.conf" -s lpfull -d "$FULL_DSN" -x 'on_error = "dead-letter";'
relay_start "$T/full.conf" "$T/full.log"
wait_for "51 full rows marked, one dead-lettered" 60 all_marked_of full
[ "$(pg_sql "SELECT count(*) FROM outbox_dead_letters")" -eq 1 ] || fail "no dead letter recorded"
"$OUTBOX_RELAY" replay -c "$T/full.conf" --source lpfull --aggregate-type full --from-id 1 \
  --to-id "$(pg_sql "SELECT max(id) FROM outbox WHERE aggregate_id <> ''")" >"$T/replay.out" 2>&1 || { cat "$T/replay.out" >&2; fail "replay as lp_full failed"; }
log_has "$T/replay.out" 'done: 50 selected, 50 sent, 50 acked' \
  || fail "replay did not send 50: $(tail -n 2 "$T/replay.out")"
[ "$(pg_sql "SELECT db_user FROM outbox_replays ORDER BY id DESC LIMIT 1")" = lp_full ] \
  || fail "the replay is not recorded as lp_full"
relay_stop
relay_conf -o "$T/retention.conf" -s lpfull -d "$FULL_DSN" \
  -x 'on_error = "dead-letter"; retention_ms = 1; retention_interval_ms = 1000;'
relay_start "$T/retention.conf" "$T/retention.log"
wait_for "published rows deleted by retention" 60 eval '[ "$(marked_of full)" -eq 0 ]'
relay_stop

# ---- logical mode: REPLICATION and the position table
pg_relay_role logical lp_logical publication=outbox_relay_lplogical
LOGICAL_DSN=$RELAY_ROLE_DSN
[ "$(priv "has_table_privilege('lp_logical', 'public.outbox', 'SELECT')")" = f ] \
  || fail "lp_logical can read the outbox"
truth_start
relay_conf -o "$T/logical.conf" -s lplogical -m logical -d "$LOGICAL_DSN"
relay_start "$T/logical.conf" "$T/logical.log"
wait_for "the logical relay streams" 60 pg_slot_active outbox_relay_lplogical
for tx in 1 2 3; do
  pg_sql "BEGIN;
    INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload)
      SELECT 'lmode', 'agg-' || (g % 5), 'Happened', jsonb_build_object('tx', $tx, 'g', g)
      FROM generate_series(1, 30) g;
    SELECT count(outbox_emit_message('lmode', 'agg-' || (g % 5), 'Happened', '{}'))
      FROM generate_series(1, 10) g;
    COMMIT;" >/dev/null
done
wait_for "120 logical events in Kafka" 60 kafka_messages_at_least 120 '^outbox\.event\.lmode$'
relay_stop
truth_load
kafka_load msgs '^outbox\.event\.lmode$'
verify_logical

# ---- without UPDATE (published_at): refused, nothing marked
pg_relay_role poll lp_noupdate
pg_admin_sql "REVOKE UPDATE (published_at) ON public.outbox FROM lp_noupdate" "$PG_DB" >/dev/null
emit 20 denied
relay_conf -o "$T/noupdate.conf" -s lpnoupdate -d "$RELAY_ROLE_DSN"
relay_start "$T/noupdate.conf" "$T/noupdate.log"
wait_for "permission denied in the log" 60 log_has "$T/noupdate.log" 'permission denied for table outbox'
assert_for "nothing marked without UPDATE (published_at)" 3 eval '[ "$(marked_of denied)" -eq 0 ]'
relay_alive || fail "the relay exited on a permission error"
log "without UPDATE: $(grep -m1 'permission denied' "$T/noupdate.log" | cut -c1-220)"
relay_stop

# ---- without SELECT: refused at start, nothing sent
pg_relay_role poll lp_noselect
pg_admin_sql "REVOKE SELECT ON public.outbox FROM lp_noselect" "$PG_DB" >/dev/null
emit 5 noselect
relay_conf -o "$T/noselect.conf" -s lpnoselect -d "$RELAY_ROLE_DSN"
relay_start "$T/noselect.conf" "$T/noselect.log"
wait_for "permission denied in the log" 60 log_has "$T/noselect.log" 'permission denied for table outbox'
relay_alive || fail "the relay exited on a permission error"
[ "$(kafka_count outbox.event.noselect)" -eq 0 ] || fail "events sent without SELECT"
log "without SELECT: $(grep -m1 'permission denied' "$T/noselect.log" | cut -c1-220)"
relay_stop
