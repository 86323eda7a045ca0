#!/usr/bin/env bash
# The metrics endpoint listens on the address it is given and nowhere else. Shows:
# - listen = "127.0.0.1:PORT": the relay's only listening socket is 127.0.0.1:PORT (ss), it
#   answers there, and a non-loopback address of this host gets no answer on PORT;
# - listen = "[::1]:PORT": bound to ::1 only;
# - a bare port ("9187"), an empty host (":9187"), a host name ("localhost:9187") and a port
#   out of range are configuration errors (exit 78, file:line), never "all interfaces";
#   binding every interface takes an explicit "0.0.0.0:PORT";
# - the shipped example configuration and the README use 127.0.0.1.
# No database or broker is needed: the endpoint starts before the sources connect.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

command -v ss >/dev/null || fail "ss (iproute2) is needed"
command -v curl >/dev/null || fail "curl is needed (tests/install-deps.sh)"

free_port; DEAD_PG=$FREE_PORT
free_port; DEAD_KAFKA=$FREE_PORT
free_port; PORT=$FREE_PORT

# conf_with FILE LISTEN: a relay config whose source and broker are down, with metrics on LISTEN
conf_with() {
  relay_conf -o "$1" -s m -b "127.0.0.1:$DEAD_KAFKA" \
    -d "host=127.0.0.1 port=$DEAD_PG dbname=app user=app connect_timeout=1"
  printf 'metrics = {\n  listen = "%s";\n};\n' "$2" >>"$1"
}

# listening PID: the relay's listening TCP sockets, "address:port" a line
listening() { ss -Hltnp 2>/dev/null | awk -v pid="pid=$1," 'index($0, pid) { print $4 }'; }
relay_listens() { [ -n "$(listening "$RELAY_PID")" ]; }

# ---- 127.0.0.1:PORT
conf_with "$T/v4.conf" "127.0.0.1:$PORT"
relay_start "$T/v4.conf" "$T/v4.log"
wait_for "the metrics socket" 20 relay_listens
[ "$(listening "$RELAY_PID")" = "127.0.0.1:$PORT" ] \
  || fail "the relay listens on $(listening "$RELAY_PID" | tr '\n' ' '), expected only 127.0.0.1:$PORT"
[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$PORT/healthz")" = 200 ] \
  || fail "no answer on 127.0.0.1:$PORT"
for addr in $(hostname -I 2>/dev/null); do
  case $addr in *:*) url="http://[$addr]:$PORT/healthz" ;; *) url="http://$addr:$PORT/healthz" ;; esac
  if curl -s -o /dev/null --max-time 3 "$url"; then fail "the endpoint answers on $addr"; fi
  log "no answer on $addr:$PORT, as it should be"
done
relay_stop

# ---- [::1]:PORT
if [ -e /proc/net/if_inet6 ] && grep -q '^0\{31\}1 ' /proc/net/if_inet6; then
  conf_with "$T/v6.conf" "[::1]:$PORT"
  relay_start "$T/v6.conf" "$T/v6.log"
  wait_for "the metrics socket" 20 relay_listens
  [ "$(listening "$RELAY_PID")" = "[::1]:$PORT" ] \
    || fail "the relay listens on $(listening "$RELAY_PID" | tr '\n' ' '), expected only [::1]:$PORT"
  relay_stop
else
  log "no IPv6 loopback here: [::1] not checked"
fi

# ---- what does not name one address is refused, never bound to every interface
for bad in "$PORT" ":$PORT" "localhost:$PORT" "127.0.0.1:" "127.0.0.1:65536" "*:$PORT" "[::1]$PORT"; do
  conf_with "$T/bad.conf" "$bad"
  rc=0
  "$OUTBOX_RELAY" check-config -c "$T/bad.conf" >"$T/bad.out" 2>&1 || rc=$?
  [ "$rc" -eq 78 ] || fail "listen = \"$bad\": check-config exited $rc, expected 78"
  log_has "$T/bad.out" "bad\.conf:[0-9]+: metrics: \"listen\" must be \"IPv4:port\" or \"\[IPv6\]:port\"" \
    || fail "listen = \"$bad\": unclear message: $(cat "$T/bad.out")"
  rc=0
  timeout 10 "$OUTBOX_RELAY" run -c "$T/bad.conf" >"$T/bad-run.out" 2>&1 || rc=$?
  [ "$rc" -eq 78 ] || fail "listen = \"$bad\": run exited $rc, expected 78"
done
log "refused: a bare port, an empty host, a host name, a missing or too large port"
conf_with "$T/any.conf" "0.0.0.0:$PORT"
"$OUTBOX_RELAY" check-config -c "$T/any.conf" >/dev/null || fail "an explicit 0.0.0.0 is refused"

# ---- the documented examples
grep -Eq '^#? *listen = "127\.0\.0\.1:[0-9]+";' "$REPO/conf/outbox-relay.conf" \
  || fail "conf/outbox-relay.conf does not show listen = \"127.0.0.1:PORT\""
if grep -E 'listen *= *"(0\.0\.0\.0|\[::\])?:' "$REPO/conf/outbox-relay.conf" "$REPO/README.md"; then
  fail "an example binds every interface"
fi
grep -q 'listen = "127.0.0.1:9187"' "$REPO/README.md" || fail "README shows no 127.0.0.1 listen"
