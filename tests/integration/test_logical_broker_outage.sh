#!/usr/bin/env bash
# Logical mode, must-show 3: the broker stopped for OUTAGE_S (30) seconds in the middle of a
# stream. A writer commits a transaction of 20 events (kept rows, deleted rows, messages) every
# ~0.1 s throughout. The source runs with max_in_flight = 2000, so during the outage the relay
# hits backpressure and stops reading; PostgreSQL runs with wal_sender_timeout = 10s, so the
# relay must keep sending status updates while it waits on Kafka. The broker stamps records with
# their append time (LogAppendTime), which tells which events were acked before the outage.
#
# Must show: while the broker is down, the slot's confirmed_flush_lsn (sampled every 0.1 s)
# never reaches the end of a transaction whose events were not in Kafka before the stop; the
# walsender is never dropped for a replication timeout; after the broker returns, every event
# arrives (duplicates allowed: in flight at the stop), keyed, in commit order per aggregate.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/logical.sh"

OUTAGE_S=${OUTAGE_S:-30}
SOURCE=orders
SLOT=$(logical_slot_name "$SOURCE")

# sample_confirmed: appends "ms lsn" of the slot's confirmed_flush_lsn; true while the relay runs.
sample_confirmed() {
  echo "$(now_ms) $(pg_slot_lsn "$SLOT")" >>"$T/samples"
  relay_alive
}

slot_confirmed_changes() { [ "$(pg_slot_lsn "$SLOT")" != "$1" ]; }

pg_start
pg_admin_sql "ALTER SYSTEM SET wal_sender_timeout = '10s'" >/dev/null
pg_admin_sql "SELECT pg_reload_conf()" >/dev/null
KAFKA_EXTRA_CONFIG="log.message.timestamp.type=LogAppendTime" kafka_start
pg_migrate
truth_start

relay_conf -o "$T/relay.conf" -s "$SOURCE" -m logical -x 'max_in_flight = 2000;'
relay_start "$T/relay.conf" "$T/relay.log"
wait_for "relay active" 30 log_has "$T/relay.log" "source \"$SOURCE\": active"
logical_writer OutageTest 50 10 5 5 0.1 &
writer_pid=$!
first=$(pg_slot_lsn "$SLOT")
wait_for "the relay confirms the first events" 30 slot_confirmed_changes "$first"
wait_for "the relay keeps up with the writer" 10 pg_slot_lsn_ge "$SLOT" "$(pg_wal_lsn)"

kafka_stop
stopped_ms=$(now_ms)
stopped_lsn=$(pg_wal_lsn)
log "broker down at WAL $stopped_lsn; confirmed_flush_lsn $(pg_slot_lsn "$SLOT")"
: >"$T/samples"
assert_for "the relay runs while the broker is down ($OUTAGE_S s)" "$OUTAGE_S" sample_confirmed
restart_ms=$(now_ms)
kafka_restart
[ ! -e "$T/writer-failed" ] || fail "$(cat "$T/writer-failed")"
log "broker back; confirmed_flush_lsn $(pg_slot_lsn "$SLOT"), WAL $(pg_wal_lsn)"

# a few more seconds of stream after the outage, then everything must arrive
wait_for "the relay confirms past the outage" 120 pg_slot_lsn_ge "$SLOT" "$(pg_wal_lsn)"
touch "$T/stop-writer"
wait "$writer_pid" || fail "the writer failed"
end_lsn=$(pg_wal_lsn)
wait_for "slot $SLOT confirmed past the last commit" 120 pg_slot_lsn_ge "$SLOT" "$end_lsn"
relay_stop

truth_load
kafka_load msgs
verify_logical --allow-duplicates

# The highest position confirmed while the broker was down, against the events that were not
# in Kafka before the stop: their first copy was appended after the restart.
max_confirmed=0/0
while read -r _ lsn; do
  [ -z "$lsn" ] || pg_lsn_ge "$max_confirmed" "$lsn" || max_confirmed=$lsn
done <"$T/samples"
pg_sql "CREATE TABLE verify.first_copy AS
          SELECT DISTINCT ON (event_id) event_id, ts FROM verify.msgs
          WHERE event_id IS NOT NULL ORDER BY event_id, ts"
summary=$(pg_sql "SELECT count(*) FILTER (WHERE f.ts >= $restart_ms) || ' events first appended after the restart, '
                         || count(*) FILTER (WHERE t.end_lsn > '$stopped_lsn') || ' committed during or after the outage, '
                         || count(*) FILTER (WHERE f.ts < $stopped_ms) || ' appended before the stop'
                  FROM verify.truth t JOIN verify.first_copy f USING (event_id)")
log "outage: samples=$(wc -l <"$T/samples"), max confirmed_flush_lsn while down $max_confirmed; $summary"
[ "$(pg_sql "SELECT count(*) FROM verify.truth t JOIN verify.first_copy f USING (event_id)
             WHERE f.ts >= $restart_ms")" -gt 0 ] || fail "no event waited for the broker: the outage proved nothing"
premature=$(pg_sql "SELECT count(*) FROM verify.truth t JOIN verify.first_copy f USING (event_id)
                    WHERE f.ts >= $stopped_ms AND t.end_lsn <= '$max_confirmed'")
[ "$premature" -eq 0 ] \
  || fail "confirmed_flush_lsn reached $max_confirmed while the broker was down, past $premature events not yet in Kafka"
[ "$(pg_sql "SELECT count(*) FROM verify.truth t JOIN verify.first_copy f USING (event_id)
             WHERE t.end_lsn > '$stopped_lsn' AND f.ts < $restart_ms")" -eq 0 ] \
  || fail "events committed after the broker stopped were appended before it restarted?"

! log_has "$PG_DIR/postgresql.log" 'terminating walsender process due to replication timeout' \
  || fail "the walsender timed out (wal_sender_timeout 10s): no status updates while Kafka was down"
log "broker outage: confirmed position held behind unacked events, status updates kept going, all delivered"
