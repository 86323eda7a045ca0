#!/usr/bin/env bash
# Retention (poll mode): published rows whose published_at is older than retention_ms are
# deleted by the active relay, retention_batch rows per DELETE; recently published rows stay,
# and unpublished rows are never deleted however old they are: rows created 3 days ago and
# published by this relay (published_at = now) stay, and a poison row created 3 days ago that
# the relay stops at (on_error = "stop") stays unpublished through every pass. Retention keeps
# going while the source is stuck at that row. `status` shows the replayable range afterwards.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

pg_start
kafka_start
pg_migrate

# ids 1..1050: published two days ago (past a one-day retention)
pg_sql "INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload, created_at,
                            published_at)
        SELECT 'order', 'old-' || g, 'OrderPlaced', '{}', now() - interval '3 days',
               now() - interval '2 days'
        FROM generate_series(1, 1050) g"
# ids 1051..1070: published a minute ago
pg_sql "INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload, created_at,
                            published_at)
        SELECT 'order', 'recent-' || g, 'OrderPlaced', '{}', now() - interval '1 hour',
               now() - interval '1 minute'
        FROM generate_series(1, 20) g"
# ids 1071..1075: created three days ago, never published (the relay publishes them now)
pg_sql "INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload, created_at)
        SELECT 'order', 'late-' || g, 'OrderPlaced', '{}', now() - interval '3 days'
        FROM generate_series(1, 5) g"
# id 1076: created three days ago, poison (empty aggregate_id): stays unpublished
pg_sql "INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload, created_at)
        VALUES ('order', '', 'OrderPlaced', '{}', now() - interval '3 days')"

old_published_gone() {
  [ "$(pg_sql "SELECT count(*) FROM outbox WHERE id <= 1050")" -eq 0 ]
}
late_rows_published() {
  [ "$(pg_sql "SELECT count(*) FROM outbox WHERE id BETWEEN 1071 AND 1075
                                              AND published_at IS NOT NULL")" -eq 5 ]
}
kept_rows_intact() {
  [ "$(pg_sql "SELECT count(*) FROM outbox WHERE id BETWEEN 1051 AND 1076")" -eq 26 ] &&
  [ "$(pg_sql "SELECT published_at IS NULL FROM outbox WHERE id = 1076")" = t ]
}
# retention_passes FILE: number of passes that found nothing or deleted rows (debug + info)
retention_passes() { log_count "$1" 'retention (deleted|found no)'; }
passes_at_least() { [ "$(retention_passes "$1")" -ge "$2" ]; }

relay_conf -o "$T/relay.conf" -s ret -l debug -x 'on_error = "stop"; retry_backoff_max_ms = 1000;
  retention_ms = 86400000; retention_batch = 100; retention_interval_ms = 1000;'
relay_start "$T/relay.conf" "$T/relay.log"

wait_for "the 1,050 rows published two days ago deleted" 60 old_published_gone
wait_for "one pass log line with the total and the batches" 30 \
  log_has "$T/relay.log" 'source "ret": retention deleted 1050 published rows older than 86400000 ms in 11 batches \(longest [0-9]+ ms\)'
log "$(grep -Eo 'retention deleted .*' "$T/relay.log" | head -1)"
wait_for "the rows created three days ago and unpublished now published" 30 late_rows_published
kept_rows_intact || fail "a recent, newly published or unpublished row was deleted"

# two more passes while the source is stuck at the poison row: nothing more goes
passes=$(retention_passes "$T/relay.log")
assert_for "recent and unpublished rows survive further passes" 3 kept_rows_intact
wait_for "two more retention passes" 30 passes_at_least "$T/relay.log" $((passes + 2))
kept_rows_intact || fail "a later pass deleted a row it must keep"
log_has "$T/relay.log" 'ERROR: .*row 1076([^0-9]|$)' || fail "the poison row did not stop the source"
relay_alive || fail "the relay exited"

# fix the poison row: it is published (now) and kept
pg_sql "UPDATE outbox SET aggregate_id = 'fixed' WHERE id = 1076"
wait_for "the fixed row published" 30 pg_all_marked
kept_rows_intact_after_fix() {
  [ "$(pg_sql "SELECT count(*) FROM outbox")" -eq 26 ] &&
  [ "$(pg_sql "SELECT min(id) FROM outbox")" -eq 1051 ]
}
passes=$(retention_passes "$T/relay.log")
wait_for "a pass after the fix" 30 passes_at_least "$T/relay.log" $((passes + 1))
kept_rows_intact_after_fix || fail "a pass after the fix deleted a recently published row"

# status: last published and the replayable range
status_active() {
  "$OUTBOX_RELAY" status -c "$T/relay.conf" >"$T/status.txt" 2>&1 &&
  grep -Eq '^ret +poll +active +' "$T/status.txt"
}
wait_for "status sees the relay active" 30 status_active
cat "$T/status.txt" >&2
grep -Eq '^ret +poll +active +backlog 0 rows; last published id 1076 at [0-9T:.-]+Z; replayable ids 1051\.\.1076 since [0-9T:.-]+Z$' \
  "$T/status.txt" || fail "status table lacks the published and replayable figures"
"$OUTBOX_RELAY" status -c "$T/relay.conf" --json >"$T/status.json"
cat "$T/status.json" >&2
jq -e '.[0] | .backlog == 0 and .last_published_id == 1076
            and .replayable_from_id == 1051 and .replayable_to_id == 1076
            and (.last_published_at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$"))' \
  "$T/status.json" >/dev/null || fail "status --json lacks the published and replayable figures"
# replayable_since: the oldest created_at still in the table, three days ago
since=$(jq -r '.[0].replayable_since' "$T/status.json")
[ "$(pg_sql "SELECT abs(extract(epoch from timestamptz '$since' -
                                         (SELECT min(created_at) FROM outbox))) < 0.001
                AND timestamptz '$since' < now() - interval '71 hours'")" = t ] \
  || fail "replayable_since $since is not the oldest created_at (three days ago)"
relay_stop
log "retention: only published rows past the age deleted, in batches; unpublished ones kept"
