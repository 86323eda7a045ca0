#!/usr/bin/env bash
# Logical mode, must-show 2: SIGKILL during a stream of EVENTS (100,000) events, restart.
# The backlog is written while the relay is down (its slot retains the WAL): CHUNKS chunks of
# transactions of 100 events each, every transaction mixing kept rows, rows deleted again and
# messages. The relay is started, SIGKILLed once it has sent a third of the events past its
# slot's position to Kafka, and restarted, three times: the kills are mid-stream, at moments
# unrelated to the relay's status updates.
#
# Must show, at each kill (after the walsender let go of the slot, so that no status update is
# still on its way): every event whose transaction ended at or before the slot's
# confirmed_flush_lsn is already in Kafka — the relay never confirmed past an unacked event.
# At the end: every committed event is in Kafka, keyed, in commit order per aggregate; the only
# duplicates are events that were in Kafka past the confirmed position at a kill (they are
# sent again from there), at most once per such kill.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/logical.sh"

EVENTS=${EVENTS:-100000}
CHUNKS=5
TX_EVENTS=100
SOURCE=orders
SLOT=$(logical_slot_name "$SOURCE")

# load_chunk C: transactions of TX_EVENTS events (60% kept rows, 20% rows deleted before
# COMMIT, 20% messages) over 1000 aggregates; returns after COMMIT of the last one.
load_chunk() {
  local c=$1 per_chunk=$(( EVENTS / CHUNKS / TX_EVENTS )) tx first
  for tx in $(seq $(( (c - 1) * per_chunk )) $(( c * per_chunk - 1 ))); do
    first=$(( tx * TX_EVENTS ))
    cat <<EOF
BEGIN;
INSERT INTO public.outbox (aggregate_type, aggregate_id, event_type, payload)
  SELECT CASE WHEN g % 2 = 0 THEN 'order' ELSE 'customer' END, 'agg-' || (g % 1000), 'KillTest',
         jsonb_build_object('tx', $tx, 'g', g, 'style', 'row', 'pad', repeat('x', 200))
  FROM generate_series($first, $(( first + TX_EVENTS * 6 / 10 - 1 ))) g;
INSERT INTO public.outbox (aggregate_type, aggregate_id, event_type, payload)
  SELECT CASE WHEN g % 2 = 0 THEN 'order' ELSE 'customer' END, 'agg-' || (g % 1000), 'KillTest',
         jsonb_build_object('tx', $tx, 'g', g, 'style', 'deleted', 'pad', repeat('x', 200))
  FROM generate_series($(( first + TX_EVENTS * 6 / 10 )), $(( first + TX_EVENTS * 8 / 10 - 1 ))) g;
DELETE FROM public.outbox WHERE txid = pg_current_xact_id() AND payload->>'style' = 'deleted';
SELECT count(public.outbox_emit_message(
         CASE WHEN g % 2 = 0 THEN 'order' ELSE 'customer' END, 'agg-' || (g % 1000), 'KillTest',
         jsonb_build_object('tx', $tx, 'g', g, 'style', 'message', 'pad', repeat('x', 200))))
  FROM generate_series($(( first + TX_EVENTS * 8 / 10 )), $(( first + TX_EVENTS - 1 ))) g;
COMMIT;
EOF
  done >"$T/chunk$c.sql"
  pg_sql_file "$T/chunk$c.sql" >/dev/null || fail "loading chunk $c failed"
}

slot_inactive() { ! pg_slot_active "$SLOT"; }

# active_sessions N: the relay log has at least N "active" lines.
active_sessions() { [ "$(log_count "$T/relay.log" "source \"$SOURCE\": active")" -ge "$1" ]; }

pg_start
kafka_start
pg_migrate
truth_start
pg_sql "CREATE TABLE verify.kills (kill int PRIMARY KEY, confirmed pg_lsn, window_events bigint);
        CREATE TABLE verify.snaps (kill int, event_id text)"

# first start: the relay creates its slot and publication; then the backlog piles up behind it
# status updates every 0.1 s rather than every second: the whole stream takes about a second,
# and the kills should find the slot's position moved within each session
relay_conf -o "$T/relay.conf" -s "$SOURCE" -m logical -x 'status_interval_ms = 100;'
relay_start "$T/relay.conf" "$T/relay.log"
wait_for "relay active" 30 log_has "$T/relay.log" "source \"$SOURCE\": active"
relay_stop
wait_for "slot $SLOT released" 30 slot_inactive

start_lsn=$(pg_slot_lsn "$SLOT")
for type in order customer; do kafka_create_topic "outbox.event.$type"; done
start=$(now_ms)
declare -a chunk_end
for c in $(seq 1 "$CHUNKS"); do
  load_chunk "$c"
  chunk_end[$c]=$(pg_wal_lsn)
done
log "loaded $EVENTS events in $(( $(now_ms) - start )) ms; chunk ends: ${chunk_end[*]}"
truth_load
[ "$(pg_sql "SELECT count(*) FROM verify.truth")" -eq "$EVENTS" ] || fail "the truth slot does not hold $EVENTS events"
last=${chunk_end[$CHUNKS]}

KAFKA_MESSAGE_TOPICS="outbox.event.order outbox.event.customer"   # no metadata request per poll
for kill_no in 1 2 3; do
  # the next session sends every event past the slot's position again or anew: kill it a third
  # of the way through (the relay runs at ~100k events/s, so the kill lands some way after)
  remaining=$(pg_sql "SELECT count(*) FROM verify.truth WHERE end_lsn > '$(pg_slot_lsn "$SLOT")'")
  target=$(( $(kafka_messages) + remaining / 3 ))
  relay_start "$T/relay.conf" "$T/relay.log"
  wait_for "relay active (start $(( kill_no + 1 )))" 30 active_sessions "$(( kill_no + 1 ))"
  wait_for "$(( remaining / 3 )) of the remaining $remaining events sent" 60 \
    kafka_messages_at_least "$target"
  relay_kill
  wait_for "slot $SLOT released after the kill" 30 slot_inactive
  confirmed=$(pg_slot_lsn "$SLOT")
  kafka_load snap
  missing=$(missing_before "$confirmed" snap)
  window=$(pg_sql "SELECT count(*) FROM verify.snap s JOIN verify.truth t USING (event_id)
                   WHERE t.end_lsn > '$confirmed'")
  pg_sql "INSERT INTO verify.kills VALUES ($kill_no, '$confirmed', $window);
          INSERT INTO verify.snaps SELECT $kill_no, event_id FROM verify.snap
                                   WHERE event_id IS NOT NULL"
  log "kill $kill_no: confirmed_flush_lsn $confirmed ($(pg_sql "SELECT count(*) FROM verify.truth
        WHERE end_lsn <= '$confirmed'") of $EVENTS events before it), $(pg_sql "SELECT count(*)
        FROM verify.snap") messages in Kafka, $window of them past the confirmed position"
  [ "$missing" -eq 0 ] \
    || fail "kill $kill_no: $missing events before confirmed_flush_lsn $confirmed are not in Kafka"
done
kill_no=3
# the relay is fast enough to finish a short stream between two polls: two of three will do
[ "$(pg_sql "SELECT count(*) FROM verify.kills WHERE confirmed < '$last'")" -ge 2 ] \
  || fail "kills came after the stream had ended"
[ "$(pg_sql "SELECT count(*) FROM verify.kills k
             WHERE confirmed > coalesce((SELECT confirmed FROM verify.kills p WHERE p.kill = k.kill - 1),
                                        '$start_lsn')")" -ge 2 ] \
  || fail "the slot's position did not move between kills: the checks at the kills proved little"

relay_start "$T/relay.conf" "$T/relay.log"
wait_for "slot $SLOT past the last commit" 120 pg_slot_lsn_ge "$SLOT" "$last"
relay_stop
[ "$(log_count "$T/relay.log" "source \"$SOURCE\": active")" -eq 5 ] \
  || fail "expected 5 active sessions in the log, found $(log_count "$T/relay.log" "source \"$SOURCE\": active")"

kafka_load msgs
verify_logical --allow-duplicates

# duplicates: only events past the confirmed position at a kill, at most once per such kill
bad=$(pg_sql "
  WITH d AS (SELECT event_id, count(*) - 1 AS extra FROM verify.msgs
             WHERE event_id IS NOT NULL GROUP BY event_id HAVING count(*) > 1),
  allowed AS (SELECT s.event_id, count(*) AS kills
              FROM verify.snaps s JOIN verify.kills k USING (kill) JOIN verify.truth t USING (event_id)
              WHERE t.end_lsn > k.confirmed GROUP BY s.event_id)
  SELECT count(*) FROM d LEFT JOIN allowed a USING (event_id)
  WHERE a.event_id IS NULL OR d.extra > a.kills")
log "duplicates: $(pg_sql "SELECT count(*) FROM verify.msgs") messages for $EVENTS events;" \
    "windows past the confirmed position at the kills: $(pg_sql "SELECT string_agg(window_events::text, ', ' ORDER BY kill) FROM verify.kills")"
[ "$bad" -eq 0 ] || fail "$bad events were duplicated although they were not past the confirmed position at a kill"
log "SIGKILL x$kill_no: nothing lost, nothing confirmed before its ack, duplicates only from the kill windows"
