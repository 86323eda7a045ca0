#!/usr/bin/env bash
# outbox-relay replay while the daemon runs (issue 5, first part):
# - an id range and a time range are re-sent: exactly the selected events arrive again, with a
#   "replay" header and their original event_id, the same keys and partitions, in per-aggregate
#   order; published_at is not touched; live traffic goes on and is not duplicated;
# - --dry-run sends nothing; --topic redirects; --rate is respected (measured on the broker's
#   LogAppendTime of the redirected topic);
# - bad input (no range, inverted ranges, unparseable times, unknown source, a range matching
#   nothing, a large replay without --yes off a terminal) exits 64 and sends nothing;
# - every run is in `replay --history`.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

pg_start
kafka_start
pg_migrate
relay_conf -o "$T/relay.conf" -s rp
emit() {  # emit FROM TO: events FROM..TO over 7 aggregates
  pg_sql "INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload, created_at)
          SELECT 'order', 'a-' || (i % 7), 'Placed', jsonb_build_object('n', i),
                 '2026-11-20T00:00:00Z'::timestamptz + i * interval '1 minute'
          FROM generate_series($1, $2) AS i"
}
replay() { "$OUTBOX_RELAY" replay -c "$T/relay.conf" "$@"; }
count_with() { kafka_consume "$1" '%h\n' | grep -c -- "$2" || true; }

emit 1 1200
relay_start "$T/relay.conf" "$T/relay.log"
wait_for "1200 events published" 60 pg_all_marked
marks_before=$(pg_sql "SELECT md5(string_agg(published_at::text, ',' ORDER BY id)) FROM outbox")

# --- bad input: exit 64, nothing sent ----------------------------------------------------------
bad() {  # bad WHAT PATTERN ARGS...: the replay must exit 64 with PATTERN in its message
  local what=$1 pattern=$2 rc=0; shift 2
  replay "$@" </dev/null >"$T/bad.out" 2>&1 || rc=$?
  [ "$rc" -eq 64 ] || { cat "$T/bad.out" >&2; fail "$what: exit $rc, expected 64"; }
  grep -Eq -- "$pattern" "$T/bad.out" || fail "$what: message lacks /$pattern/: $(cat "$T/bad.out")"
}
bad "no range" 'no range' --source rp
bad "inverted id range" 'empty range.*--from-id 90.*--to-id 10' --from-id 90 --to-id 10
bad "inverted time range" 'empty range' --since 2026-11-21 --until 2026-11-20
bad "unparseable time" '--since "yesterday" is not an ISO-8601' --since yesterday
bad "bad id" '--from-id must be an integer' --from-id x
bad "unknown source" 'no source "nope"' --source nope --from-id 1 --to-id 2
bad "a range with no events" 'no events .* match' --from-id 5000 --to-id 6000
bad "large replay off a terminal" 'not sent without --yes' --from-id 1 --to-id 1200
[ "$(count_with outbox.event.order 'replay=')" -eq 0 ] || fail "bad input sent something"
# an outbox without the migrations' side tables: the history says what to do
relay_conf -o "$T/nomig.conf" -s nm -t public.nomig
rc=0; "$OUTBOX_RELAY" replay -c "$T/nomig.conf" --history >"$T/nomig.out" 2>&1 || rc=$?
[ "$rc" -eq 69 ] && grep -q 'public.nomig_replays does not exist; apply the migrations' "$T/nomig.out" \
  || fail "history without the migrations: exit $rc: $(cat "$T/nomig.out")"

# --- dry run ------------------------------------------------------------------------------------
replay --from-id 10 --to-id 19 --dry-run >"$T/dry.out" 2>&1 || { cat "$T/dry.out" >&2; fail "dry run failed"; }
grep -q 'dry run: 10 events' "$T/dry.out" || fail "dry run output: $(cat "$T/dry.out")"
[ "$(count_with outbox.event.order 'replay=')" -eq 0 ] || fail "the dry run sent something"

# --- an id range and a time range, while live events flow ----------------------------------------
emit 1201 1300 &
writer=$!
replay --from-id 50 --to-id 99 >"$T/r1.out" 2>"$T/r1.err" || { cat "$T/r1.out" "$T/r1.err" >&2; fail "replay 1 failed"; }
# created_at of event i is 2026-11-20 00:00 + i minutes: [02:00, 02:30) is 120..149
replay --since 2026-11-20T02:00:00Z --until '2026-11-20 03:30:00+01:00' >"$T/r2.out" 2>"$T/r2.err" \
  || { cat "$T/r2.out" "$T/r2.err" >&2; fail "replay 2 failed"; }
wait "$writer"
grep -q 'replay 1 done: 50 selected, 50 sent, 50 acked, 0 failed' "$T/r1.out" || fail "summary: $(cat "$T/r1.out")"
grep -q 'replay 2 done: 30 selected, 30 sent, 30 acked' "$T/r2.out" || fail "summary: $(cat "$T/r2.out")"
wait_for "the 100 live events published" 60 pg_all_marked

kafka_consume outbox.event.order '%p\t%k\t%h\t%s\n' >"$T/all.tsv"
# replayed: exactly ids 50..99 (replay=1) and 120..149 (replay=2), by the payload's n
awk -F '\t' 'index($3, "replay=1") { sub(/.*"n": /, "", $4); sub(/}.*/, "", $4); print $4 }' "$T/all.tsv" \
  | sort -n | tr '\n' ' ' >"$T/r1.ids"
[ "$(cat "$T/r1.ids")" = "$(seq 50 99 | tr '\n' ' ')" ] || fail "replay 1 re-sent: $(cat "$T/r1.ids")"
awk -F '\t' 'index($3, "replay=2") { sub(/.*"n": /, "", $4); sub(/}.*/, "", $4); print $4 }' "$T/all.tsv" \
  | sort -n | tr '\n' ' ' >"$T/r2.ids"
[ "$(cat "$T/r2.ids")" = "$(seq 120 149 | tr '\n' ' ')" ] || fail "replay 2 re-sent: $(cat "$T/r2.ids")"
# same key and partition as the original, and the original event_id
awk -F '\t' '{ e = $3; sub(/.*event_id=/, "", e); sub(/,.*/, "", e)
               if (index($3, "replay=")) { rp[e] = $1 "/" $2 } else { op[e] = $1 "/" $2 } }
             END { for (e in rp) if (rp[e] != op[e]) { print "mismatch " e " " rp[e] " " op[e]; bad = 1 }
                   exit bad }' "$T/all.tsv" || fail "a replayed event's partition or key differs from the original"
# per-aggregate order within each replay
awk -F '\t' 'index($3, "replay=") { r = $3; sub(/.*replay=/, "", r); sub(/,.*/, "", r)
               n = $4; sub(/.*"n": /, "", n); sub(/}.*/, "", n); k = r "/" $1 "/" $2
               if ((k in last) && n + 0 < last[k]) { print "order " k; bad = 1 } last[k] = n + 0 }
             END { exit bad }' "$T/all.tsv" || fail "replayed events out of per-aggregate order"
# live events: each once (no replay header)
[ "$(awk -F '\t' '!index($3, "replay=")' "$T/all.tsv" | wc -l)" -eq 1300 ] \
  || fail "live events: expected 1300 records without a replay header"
[ "$(pg_sql "SELECT md5(string_agg(published_at::text, ',' ORDER BY id)) FROM outbox WHERE id <= 1200")" = "$marks_before" ] \
  || fail "the replay changed published_at"
log "replays 1 and 2: exactly ids 50-99 and 120-149 again, same key/partition, in order; 100 live events once"

# --- --topic and --rate -----------------------------------------------------------------------
kafka_topic_config replay.target message.timestamp.type=LogAppendTime
replay --from-id 201 --to-id 260 --topic replay.target --rate 20 >"$T/r3.out" 2>&1 \
  || { cat "$T/r3.out" >&2; fail "replay 3 failed"; }
[ "$(kafka_count replay.target)" -eq 60 ] || fail "--topic: expected 60 records in replay.target"
span_ms=$(kafka_consume replay.target '%T\n' | sort -n | awk 'NR == 1 { f = $1 } { l = $1 } END { print l - f }')
# 60 events at 20/s: the last leaves ~2950 ms after the first; allow a wide margin above
[ "$span_ms" -ge 2500 ] && [ "$span_ms" -le 8000 ] || fail "--rate 20 over 60 events took ${span_ms} ms"
log "--topic replay.target: 60 records; --rate 20: first to last ${span_ms} ms (ideal 2950)"

replay --history >"$T/history.out" || fail "replay --history failed"
[ "$(grep -c ' done ' "$T/history.out")" -eq 3 ] || { cat "$T/history.out" >&2; fail "history should list 3 done replays"; }
grep -q -- '--from-id 201 --to-id 260 --topic replay.target' "$T/history.out" || fail "history: $(cat "$T/history.out")"
relay_stop
verify_outbox --topics '^outbox\.event\.order$' --expect-all-marked --allow-duplicates
