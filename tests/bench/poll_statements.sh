#!/usr/bin/env bash
# Where PostgreSQL's time goes in poll mode (not part of `make check`): a throwaway PostgreSQL
# with pg_stat_statements and a Kafka broker, a backlog of EVENTS (1,000,000) events of
# tests/bench/lib/workload.sh (the same as tests/bench/run.sh's), drained once by the relay with
# the product's defaults. Prints the drain rate and the relay's CPU, then the server's statements
# by total time: calls, rows, execution and planning ms, and µs per row.
#
#   make all && tests/bench/poll_statements.sh
#   EVENTS=200000 PG_CONF='shared_buffers = 1GB' RELAY_SOURCE_CONF='on_publish = "delete";' \
#     tests/bench/poll_statements.sh
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/lib/workload.sh"
EVENTS=${EVENTS:-1000000}

pg_start
kafka_start
pg_migrate >/dev/null
{ echo "shared_preload_libraries = 'pg_stat_statements'"
  echo "pg_stat_statements.track_planning = on"
  printf '%s\n' "${PG_CONF:-}"; } >>"$PG_DIR/data/postgresql.conf"
pg_restart
pg_admin_sql "CREATE EXTENSION pg_stat_statements" >/dev/null
pg_sql "ALTER TABLE outbox SET (autovacuum_enabled = ${OUTBOX_AUTOVACUUM:-false})"

load outbox stmt "$EVENTS" >/dev/null
kafka_create_topic bench.poll.stmt
pg_admin_sql "SELECT pg_stat_statements_reset()" >/dev/null

relay_conf -o "$T/relay.conf" -s poll -k "${RELAY_KAFKA_CONF:-}" \
  -x "poll_interval_ms = 100; topic = \"bench.{source}.{aggregate_type}\"; ${RELAY_SOURCE_CONF:-}"
start=$(date +%s%N)
relay_start "$T/relay.conf" "$T/relay.log"
wait_for "every row marked" 1800 pg_all_marked
end=$(date +%s%N)
cpu=$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$RELAY_PID/stat")
relay_stop
echo "drained $EVENTS events in $(( (end - start) / 1000000 )) ms:" \
     "$(( EVENTS * 1000000000 / (end - start) )) events/s, relay CPU $cpu s"
echo "calls | rows | exec ms | plan ms | µs per row | statement"
# the harness's own polling (pg_all_marked: SELECT EXISTS ...) left out
pg_admin_sql "SELECT calls, rows, round(total_exec_time::numeric), round(total_plan_time::numeric),
                     round((total_exec_time / greatest(rows, 1) * 1000)::numeric, 1),
                     left(regexp_replace(query, '\s+', ' ', 'g'), 100)
              FROM pg_stat_statements WHERE query NOT LIKE 'SELECT EXISTS%'
              ORDER BY total_exec_time DESC LIMIT 8"
