#!/usr/bin/env bash
# Poison rows (invariant 5): an empty aggregate_id, headers that are not an object ('[1,2]'),
# nested header values, and an aggregate_type that makes an invalid topic name.
# on_error = "dead-letter": each lands in outbox.dlq.<source> with headers error (naming the
# problem), source, outbox_id and event_id, value = payload, and is marked; the good rows
# around them are published as usual.
# on_error = "stop": the relay logs an ERROR naming the row id, never marks it, the rows
# before it are published; once the row is fixed, the relay's retry publishes the rest.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

# emit TABLE TYPE AGGREGATE HEADERS_SQL: inserts one event; the payload names the row.
emit() {
  pg_sql "INSERT INTO $1 (aggregate_type, aggregate_id, event_type, payload, headers)
          VALUES ('$2', '$3', 'Tested', jsonb_build_object('row', '$2/$3'), $4)"
}

# dlq_line FILE ID: the dead letters (kcat: headers k=v,k=v <tab> key <tab> value) whose
# outbox_id header is ID.
dlq_line() { grep -E "(^|,)outbox_id=$2(,|	|$)" "$1" || true; }

# check_dead_letter FILE ID PROBLEM_RE: row ID was dead-lettered exactly once, with its event_id,
# source=dl, an error header matching PROBLEM_RE and the payload as value.
check_dead_letter() {
  local file=$1 id=$2 problem_re=$3 line eid
  line=$(dlq_line "$file" "$id")
  [ -n "$line" ] || fail "row $id is not in the dead-letter topic"
  [ "$(printf '%s\n' "$line" | wc -l)" -eq 1 ] || fail "row $id dead-lettered more than once"
  eid=$(pg_sql "SELECT event_id FROM outbox WHERE id = $id")
  printf '%s\n' "$line" | grep -q "event_id=$eid" || fail "dead letter $id lacks event_id=$eid: $line"
  printf '%s\n' "$line" | grep -q "source=dl" || fail "dead letter $id lacks source=dl: $line"
  printf '%s\n' "$line" | grep -Eiq "error=[^	]*($problem_re)" \
    || fail "dead letter $id: error header does not name /$problem_re/: $line"
  printf '%s\n' "$line" | grep -q "$(pg_sql "SELECT payload::text FROM outbox WHERE id = $id")" \
    || fail "dead letter $id: value is not the payload: $line"
  log "dead letter for row $id ok: $(printf '%s' "$line" | grep -o 'error=[^	]*' | cut -c1-120)"
}

row_marked() { [ "$(pg_sql "SELECT published_at IS NOT NULL FROM $1 WHERE id = $2")" = t ]; }
row_unmarked() { ! row_marked "$@"; }

pg_start
kafka_start

# --- on_error = "dead-letter" ------------------------------------------------------------
pg_migrate
emit outbox order agg-1 NULL                               # 1 good
emit outbox order '' NULL                                  # 2 empty aggregate_id
emit outbox order agg-3 "'[1,2]'::jsonb"                   # 3 headers not an object
emit outbox order agg-4 "'{\"a\": {\"b\": 1}}'::jsonb"     # 4 nested header value
emit outbox 'no such/topic!' agg-5 NULL                    # 5 invalid topic name
emit outbox order agg-6 "'{\"trace\": \"t6\"}'::jsonb"     # 6 good
relay_conf -o "$T/dl.conf" -s dl -x 'on_error = "dead-letter";'
relay_start "$T/dl.conf" "$T/dl.log"
wait_for "all 6 rows marked (good ones published, poison ones dead-lettered)" 60 pg_all_marked
relay_stop

kafka_consume outbox.dlq.dl '%h\t%k\t%s\n' >"$T/dlq.txt"
[ "$(wc -l <"$T/dlq.txt")" -eq 4 ] || { cat "$T/dlq.txt" >&2; fail "expected 4 dead letters"; }
check_dead_letter "$T/dlq.txt" 2 'aggregate_id|key'
check_dead_letter "$T/dlq.txt" 3 'header'
check_dead_letter "$T/dlq.txt" 4 'header'
check_dead_letter "$T/dlq.txt" 5 'topic'
verify_outbox --where "id IN (1, 6)" --topics '^outbox\.event\.order$' --expect-all-marked

# --- on_error = "stop" ---------------------------------------------------------------------
pg_migrate --table outbox_stop
emit outbox_stop invoice inv-1 NULL                        # 1 good
emit outbox_stop invoice inv-2 NULL                        # 2 good
emit outbox_stop invoice '' NULL                           # 3 poison
emit outbox_stop invoice inv-4 NULL                        # 4 good, after the poison row
relay_conf -o "$T/st.conf" -s st -t public.outbox_stop \
  -x 'on_error = "stop"; retry_backoff_max_ms = 1000;'
relay_start "$T/st.conf" "$T/st.log"
wait_for "an ERROR naming row 3" 30 log_has "$T/st.log" 'ERROR: .*row 3([^0-9]|$)'
wait_for "rows 1 and 2, before the poison row, marked" 30 row_marked outbox_stop 2
row_marked outbox_stop 1 || fail "row 1 not marked"
assert_for "the poison row stays unmarked while the relay retries" 3 row_unmarked outbox_stop 3
relay_alive || fail "the relay exited on a poison row instead of retrying"
log "row 4 (after the poison row) marked: $(pg_sql "SELECT published_at IS NOT NULL FROM outbox_stop WHERE id = 4")"
[ "$(kafka_count outbox.dlq.st)" -eq 0 ] || fail "on_error = stop wrote a dead letter"

pg_sql "UPDATE outbox_stop SET aggregate_id = 'inv-3' WHERE id = 3"
wait_for "the fixed row and the rest published on a retry" 60 pg_all_marked public.outbox_stop
relay_stop
verify_outbox --table public.outbox_stop --topics '^outbox\.event\.invoice$' --expect-all-marked
log "poison rows: dead-lettered with their error, or stopping the source at the row"
