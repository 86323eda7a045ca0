#!/usr/bin/env bash
# Compares an outbox table with what reached Kafka, for the integration tests and benchmarks.
#
#   verify.sh --brokers HOST:PORT --dsn DSN [--psql PATH] [--table public.outbox]
#             [--topics REGEX] [--where SQL] [--allow-duplicates] [--partial]
#             [--expect-all-marked] [--append-times [--allow-late-copies]] [--tmp DIR]
#
# Consumes every message of the topics whose name matches REGEX (default ^outbox\.event\.)
# from the beginning with kcat, exports (id, event_id, aggregate_id, published_at) of the rows
# matching WHERE, and checks, always failing on:
#   lost           a row with no message (with --partial only marked rows count: the relay
#                  may still be working on the others)
#   marked_absent  a row marked published whose event is not in Kafka (ack before mark)
#   key_mismatch   a message whose key is not its row's aggregate_id
#   phantom        a message with no event_id header or one no row has
#   split          an aggregate whose events landed in more than one partition of a topic
#   order          within a partition, an aggregate's events out of id order, after dropping
#                  repeated copies of the same event_id
# and also on:
#   duplicates     extra copies of an event_id (counted; allowed with --allow-duplicates)
#   unmarked       rows not yet published (only with --expect-all-marked)
# With --append-times (the topics use log.message.timestamp.type=LogAppendTime, and the broker
# and the database share a clock), from when the broker appended each copy and published_at:
#   marked_early   a row marked before the broker appended its event's first copy (ack before
#                  mark, seen from the broker's side)
#   late_copies    copies appended after their row was marked: a re-send of an event that
#                  was no longer in flight (counted; allowed with --allow-late-copies, for a
#                  frozen relay whose queued records leave after another one marked them)
# Prints up to 5 examples of each problem, then one summary line:
#   verify: rows=.. marked=.. messages=.. distinct=.. lost=.. ... duplicates=.. -> OK|FAILED
# Exit 0 when OK, 1 when a check failed, 2 on usage or tool errors. KCAT_OPTS: more kcat
# options (e.g. "-F FILE" with TLS and SASL settings).
set -euo pipefail

brokers="" dsn="" psql=psql table=public.outbox topics='^outbox\.event\.' where=true
allow_dups=0 partial=0 all_marked=0 append_times=0 allow_late=0 tmp=""

usage() { sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

while [ $# -gt 0 ]; do
  case $1 in
    --brokers) brokers=$2; shift 2 ;;
    --dsn) dsn=$2; shift 2 ;;
    --psql) psql=$2; shift 2 ;;
    --table) table=$2; shift 2 ;;
    --topics) topics=$2; shift 2 ;;
    --where) where=$2; shift 2 ;;
    --tmp) tmp=$2; shift 2 ;;
    --allow-duplicates) allow_dups=1; shift ;;
    --partial) partial=1; shift ;;
    --expect-all-marked) all_marked=1; shift ;;
    --append-times) append_times=1; shift ;;
    --allow-late-copies) allow_late=1; shift ;;
    -h|--help) usage ;;
    *) echo "verify.sh: unknown argument $1" >&2; usage ;;
  esac
done
[ -n "$brokers" ] && [ -n "$dsn" ] || usage

work=$(mktemp -d "${tmp:-${TMPDIR:-/tmp}}/verify.XXXXXX")
trap 'rm -rf "$work"' EXIT

# rows.tsv: id, event_id, aggregate_id, marked(t/f), published_at in ms (floor), in id order.
# (psql -At rather than COPY, whose text format escapes backslashes in aggregate ids)
"$psql" -X -q -At -F "$(printf '\t')" -v ON_ERROR_STOP=1 "$dsn" -c "
    SELECT id, event_id, coalesce(aggregate_id, ''), published_at IS NOT NULL,
           coalesce(floor(extract(epoch FROM published_at) * 1000)::bigint::text, '')
    FROM $table WHERE $where ORDER BY id" >"$work/rows.tsv" \
  || { echo "verify.sh: could not export $table" >&2; exit 2; }

# msgs.tsv: topic, partition, offset, timestamp (ms), key, headers; sorted so each partition is
# in offset order.
kcat ${KCAT_OPTS:-} -L -b "$brokers" -m 10 >"$work/metadata" 2>"$work/kcat.err" \
  || { cat "$work/kcat.err" >&2; echo "verify.sh: kcat -L failed" >&2; exit 2; }
sed -n 's/^ *topic "\([^"]*\)" with .*/\1/p' "$work/metadata" | grep -E -- "$topics" \
  >"$work/topics" || true
: >"$work/raw.tsv"
while read -r topic; do
  kcat ${KCAT_OPTS:-} -C -b "$brokers" -t "$topic" -o beginning -e -q -m 30 \
    -f '%t\t%p\t%o\t%T\t%k\t%h\n' >>"$work/raw.tsv" 2>"$work/kcat.err" \
    || { cat "$work/kcat.err" >&2; echo "verify.sh: kcat -C $topic failed" >&2; exit 2; }
done <"$work/topics"
LC_ALL=C sort -t "$(printf '\t')" -k1,1 -k2,2n -k3,3n "$work/raw.tsv" >"$work/msgs.tsv"

LC_ALL=C awk -F '\t' -v allow_dups="$allow_dups" -v partial="$partial" \
    -v all_marked="$all_marked" -v ntopics="$(wc -l <"$work/topics")" \
    -v append_times="$append_times" -v allow_late="$allow_late" '
function example(kind, text) {
  if (++shown[kind] <= 5) printf "verify: %s: %s\n", kind, text > "/dev/stderr"
}
FNR == NR {                      # rows.tsv
  id[$2] = $1 + 0; agg[$2] = $3; marked[$2] = ($4 == "t"); pub_ms[$2] = $5
  rows++; if ($4 == "t") nmarked++
  next
}
{                                # msgs.tsv
  msgs++
  ev = ""
  nh = split($6, hs, ",")
  for (i = 1; i <= nh; i++) if (index(hs[i], "event_id=") == 1) { ev = substr(hs[i], 10); break }
  if (ev == "" || !(ev in id)) {
    phantom++
    example("phantom", $1 "/" $2 "@" $3 " key=" $5 " headers=" $6)
    next
  }
  late = append_times && marked[ev] && pub_ms[ev] != "" && $4 + 0 > pub_ms[ev] + 0
  if (++copies[ev] > 1) {
    dups++
    if (late) {
      late_copies++
      example("late_copies", "id " id[ev] " event " ev ": a copy appended at " $4 \
              " ms, after the row was marked at " pub_ms[ev] " ms")
    }
    next
  }
  distinct++
  if (late) {
    marked_early++
    example("marked_early", "id " id[ev] " event " ev ": marked at " pub_ms[ev] \
            " ms, first appended at " $4 " ms")
  }
  if ($5 != agg[ev]) {
    key_mismatch++
    example("key_mismatch", "id " id[ev] " event " ev ": key \"" $5 "\" aggregate_id \"" agg[ev] "\"")
  }
  ta = $1 SUBSEP agg[ev]
  if (ta in part) {
    if (part[ta] != $2 && !((ta, $2) in splitseen)) {
      splitseen[ta, $2] = 1; split_n++
      example("split", "aggregate \"" agg[ev] "\" in " $1 " partitions " part[ta] " and " $2)
    }
  } else part[ta] = $2
  pa = $1 SUBSEP $2 SUBSEP agg[ev]
  if ((pa in last) && id[ev] < last[pa]) {
    order++
    example("order", "aggregate \"" agg[ev] "\" in " $1 "/" $2 ": id " id[ev] " at offset " $3 \
            " after id " last[pa])
  } else last[pa] = id[ev]
}
END {
  for (ev in id) {
    if (ev in copies) { if (copies[ev] > 1) dup_events++; continue }
    if (marked[ev]) {
      marked_absent++
      example("marked_absent", "id " id[ev] " event " ev " is marked but not in Kafka")
    }
    if (!partial || marked[ev]) {
      lost++
      example("lost", "id " id[ev] " event " ev " aggregate \"" agg[ev] "\"")
    }
  }
  unmarked = rows - nmarked
  bad = lost + marked_absent + key_mismatch + phantom + split_n + order + marked_early
  if (!allow_dups) bad += dups
  if (all_marked) bad += unmarked
  if (!allow_late) bad += late_copies
  printf "verify: rows=%d marked=%d unmarked=%d topics=%d messages=%d distinct=%d lost=%d " \
         "marked_absent=%d key_mismatch=%d phantom=%d split=%d order=%d duplicates=%d " \
         "duplicated_events=%d%s -> %s\n", rows, nmarked, unmarked, ntopics, msgs, distinct, lost,
         marked_absent, key_mismatch, phantom, split_n, order, dups, dup_events,
         append_times ? sprintf(" marked_early=%d late_copies=%d", marked_early, late_copies) : "",
         bad ? "FAILED" : "OK"
  exit bad ? 1 : 0
}' "$work/rows.tsv" "$work/msgs.tsv"
