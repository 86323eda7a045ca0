#!/usr/bin/env bash
# The logical-mode verifier itself (tests/lib/logical.sh), without a relay: events of all three
# outbox styles are written, the truth slot is read, and sets of "Kafka messages" are made from
# it — once really through Kafka with kcat, then as tables with one fault each.
#
# Must show: the truth slot holds exactly the committed events in commit order (a rolled-back
# transaction's events absent); a faithful copy passes; each of lost, phantom, key_mismatch,
# topic_mismatch, split, order and duplicates is caught; a resent copy after later events
# passes with --allow-duplicates (only first copies count for order).
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/logical.sh"

# copy_truth TABLE: verify.TABLE as a faithful relay would have filled Kafka: one partition,
# in commit order.
copy_truth() {
  pg_sql "SET client_min_messages = warning; DROP TABLE IF EXISTS verify.$1;
          CREATE TABLE verify.$1 AS
            SELECT 'outbox.event.' || aggregate_type AS topic, 0 AS part, seq AS off, 0::bigint AS ts,
                   aggregate_id AS key, 'event_id=' || event_id || ',event_type=E' AS headers,
                   '{}'::text AS value, event_id
            FROM verify.truth"
}

# expect_caught KIND SQL [ARGS]: a copy of the truth altered by SQL (on table verify.f) fails
# verification with KIND=1 or more in the summary.
expect_caught() {
  local kind=$1 sql=$2 out rc=0
  shift 2
  copy_truth f
  pg_sql "$sql" >/dev/null
  out=$( (verify_logical --msgs f "$@") 2>&1 ) || rc=$?
  [ "$rc" -ne 0 ] || { printf '%s\n' "$out" >&2; fail "a $kind fault passed verification"; }
  printf '%s\n' "$out" | grep -Eq " $kind=[1-9]" \
    || { printf '%s\n' "$out" >&2; fail "the $kind fault was not reported as $kind"; }
  log "caught: $kind"
}

expect_passes() {
  local what=$1 sql=$2 out
  shift 2
  copy_truth f
  pg_sql "$sql" >/dev/null
  out=$( (verify_logical --msgs f "$@") 2>&1 ) || { printf '%s\n' "$out" >&2; fail "$what failed verification"; }
  log "passes: $what"
}

pg_start
kafka_start
pg_migrate
truth_start

pg_sql "BEGIN;
        INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload) VALUES ('order', 'a1', 'E', '{\"n\": 1}');
        SELECT outbox_emit_message('order', 'a1', 'E', '{\"n\": 2}');
        INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload) VALUES ('order', 'a1', 'E', '{\"n\": 3}');
        DELETE FROM outbox WHERE payload->>'n' = '3';
        COMMIT;" >/dev/null
pg_sql "BEGIN; SELECT outbox_emit_message('order', 'a9', 'E', '{}'); INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload) VALUES ('order', 'a9', 'E', '{}'); ROLLBACK;" >/dev/null
pg_sql "SELECT outbox_emit_message('customer', 'c1', 'E', '{\"n\": 4}')" >/dev/null
pg_sql "SELECT outbox_emit('order', 'a1', 'E', '{\"n\": 5}')" >/dev/null
pg_sql "SELECT outbox_emit_message('order', 'a2', 'E', '{\"n\": 6}', NULL, 1, 'other-prefix')" >/dev/null
truth_load
got=$(pg_sql "SELECT string_agg(aggregate_id || ':' || style, ' ' ORDER BY seq) FROM verify.truth")
[ "$got" = "a1:row a1:message a1:row c1:message a1:row" ] || fail "truth in commit order: $got"

# through Kafka: produced in commit order with kcat, loaded back
pg_sql "SELECT aggregate_type, aggregate_id, event_id FROM verify.truth ORDER BY seq" \
  | while IFS='|' read -r type agg ev; do
      printf '{}\n' | kcat -P -b "$KAFKA_BROKERS" -t "outbox.event.$type" -p 0 -k "$agg" \
        -H "event_id=$ev" -H "event_type=E" || fail "kcat -P failed"
    done
kafka_load msgs
verify_logical

expect_caught lost "DELETE FROM verify.f WHERE off = 2"
expect_caught phantom "INSERT INTO verify.f VALUES ('outbox.event.order', 0, 99, 0, 'a1', 'event_id=00000000-0000-0000-0000-000000000000', '{}', '00000000-0000-0000-0000-000000000000')"
expect_caught phantom "UPDATE verify.f SET headers = 'event_type=E', event_id = NULL WHERE off = 4"
expect_caught key_mismatch "UPDATE verify.f SET key = 'zz' WHERE off = 1"
expect_caught topic_mismatch "UPDATE verify.f SET topic = 'outbox.event.customer' WHERE off = 5"
expect_caught split "UPDATE verify.f SET part = 1 WHERE off = 3"
expect_caught order "UPDATE verify.f SET off = CASE off WHEN 1 THEN 3 ELSE 1 END WHERE off IN (1, 3)"
expect_caught duplicates "INSERT INTO verify.f SELECT topic, part, 10, ts, key, headers, value, event_id FROM verify.f WHERE off = 1"
expect_passes "a resent copy after later events, with --allow-duplicates" \
  "INSERT INTO verify.f SELECT topic, part, 10, ts, key, headers, value, event_id FROM verify.f WHERE off = 1" \
  --allow-duplicates
expect_caught order "UPDATE verify.f SET off = CASE off WHEN 1 THEN 3 ELSE 1 END WHERE off IN (1, 3)" --allow-duplicates
log "the logical verifier catches every kind of fault"
