#!/usr/bin/env bash
# Self-test of the harness and the verifier, without the relay: PostgreSQL and the Kafka broker
# come up, kcat produces keyed messages with headers, the topic survives a broker restart, and
# the verifier passes a faithful copy and catches each kind of fault (lost, duplicate, wrong
# key, order, phantom, unmarked, and from the broker's append times a row marked early and a
# copy appended after the mark); a test whose output holds the DSN's password fails.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

create_table() {
  pg_sql "CREATE TABLE public.outbox (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            event_id uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
            aggregate_id text, published_at timestamptz)"
}

# produce ID [TOPIC]: sends row ID to Kafka the way the relay would, and marks it.
produce() {
  send_row "$@"
  pg_sql "UPDATE outbox SET published_at = now() WHERE id = $1"
}

# send_row ID [TOPIC]: sends row ID to Kafka (default topic outbox.event.test), no mark.
send_row() {
  local id=$1 row eid agg
  row=$(pg_sql "SELECT event_id, aggregate_id FROM outbox WHERE id = $id")
  eid=${row%%|*} agg=${row#*|}
  printf '%s\t{"id":%s}\n' "$agg" "$id" | kcat -P -b "$KAFKA_BROKERS" -t "${2:-outbox.event.test}" \
    -K "$(printf '\t')" -H "event_id=$eid" -H "event_type=Tested" -X partitioner=murmur2_random
}

# send_raw KEY EVENT_ID: a message that does not come from a row as it is.
send_raw() {
  printf '%s\tx\n' "$1" | kcat -P -b "$KAFKA_BROKERS" -t outbox.event.test -K "$(printf '\t')" \
    -H "event_id=$2" -X partitioner=murmur2_random
}

# expect_verify RC "FIGURE" [verify options]: runs the verifier, requires FIGURE in its
# summary and its exit status to be RC.
expect_verify() {
  local want_rc=$1 want=$2 out rc=0
  shift 2
  out=$("$REPO/tests/faults/verify.sh" --brokers "$KAFKA_BROKERS" --psql "$PG_BIN/psql" \
          --dsn "$PG_DSN" --tmp "$T" "$@" 2>"$T/verify.err") || rc=$?
  log "$out"
  case "$out" in *"$want"*) ;; *) cat "$T/verify.err" >&2; fail "expected '$want' in: $out" ;; esac
  [ "$rc" -eq "$want_rc" ] || fail "verifier exit $rc for '$want' (expected $want_rc)"
}

pg_start
kafka_start
create_table
pg_sql "INSERT INTO outbox (aggregate_id) SELECT 'agg-' || (g % 20) FROM generate_series(1, 200) g"
for id in $(seq 1 200); do produce "$id"; done
expect_verify 0 "rows=200 marked=200 unmarked=0 topics=1 messages=200 distinct=200 lost=0" \
  --expect-all-marked
expect_verify 0 "-> OK" --expect-all-marked

[ "$(kafka_consume outbox.event.test '%h\n' | grep -c 'event_type=Tested')" -eq 200 ] \
  || fail "headers not as produced"

kafka_restart
expect_verify 0 "messages=200 distinct=200 lost=0 marked_absent=0 key_mismatch=0 phantom=0 split=0 order=0 duplicates=0 duplicated_events=0 -> OK"

# unmarked row with no message: lost unless --partial; unmarked when all must be marked
pg_sql "INSERT INTO outbox (aggregate_id) VALUES ('agg-1')"
expect_verify 1 "lost=1 "
expect_verify 0 "lost=0 " --partial
expect_verify 1 "unmarked=1 " --partial --expect-all-marked
# ... marked but absent
pg_sql "UPDATE outbox SET published_at = now() WHERE id = 201"
expect_verify 1 "marked_absent=1 "
produce 201
expect_verify 0 "-> OK"

# a duplicate of the same event
produce 5
expect_verify 1 "duplicates=1 duplicated_events=1 -> FAILED"
expect_verify 0 "duplicates=1 duplicated_events=1 -> OK" --allow-duplicates

# wrong key, phantom message
pg_sql "INSERT INTO outbox (aggregate_id) VALUES ('agg-2')"
send_raw agg-wrong "$(pg_sql "SELECT event_id FROM outbox WHERE id = 202")"
pg_sql "UPDATE outbox SET published_at = now() WHERE id = 202"
expect_verify 1 "key_mismatch=1 "
send_raw agg-2 00000000-0000-0000-0000-000000000000
expect_verify 1 "phantom=1 "

# order: a later event of agg-3 published before an earlier one
pg_sql "INSERT INTO outbox (aggregate_id) VALUES ('agg-3'), ('agg-3')"
produce 204
produce 203
expect_verify 1 "order=1 " --allow-duplicates

# --append-times, on a topic whose broker stamps LogAppendTime: a row marked before the broker
# appended its event (marked_early), and a copy appended after its row was marked (late_copies)
kafka_topic_config outbox.event.times message.timestamp.type=LogAppendTime
pg_sql "INSERT INTO outbox (aggregate_id) VALUES ('t-1'), ('t-2'), ('t-3')"
times() { expect_verify "$@" --where "id > 204" --topics '^outbox\.event\.times$' --append-times --partial; }
produce 205 outbox.event.times
times 0 "marked_early=0 late_copies=0 -> OK"
send_row 206 outbox.event.times
pg_sql "UPDATE outbox SET published_at = now() - interval '1 hour' WHERE id = 206"
times 1 "marked_early=1 late_copies=0 -> FAILED"
pg_sql "UPDATE outbox SET published_at = now() WHERE id = 206"
produce 207 outbox.event.times
send_row 207 outbox.event.times
times 1 "marked_early=0 late_copies=1 -> FAILED" --allow-duplicates
times 0 "duplicates=1 duplicated_events=1 marked_early=0 late_copies=1 -> OK" \
  --allow-duplicates --allow-late-copies

# the secret check of harness_cleanup: a test that wrote the DSN's password into a log fails
cat >"$T/leaky_test.sh" <<EOF
. "$(cd "$(dirname "$0")/../lib" && pwd)/harness.sh"
pg_start
echo "connecting with \$PG_DSN" >"\$T/leaky.log"
EOF
rc=0; bash "$T/leaky_test.sh" >"$T/leaky.out" 2>&1 || rc=$?
[ "$rc" -ne 0 ] && grep -q 'password of the test.s DSN appears in: .*leaky.log' "$T/leaky.out" \
  || fail "a leaked password was not caught (exit $rc): $(tail -n 3 "$T/leaky.out")"
log "harness and verifier behave"
