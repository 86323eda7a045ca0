#!/usr/bin/env bash
# No high-water-mark loss (invariant 4). Transaction A inserts a row first (lower id) and
# commits last; transaction B's higher ids commit and get published meanwhile. A's row must
# still be published once it commits. Checked for a table with the txid column (commit-order
# passes) and for one without it (id order with rescans).
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

# tx_idle NAME: the session named late-NAME sits in its open transaction.
tx_idle() {
  [ "$(pg_sql "SELECT count(*) FROM pg_stat_activity
               WHERE application_name = 'late-$1' AND state = 'idle in transaction'")" -eq 1 ]
}

# open_tx NAME TABLE: starts a psql session holding an open transaction that inserted one row
# for aggregate late-NAME; the session waits for "COMMIT;" on fd 3.
open_tx() {
  local name=$1 table=$2
  mkfifo "$T/$name.fifo"
  "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 "$PG_DSN application_name=late-$name" \
    <"$T/$name.fifo" >"$T/$name.out" 2>&1 &
  exec 3>"$T/$name.fifo"
  echo "BEGIN; INSERT INTO $table (aggregate_type, aggregate_id, event_type, payload)
        VALUES ('order', 'late-$name', 'LateEvent', '{}');" >&3
  wait_for "transaction $name inserted its row and waits" 10 tx_idle "$name"
}

# published_count TABLE N: exactly N rows of TABLE are published.
published_count() {
  [ "$(pg_sql "SELECT count(*) FROM $1 WHERE published_at IS NOT NULL")" -eq "$2" ]
}

# row_visible TABLE AGGREGATE_ID
row_visible() {
  [ "$(pg_sql "SELECT count(*) FROM $1 WHERE aggregate_id = '$2'")" -eq 1 ]
}

# run_case NAME TABLE TOPIC_REGEX
run_case() {
  local name=$1 table=$2 topics=$3 late_id
  open_tx "$name" "$table"
  pg_sql "INSERT INTO $table (aggregate_type, aggregate_id, event_type, payload)
          SELECT 'order', 'early-' || (g % 10), 'EarlyEvent', '{}' FROM generate_series(1, 200) g"
  wait_for "200 later rows of $table published" 30 published_count "$table" 200
  echo "COMMIT;" >&3
  exec 3>&-
  wait_for "transaction $name committed" 10 row_visible "$table" "late-$name"
  late_id=$(pg_sql "SELECT id FROM $table WHERE aggregate_id = 'late-$name'")
  [ "$(pg_sql "SELECT min(id) FROM $table WHERE aggregate_id LIKE 'early-%'")" -gt "$late_id" ] \
    || fail "the late transaction's row does not have the lower id"
  wait_for "late row $late_id of $table published" 30 pg_all_marked "$table"
  verify_outbox --table "$table" --topics "$topics" --expect-all-marked
}

pg_start
kafka_start
pg_migrate
pg_migrate --table legacy
pg_sql "ALTER TABLE public.legacy DROP COLUMN txid"

relay_conf -o "$T/relay.conf" -s orders
relay_start "$T/relay.conf" "$T/relay.log"
wait_for "relay active" 30 log_has "$T/relay.log" 'source "orders": active'
run_case a public.outbox '^outbox\.event\.'
relay_stop

relay_conf -o "$T/legacy.conf" -s legacy -t public.legacy \
  -x 'topic = "legacy.event.{aggregate_type}";'
relay_start "$T/legacy.conf" "$T/legacy.log"
wait_for "relay active on the table without txid" 30 log_has "$T/legacy.log" 'source "legacy": active'
log_has "$T/legacy.log" 'has no column "txid"; reading in id order' \
  || fail "no warning that the table has no txid column"
run_case b public.legacy '^legacy\.event\.'
relay_stop
log "late commits: published in both modes"
