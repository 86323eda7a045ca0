#!/usr/bin/env bash
# Fault: two relays race for one source. FAULT_STANDBY_CYCLES (3) times: the active relay is
# SIGSTOPped mid-stream (a frozen process keeps its sessions, so the lock or slot stays
# taken), its backends are terminated (what a network partition or an operator's
# pg_terminate_backend does), the standby must take over and deliver, and the frozen one,
# resumed with SIGCONT, must find that it lost the lock (poll) or slot (logical) and publish
# nothing more: its published counter (/metrics) stays put while the new leader delivers.
# The two then swap roles for the next cycle. Recovery: from the termination to the next
# message in Kafka, delivered by the new leader.
#   fault_standby.sh poll|logical
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# what the frozen relay had queued may reach the broker after the new leader marked it: such
# copies are counted (the table's "after the mark"), not refused
FAULT_ALLOW_LATE_COPIES=1
fault_setup "${1:-poll}"
CYCLES=$(fault_cycles "${FAULT_STANDBY_CYCLES:-3}")
ACTIVE_RE="source \"$FAULT_SOURCE\": active"

# relay X: its own configuration (application_name relay-X, metrics on a port of its own)
declare -A PID PORT
for x in a b; do
  free_port; PORT[$x]=$FREE_PORT
  fault_conf "$T/$x.conf" "$KAFKA_BROKERS" "$FAULT_DSN application_name=relay-$x"
  printf 'metrics = { listen = "127.0.0.1:%s"; };\n' "${PORT[$x]}" >>"$T/$x.conf"
done

metric() {      # metric X NAME: relay X's sample of NAME ("" when it does not answer)
  curl -sf --max-time 2 "http://127.0.0.1:${PORT[$1]}/metrics" \
    | awk -v m="$2" '$1 ~ "^" m "([{]|$)" { n += $NF; found = 1 }
                     END { if (found) printf "%d\n", n }'
}
published() { metric "$1" outbox_relay_events_published_total; }
nothing_in_flight() { [ "$(metric "$1" outbox_relay_events_in_flight)" = 0 ]; }
actives() { log_count "$T/$1.log" "$ACTIVE_RE"; }
actives_more() { [ "$(actives "$1")" -gt "$2" ]; }
counter_is() { [ "$(published "$1")" = "$2" ]; }
# lost_session X N: relay X has logged more than N session errors (it found out)
errors() { log_count "$T/$1.log" 'ERROR: .*source "'"$FAULT_SOURCE"'"'; }
errors_more() { [ "$(errors "$1")" -gt "$2" ]; }

fault_recovery_begin
relay_start "$T/a.conf" "$T/a.log"; PID[a]=$RELAY_PID
wait_for "relay a is active" 60 actives_more a 0
relay_start "$T/b.conf" "$T/b.log"; PID[b]=$RELAY_PID
wait_for "relay b is standby" 60 log_has "$T/b.log" "source \"$FAULT_SOURCE\": standby"
fault_writers_start
fault_recovery_end
leader=a standby=b
for cycle in $(seq 1 "$CYCLES"); do
  fault_delivering "$cycle" "relay $leader"
  standby_actives=$(actives $standby)
  leader_errors=$(errors $leader)
  kill -STOP "${PID[$leader]}"
  n=$(pg_admin_sql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                    WHERE application_name = 'relay-$leader'")
  log "cycle $cycle: relay $leader frozen, $n backend(s) terminated"
  fault_recovery_begin
  wait_for "cycle $cycle: relay $standby takes over" 60 actives_more $standby "$standby_actives"
  fault_recovery_end
  kill -CONT "${PID[$leader]}"
  wait_for "cycle $cycle: relay $leader notices it lost the source" 60 \
    errors_more $leader "$leader_errors"
  wait_for "cycle $cycle: relay $leader waits as standby" 60 log_has "$T/$leader.log" \
    "source \"$FAULT_SOURCE\": standby"
  # what it had in flight when frozen may still be acknowledged; after that, nothing
  wait_for "cycle $cycle: relay $leader has nothing in flight" 30 nothing_in_flight $leader
  count=$(published $leader)
  [ "${count:-0}" -gt 0 ] || fail "cycle $cycle: no published count from relay $leader"
  base=$(fault_messages)
  assert_for "cycle $cycle: relay $leader publishes nothing more" 3 counter_is $leader "$count"
  fault_progress_past "$base" || fail "cycle $cycle: relay $standby delivered nothing meanwhile"
  tmp=$leader; leader=$standby; standby=$tmp
done
fault_end standby-race "$CYCLES" "${PID[a]}" "${PID[b]}"
