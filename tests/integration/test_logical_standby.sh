#!/usr/bin/env bash
# Logical mode: two relays configured with the same logical source (same slot). The slot can
# be streamed by one connection at a time: the first relay is active, the second logs
# `source "...": standby` and waits. A writer keeps committing events (all three styles); the
# active relay is SIGKILLed, and the standby must take over within a few seconds and go on
# from the slot's confirmed position.
#
# Must show: exactly one instance streams at a time; the standby takes over after the kill;
# every committed event is in Kafka, keyed, in commit order per aggregate (duplicates allowed:
# the killed instance's unconfirmed window is sent again).
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/logical.sh"

SOURCE=orders
SLOT=$(logical_slot_name "$SOURCE")

both_running() { relay_alive "$r1" && relay_alive "$r2" && pg_slot_active "$SLOT"; }

pg_start
kafka_start
pg_migrate
truth_start

relay_conf -o "$T/relay.conf" -s "$SOURCE" -m logical -x 'standby_retry_ms = 200;'
relay_start "$T/relay.conf" "$T/relay1.log"
r1=$RELAY_PID
wait_for "relay 1 active" 30 log_has "$T/relay1.log" "source \"$SOURCE\": active"
relay_start "$T/relay.conf" "$T/relay2.log"
r2=$RELAY_PID
wait_for "relay 2 standby" 30 log_has "$T/relay2.log" "source \"$SOURCE\": standby"

logical_writer StandbyTest 20 4 3 3 0.05 customer &
writer_pid=$!
assert_for "relay 1 streams, relay 2 waits (5 s)" 5 both_running
! log_has "$T/relay2.log" "source \"$SOURCE\": active" || fail "relay 2 went active while relay 1 streams"
lsn=$(pg_wal_lsn)
wait_for "relay 1 confirms the stream" 30 pg_slot_lsn_ge "$SLOT" "$lsn"

relay_kill "$r1"
killed=$(now_ms)
wait_for "relay 2 takes over" 30 log_has "$T/relay2.log" "source \"$SOURCE\": active"
log "relay 2 active $(( $(now_ms) - killed )) ms after relay 1 was killed"
lsn=$(pg_wal_lsn)
wait_for "relay 2 confirms the stream" 30 pg_slot_lsn_ge "$SLOT" "$lsn"
touch "$T/stop-writer"
wait "$writer_pid" || fail "the writer failed"
end_lsn=$(pg_wal_lsn)
wait_for "slot $SLOT confirmed past the last commit" 60 pg_slot_lsn_ge "$SLOT" "$end_lsn"
relay_stop "$r2"
[ "$(log_count "$T/relay1.log" "source \"$SOURCE\": active")" -eq 1 ] || fail "relay 1 went active more than once"

truth_load
kafka_load msgs
verify_logical --allow-duplicates
log "standby: one instance streams, the other takes over after SIGKILL; nothing lost"
