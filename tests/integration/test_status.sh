#!/usr/bin/env bash
# outbox-relay status: a poll source's backlog, last published row, replayable range and relay
# state, a logical source's slot position and lag, an unreachable source named with a non-zero
# exit; --json for scripts.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

pg_start
kafka_start
pg_migrate
free_port; dead_port=$FREE_PORT
# write_conf FILE [EXTRA_SOURCE]
write_conf() {
  cat >"$1" <<CONF
kafka = { brokers = "$KAFKA_BROKERS"; };
sources = (
  { name = "orders"; dsn = "$PG_DSN"; poll_interval_ms = 50; },
  { name = "stream"; dsn = "$PG_DSN"; mode = "logical"; table = "public.outbox"; }${2:-}
);
CONF
}
write_conf "$T/relay.conf" ",
  { name = \"down\";   dsn = \"host=127.0.0.1 port=$dead_port dbname=app user=app\"; }"
pg_sql "INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload, created_at)
        SELECT 'order', 'o-' || g, 'OrderPlaced', '{}', now() - interval '2 minutes'
        FROM generate_series(1, 25) g"

rc=0
"$OUTBOX_RELAY" status -c "$T/relay.conf" >"$T/before.txt" 2>&1 || rc=$?
cat "$T/before.txt" >&2
[ "$rc" -eq 69 ] || fail "status with an unreachable source exited $rc, not 69"
grep -Eq '^orders +poll +no relay +backlog 25 rows, oldest 1[0-9]{2} s; replayable ids 1\.\.25 since [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$' \
  "$T/before.txt" || fail "poll backlog and replayable range not reported"
grep -Eq '^stream +logical +error +replication slot "outbox_relay_stream": does not exist' \
  "$T/before.txt" || fail "missing slot not reported"
grep -Eq '^down +poll +error +could not connect: .*Connection refused; Is the server' "$T/before.txt" \
  || fail "unreachable source not reported on one line"

write_conf "$T/relay.conf"
relay_start "$T/relay.conf" "$T/relay.log"
wait_for "poll source drained" 30 pg_all_marked
wait_for "logical source streaming" 30 log_has "$T/relay.log" 'source "stream": active'
status_ok() {
  "$OUTBOX_RELAY" status -c "$T/relay.conf" >"$T/during.txt" 2>&1 &&
  grep -Eq '^orders +poll +active +backlog 0 rows; last published id 25 at [0-9T:.-]+Z; replayable ids 1\.\.25 since [0-9T:.-]+Z$' "$T/during.txt" &&
  grep -Eq '^stream +logical +streaming +slot outbox_relay_stream confirmed [0-9A-F]+/[0-9A-F]+, lag [0-9]+ bytes$' "$T/during.txt"
}
wait_for "status shows both sources running" 30 status_ok
"$OUTBOX_RELAY" status -c "$T/relay.conf" --json >"$T/status.json"
grep -q '"lag_bytes"' "$T/status.json" && grep -q '"backlog": 0' "$T/status.json" \
  || { cat "$T/status.json" >&2; fail "--json output lacks the figures"; }
# the published and replayable figures, as the table holds them
want=$(pg_sql "SELECT json_build_object('id', max(id), 'at', to_char(max(published_at) AT TIME ZONE 'UTC',
                 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), 'since', to_char(min(created_at) AT TIME ZONE 'UTC',
                 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')) FROM outbox")
jq -e --argjson w "$want" '.[] | select(.source == "orders") | .last_published_id == 25
      and .last_published_at == $w.at and .replayable_from_id == 1 and .replayable_to_id == 25
      and .replayable_since == $w.since' "$T/status.json" >/dev/null \
  || { cat "$T/status.json" >&2; echo "want $want" >&2; fail "--json lacks the published and replayable figures"; }
relay_stop
log "status: backlog, slot lag, state and errors per source"
