#!/usr/bin/env bash
# SIGHUP reload (issue 6) with events flowing, systemd's socket played by notify-listen:
# - adding a source starts only it (the running one is not restarted);
# - changing a source's topic template restarts only that source: events before go to the old
#   topic, after to the new one, none lost and none sent twice (it drains and marks first);
# - an invalid file is rejected with the reason and the running configuration stays;
# - each reload is framed by RELOADING=1 and READY=1.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

[ -x "${NOTIFY_LISTEN:-}" ] || fail "NOTIFY_LISTEN must name the notify-listen test tool"
pg_start
kafka_start
pg_migrate
pg_migrate --table second
"$NOTIFY_LISTEN" "$T/notify.sock" >"$T/notify.txt" 2>"$T/notify.err" &
sock_ready() { [ -S "$T/notify.sock" ]; }
wait_for "the notify socket" 10 sock_ready

conf() {  # conf FILE TOPIC [second]: source "one" on outbox with TOPIC, optionally "two"
  cat >"$1" <<CONF
kafka = { brokers = "$KAFKA_BROKERS"; };
sources = (
  { name = "one"; dsn = "$PG_DSN"; table = "public.outbox"; topic = "$2"; poll_interval_ms = 50; }
CONF
  if [ "${3:-}" = second ]; then
    cat >>"$1" <<CONF
  , { name = "two"; dsn = "$PG_DSN"; table = "public.second"; topic = "two.{aggregate_type}";
      poll_interval_ms = 50; }
CONF
  fi
  echo ");" >>"$1"
}
conf "$T/relay.conf" 'r1.{aggregate_type}'
export NOTIFY_SOCKET=$T/notify.sock
relay_start "$T/relay.conf" "$T/relay.log"
unset NOTIFY_SOCKET
ready_count() { grep -c ' READY=1$' "$T/notify.txt" || true; }
readies() { [ "$(ready_count)" -ge "$1" ]; }
wait_for "READY=1" 60 readies 1

# a writer that keeps inserting (10 rows a statement) until told to stop, while the
# configuration changes under it
writer() {
  for i in $(seq 1 5000); do
    [ ! -e "$T/stop-writer" ] || return 0
    pg_sql "INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload)
            SELECT 'order', 'a-' || (g % 9), 'Placed', jsonb_build_object('batch', $i, 'g', g)
            FROM generate_series(1, 10) AS g" || return 1
  done
}
writer &
wpid=$!
rows_at_least() { [ "$(pg_sql "SELECT count(*) FROM outbox")" -ge "$1" ]; }
wait_for "the writer under way" 30 rows_at_least 200

reloads_done() { [ "$(log_count "$T/relay.log" 'reloaded ')" -ge "$1" ]; }

# 1: add a source
conf "$T/relay.conf" 'r1.{aggregate_type}' second
kill -HUP "$RELAY_PID"
wait_for "reload 1" 60 reloads_done 1
log_has "$T/relay.log" 'reloaded .*1 source\(s\) kept running, 0 restarted, 1 added, 0 removed' \
  || fail "reload 1: $(grep 'reloaded' "$T/relay.log")"
! log_has "$T/relay.log" 'source "one": (changed|removed)' || fail "reload 1 restarted source one"
wait_for "READY=1 after reload 1" 30 readies 2
pg_sql "INSERT INTO second (aggregate_type, aggregate_id, event_type, payload)
        SELECT 'invoice', 'i-' || g, 'Issued', '{}' FROM generate_series(1, 20) AS g"
wait_for "the added source publishes" 60 pg_all_marked public.second

# 2: change source one's topic
conf "$T/relay.conf" 'r2.{aggregate_type}' second
kill -HUP "$RELAY_PID"
wait_for "reload 2" 60 reloads_done 2
log_has "$T/relay.log" 'reloaded .*1 source\(s\) kept running, 1 restarted, 0 added, 0 removed' \
  || fail "reload 2: $(grep 'reloaded' "$T/relay.log" | tail -n 1)"
log_has "$T/relay.log" 'source "one": changed; stopping it' || fail "reload 2 did not restart source one"
wait_for "READY=1 after reload 2" 30 readies 3

# 3: an invalid file
printf 'kafka = { brokers = "%s"; };\nsources = ( { name = "one"; dsn = 42; } );\n' "$KAFKA_BROKERS" >"$T/relay.conf"
kill -HUP "$RELAY_PID"
wait_for "the invalid file rejected" 30 log_has "$T/relay.log" 'reload: .* is not valid'
log_has "$T/relay.log" '"dsn" must be a string' || fail "the reason for the rejection is not logged"
relay_alive || fail "the relay exited on an invalid reload"
wait_for "READY=1 after the rejected reload" 30 readies 4

in_r2() { [ "$(kafka_count r2.order)" -ge 100 ]; }
wait_for "events on the new topic" 60 in_r2
touch "$T/stop-writer"
wait "$wpid" || fail "the writer failed"
wait_for "every row published" 90 pg_all_marked
grep -q ' RELOADING=1$' "$T/notify.txt" || fail "no RELOADING=1"
[ "$(grep -c ' RELOADING=1$' "$T/notify.txt")" -eq 3 ] || fail "expected 3 RELOADING=1"
relay_stop

r1=$(kafka_count r1.order); r2=$(kafka_count r2.order)
[ "$r1" -gt 0 ] && [ "$r2" -gt 0 ] || fail "expected events in both r1.order ($r1) and r2.order ($r2)"
log "$(pg_sql "SELECT count(*) FROM outbox") events across the reloads: $r1 to r1.order before the topic change, $r2 to r2.order after"
verify_outbox --topics '^r[12]\.order$' --expect-all-marked
verify_outbox --table public.second --topics '^two\.invoice$' --expect-all-marked
