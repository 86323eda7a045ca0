#!/usr/bin/env bash
# outbox-relay replay when things go wrong (issue 5):
# - the broker stops during a replay: the replay exits 69 with a summary of how many were acked
#   and the command to resume; nothing is marked or lost: the resume command, run once the
#   broker is back, re-sends the rest, and together they cover the whole range;
# - Ctrl-C (SIGINT): exit 130, "interrupted" in the history, the resume command;
# - --dead-lettered: events dead-lettered for a missing required header are re-sent through the
#   normal path once the cause is fixed (the config no longer requires it) and recorded as
#   recovered; a second run finds nothing to do.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

pg_start
kafka_start
pg_migrate
# deliveries give up after 3 s, so a broker that went away fails the replay quickly
relay_conf -o "$T/relay.conf" -s rf -k 'message_timeout_ms = 3000;'
pg_sql "INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload, published_at)
        SELECT 'order', 'a-' || (i % 5), 'Placed', jsonb_build_object('n', i), now()
        FROM generate_series(1, 400) AS i"
marks() { pg_sql "SELECT md5(string_agg(published_at::text, ',' ORDER BY id)) FROM outbox"; }
marks_before=$(marks)
replayed_ns() {  # the payload n of every record with a replay header, sorted, unique
  kafka_consume outbox.event.order '%h\t%s\n' | awk -F '\t' 'index($1, "replay=") {
    sub(/.*"n": /, "", $2); sub(/}.*/, "", $2); print $2 }' | sort -n -u
}

# --- the broker stops mid-replay -------------------------------------------------------------
kafka_create_topic outbox.event.order
"$OUTBOX_RELAY" replay -c "$T/relay.conf" --from-id 1 --to-id 300 --rate 20 >"$T/r1.out" 2>"$T/r1.err" &
rp=$!
some_acked() {  # the replay's progress lines: "replay 1: N of 300 sent, M acked, ..."
  grep -Eq 'replay 1: [0-9]+ of 300 sent, ([3-9][0-9]|[1-9][0-9][0-9]) acked' "$T/r1.err"
}
wait_for "the replay under way" 30 some_acked
kafka_stop
rc=0; wait "$rp" || rc=$?
[ "$rc" -eq 69 ] || { cat "$T/r1.out" "$T/r1.err" >&2; fail "replay with the broker gone: exit $rc, expected 69"; }
grep -Eq 'replay 1 failed: 300 selected, [0-9]+ sent, [0-9]+ acked' "$T/r1.out" || fail "summary: $(cat "$T/r1.out")"
resume=$(grep -o 'resume with: .*' "$T/r1.err" | sed 's/^resume with: //') || fail "no resume command: $(cat "$T/r1.err")"
log "broker gone: $(cat "$T/r1.out"); $(grep -o 'resume with: .*' "$T/r1.err")"
[ "$(marks)" = "$marks_before" ] || fail "the replay changed published_at"
kafka_restart
from=$(printf '%s' "$resume" | grep -o -- '--from-id [0-9]*' | cut -d' ' -f2)
(cd "$(dirname "$OUTBOX_RELAY")" && eval "\"$OUTBOX_RELAY\" ${resume#outbox-relay }") >"$T/r2.out" 2>"$T/r2.err" \
  || { cat "$T/r2.out" "$T/r2.err" >&2; fail "the resume command failed"; }
grep -q "replay 2 done: $((300 - from + 1)) selected" "$T/r2.out" || fail "resume summary: $(cat "$T/r2.out")"
[ "$(replayed_ns | tr '\n' ' ')" = "$(seq 1 300 | tr '\n' ' ')" ] \
  || fail "the replay and its resume do not cover 1..300: $(replayed_ns | tr '\n' ' ' | cut -c1-300)"
log "resumed from id $from: replays 1 and 2 together cover ids 1-300"

# --- Ctrl-C -------------------------------------------------------------------------------------
"$OUTBOX_RELAY" replay -c "$T/relay.conf" --from-id 301 --to-id 400 --rate 20 >"$T/r3.out" 2>"$T/r3.err" &
rp=$!
r3_started() { grep -q 'replay 3:' "$T/r3.err"; }
wait_for "replay 3 started" 30 r3_started
kill -INT "$rp"
rc=0; wait "$rp" || rc=$?
[ "$rc" -eq 130 ] || { cat "$T/r3.out" "$T/r3.err" >&2; fail "interrupted replay: exit $rc, expected 130"; }
grep -q 'replay 3 interrupted' "$T/r3.out" || fail "summary: $(cat "$T/r3.out")"
grep -q 'resume with: .*--from-id' "$T/r3.err" || fail "no resume command after Ctrl-C: $(cat "$T/r3.err")"
"$OUTBOX_RELAY" replay -c "$T/relay.conf" --history | grep -q ' interrupted ' || fail "history lacks the interrupted replay"

# --- --dead-lettered ----------------------------------------------------------------------------
pg_migrate --table odl
relay_conf -o "$T/dl.conf" -s dl -t public.odl -x 'on_error = "dead-letter"; required_headers = ["tenant_id"];'
pg_sql "INSERT INTO odl (aggregate_type, aggregate_id, event_type, payload, headers)
        SELECT 'invoice', 'i-' || i, 'Issued', jsonb_build_object('n', i),
               CASE WHEN i % 4 = 0 THEN NULL ELSE '{\"tenant_id\": \"t1\"}'::jsonb END
        FROM generate_series(1, 20) AS i"
relay_start "$T/dl.conf" "$T/dl.log"
wait_for "all 20 rows marked (5 dead-lettered)" 60 pg_all_marked public.odl
relay_stop
[ "$(pg_sql "SELECT count(*) FROM odl_dead_letters WHERE recovered_at IS NULL")" -eq 5 ] || fail "expected 5 dead letters"
# the cause is fixed: the consumers no longer need tenant_id
relay_conf -o "$T/fixed.conf" -s dl -t public.odl
"$OUTBOX_RELAY" replay -c "$T/fixed.conf" --dead-lettered >"$T/dl.out" 2>&1 || { cat "$T/dl.out" >&2; fail "replay --dead-lettered failed"; }
grep -q 'done: 5 selected, 5 sent, 5 acked' "$T/dl.out" || fail "summary: $(cat "$T/dl.out")"
[ "$(pg_sql "SELECT count(*) FROM odl_dead_letters WHERE recovered_at IS NOT NULL")" -eq 5 ] || fail "not recorded as recovered"
[ "$(kafka_consume outbox.event.invoice '%h\n' | grep -c 'replay=')" -eq 5 ] || fail "expected 5 re-sent dead letters in outbox.event.invoice"
kafka_consume outbox.event.invoice '%k\t%h\n' | grep 'replay=' | cut -f1 | sort | tr '\n' ' ' | grep -qx 'i-12 i-16 i-20 i-4 i-8 ' \
  || fail "the re-sent dead letters are not rows 4, 8, 12, 16, 20: $(kafka_consume outbox.event.invoice '%k\t%h\n' | grep 'replay=')"
rc=0; "$OUTBOX_RELAY" replay -c "$T/fixed.conf" --dead-lettered >"$T/dl2.out" 2>&1 || rc=$?
[ "$rc" -eq 64 ] && grep -q 'no events' "$T/dl2.out" || fail "a second --dead-lettered run: exit $rc: $(cat "$T/dl2.out")"
log "dead letters: 5 re-sent after the fix, recorded recovered; a second run finds none"
