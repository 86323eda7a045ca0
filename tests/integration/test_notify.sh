#!/usr/bin/env bash
# The systemd notify protocol (issue 6), with tests/tools/notify-listen playing systemd's side
# (NOTIFY_SOCKET, WATCHDOG_USEC = 2 s):
# - READY=1 only once the database and the broker are reachable: not while the broker is down;
# - STATUS= lines name the source, its state and its throughput;
# - WATCHDOG=1 pings while healthy; none while the pipeline is wedged (its PostgreSQL backend
#   SIGSTOPped, so a query never returns), and again once it runs;
# - STOPPING=1 on SIGTERM.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

[ -x "${NOTIFY_LISTEN:-}" ] || fail "NOTIFY_LISTEN must name the notify-listen test tool (make integration builds it)"

pg_start
pg_migrate
free_port; KPORT=$FREE_PORT
relay_conf -o "$T/relay.conf" -s nt -b "127.0.0.1:$KPORT"
"$NOTIFY_LISTEN" "$T/notify.sock" >"$T/notify.txt" 2>"$T/notify.err" &
listen_ready() { [ -S "$T/notify.sock" ]; }
wait_for "the notify socket" 10 listen_ready

has() { grep -q -- "$1" "$T/notify.txt"; }
pings() { grep -c ' WATCHDOG=1$' "$T/notify.txt" || true; }
last_ping_age_ms() {  # ms since the last WATCHDOG=1 (monotonic clock, like the listener's)
  local last now
  last=$(grep ' WATCHDOG=1$' "$T/notify.txt" | tail -n 1 | cut -d' ' -f1)
  now=$(awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime)
  echo $(( now - ${last:-0} ))
}

export NOTIFY_SOCKET=$T/notify.sock WATCHDOG_USEC=2000000
relay_start "$T/relay.conf" "$T/relay.log"
unset NOTIFY_SOCKET WATCHDOG_USEC
not_ready() { ! has 'READY=1'; }
assert_for "no READY=1 while the broker is down" 4 not_ready
has 'STATUS=nt: connecting' || fail "no STATUS line while connecting: $(cat "$T/notify.txt")"

kafka_start "$KPORT"
wait_for "READY=1 once the broker answers" 60 has 'READY=1'
pg_sql "INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload)
        SELECT 'order', 'a-' || i, 'Placed', '{}' FROM generate_series(1, 50) AS i"
wait_for "the events published" 30 pg_all_marked
status_shows_published() { grep -q 'STATUS=nt: active, 50 published' "$T/notify.txt"; }
wait_for "a STATUS line with the source's throughput" 30 status_shows_published
n0=$(pings)
more_pings() { [ "$(pings)" -ge $((n0 + 3)) ]; }
wait_for "watchdog pings while healthy" 10 more_pings

# wedge the pipeline: its backend stops answering
backend=$(pg_sql "SELECT pid FROM pg_stat_activity WHERE application_name = 'outbox-relay/nt'")
[ -n "$backend" ] || fail "no backend of the relay found"
kill -STOP "$backend"
pings_stopped() { [ "$(last_ping_age_ms)" -ge 1500 ]; }
wait_for "pings stop while the pipeline is wedged" 10 pings_stopped
n1=$(pings)
no_new_pings() { [ "$(pings)" -eq "$n1" ]; }
assert_for "no ping while wedged" 2 no_new_pings
log_has "$T/relay.log" 'has not gone round its loop.*withholding the watchdog ping' \
  || fail "the relay did not say why it withholds the pings"
kill -CONT "$backend"
pings_again() { [ "$(pings)" -ge $((n1 + 2)) ]; }
wait_for "pings again once the pipeline runs" 10 pings_again
log "watchdog: $n0 pings before the wedge, none during it ($(pings) now)"

relay_stop
has 'STOPPING=1' || fail "no STOPPING=1 on SIGTERM"
log "$(grep -c 'STATUS=' "$T/notify.txt") STATUS lines, e.g. $(grep 'STATUS=nt: active' "$T/notify.txt" | tail -n 1 | cut -d' ' -f2-)"
