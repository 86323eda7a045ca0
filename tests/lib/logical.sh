# shellcheck shell=bash
# Helpers for the logical-mode tests and benchmark; source after harness.sh:
#
#   . "$(dirname "$0")/../lib/harness.sh"
#   . "$(dirname "$0")/../lib/logical.sh"
#
# In logical mode events need not leave rows behind (INSERT then DELETE in one transaction,
# pg_logical_emit_message), and Kafka must hold each aggregate's events in *commit* order, which
# no table records. So the tests take what was committed, in commit order, from PostgreSQL
# itself: a second logical slot with the test_decoding plugin (the "truth" slot), created before
# the first event and only ever peeked, so it sees every committed transaction of the database.
# From it, verify.truth gets one row per event (both kinds of outbox row inserts and the
# prefixed messages), numbered in commit order (seq), with the end LSN of its transaction, which
# is what the relay confirms to its own slot. Kafka's messages are loaded into tables of the
# same database, and the comparisons are SQL.
#
#   truth_start                    create the truth slot (before the first event)
#   truth_load                     (re)build verify.truth from the truth slot
#   kafka_load TABLE [TOPIC_RE]    every message of the matching topics -> verify.TABLE
#   verify_logical [--allow-duplicates] [--msgs TABLE]
#                                  verify.truth against verify.TABLE (default msgs): lost,
#                                  phantom, key/topic mismatch, split, commit order, duplicates
#   kafka_messages [TOPIC_RE]      number of messages in the topics (sum of end offsets)
#   missing_before LSN TABLE       prints the number of events whose transaction ended at or
#                                  before LSN and that are absent from verify.TABLE
#   pg_wal_flushed_to LSN          the server has flushed its WAL up to LSN
#
# Their kcat calls honour KCAT_OPTS as the harness's do (e.g. "-F FILE" for SASL_SSL).

TRUTH_SLOT=${TRUTH_SLOT:-verify_truth}
TRUTH_TABLE=${TRUTH_TABLE:-public.outbox}
TRUTH_PREFIX=${TRUTH_PREFIX:-outbox}

# truth_start: the test_decoding slot that records every committed event from now on, and the
# schema for the comparison tables (outside any publication).
truth_start() {
  pg_sql "CREATE SCHEMA IF NOT EXISTS verify" >/dev/null
  pg_sql "SELECT pg_create_logical_replication_slot('$TRUTH_SLOT', 'test_decoding')" >/dev/null
}

# truth_load: verify.truth(seq, event_id, aggregate_type, aggregate_id, style, id, xid,
# end_lsn) from the truth slot's changes so far, without consuming them. style is "row" for an
# INSERT into the outbox table (kept or deleted later; id is the row's id) and "message" for a
# transactional message with the outbox prefix. Only committed transactions are decoded, in
# commit order.
truth_load() {
  # The decoder reads WAL only up to the flush position, and the test cluster commits with
  # synchronous_commit = off: wait until what was written so far is flushed (wal_writer_delay).
  local written
  written=$(pg_sql "SELECT pg_current_wal_insert_lsn()")
  wait_for "WAL flushed to $written" 30 pg_wal_flushed_to "$written"
  # test_decoding quotes text as '...' with '' for a quote; the tests' ids never contain one.
  pg_sql "SET client_min_messages = warning; DROP TABLE IF EXISTS verify.truth;
    CREATE TABLE verify.truth AS
    WITH c AS (
      SELECT * FROM pg_logical_slot_peek_changes('$TRUTH_SLOT', NULL, NULL,
                                                  'include-xids', '1')
             WITH ORDINALITY AS c(lsn, xid, data, n)),
    ends AS (SELECT xid, lsn AS end_lsn FROM c WHERE data LIKE 'COMMIT %'),
    ev AS (
      SELECT n, xid, 'row' AS style,
             substring(data FROM \$re\$ event_id\[uuid\]:'([^']*)'\$re\$) AS event_id,
             substring(data FROM \$re\$ aggregate_type\[text\]:'([^']*)'\$re\$) AS aggregate_type,
             substring(data FROM \$re\$ aggregate_id\[text\]:'([^']*)'\$re\$) AS aggregate_id,
             substring(data FROM \$re\$ id\[bigint\]:([0-9]+)\$re\$)::bigint AS id
      FROM c WHERE data LIKE 'table $TRUTH_TABLE: INSERT: %'
      UNION ALL
      SELECT n, xid, 'message', m->>'event_id', m->>'aggregate_type', m->>'aggregate_id', NULL
      FROM c, LATERAL (SELECT substring(data FROM 'content:(.*)\$')::jsonb AS m) j
      WHERE data LIKE 'message: transactional: 1 prefix: $TRUTH_PREFIX, sz: %')
    SELECT row_number() OVER (ORDER BY ev.n) AS seq, ev.event_id, ev.aggregate_type,
           ev.aggregate_id, ev.style, ev.id, ev.xid, ends.end_lsn
    FROM ev JOIN ends USING (xid);
    CREATE UNIQUE INDEX ON verify.truth (event_id);
    ANALYZE verify.truth"
}

# pg_wal_flushed_to LSN: the server has flushed its WAL up to LSN.
pg_wal_flushed_to() { pg_lsn_ge "$(pg_sql "SELECT pg_current_wal_flush_lsn()")" "$1"; }

# kafka_load TABLE [TOPIC_RE]: verify.TABLE(topic, part, off, ts, key, headers, value, event_id)
# with every message of the topics matching TOPIC_RE (default ^outbox\.event\.), from the
# beginning to the current end. ts is the record timestamp in ms (the broker's append time when
# it runs with log.message.timestamp.type=LogAppendTime); headers is kcat's "k=v,k=v" text.
kafka_load() {
  local table=$1 re=${2:-'^outbox\.event\.'} topic file=$T/kafka_load.$1.tsv
  : >"$file"
  for topic in $(kafka_topics | grep -E -- "$re" || true); do
    kcat ${KCAT_OPTS:-} -C -b "$KAFKA_BROKERS" -t "$topic" -o beginning -e -q -m 30 \
      -f '%t\t%p\t%o\t%T\t%k\t%h\t%s\n' >>"$file" || fail "kcat could not read $topic"
  done
  # CSV with a quote character that never occurs: no field is quoted, backslashes stay as they
  # are, and an empty value (a tombstone) is NULL.
  pg_sql "SET client_min_messages = warning; DROP TABLE IF EXISTS verify.$table;
          CREATE TABLE verify.$table (topic text, part int, off bigint, ts bigint, key text,
                                      headers text,
                                      value text)" >/dev/null
  pg_sql "\\copy verify.$table FROM '$file' WITH (FORMAT csv, DELIMITER E'\\t', QUOTE E'\\x01')"
  pg_sql "ALTER TABLE verify.$table ADD COLUMN event_id text;
          UPDATE verify.$table SET event_id = substring(headers FROM '(?:^|,)event_id=([^,]*)');
          CREATE INDEX ON verify.$table (event_id); ANALYZE verify.$table" >/dev/null
  rm -f "$file"
}

# kafka_messages [TOPIC_RE]: the number of messages in the matching topics (default
# ^outbox\.event\.), from their partitions' end offsets: cheap enough to poll. With
# KAFKA_MESSAGE_TOPICS set (topic names, space-separated), those topics are read without a
# metadata request first.
kafka_messages() {
  local re=${1:-'^outbox\.event\.'} args=() topic p topics
  topics=${KAFKA_MESSAGE_TOPICS:-$(kafka_topics | grep -E -- "$re" || true)}
  for topic in $topics; do
    for p in $(seq 0 $(( ${KAFKA_PARTITIONS:-4} - 1 ))); do args+=(-t "$topic:$p:-1"); done
  done
  if [ ${#args[@]} -eq 0 ]; then echo 0; return 0; fi
  kcat ${KCAT_OPTS:-} -Q -b "$KAFKA_BROKERS" "${args[@]}" 2>/dev/null \
    | awk '$3 == "offset" && $4 >= 0 { n += $4 } END { print n + 0 }'
}

# kafka_messages_at_least N [TOPIC_RE]
kafka_messages_at_least() { [ "$(kafka_messages "${2:-}")" -ge "$1" ]; }

# verify_logical [--allow-duplicates] [--msgs TABLE]: compares verify.truth with the messages in
# verify.TABLE (default msgs); prints examples of each problem and a summary line, fails the
# test on lost, phantom, key_mismatch, topic_mismatch, split, order, and duplicates unless
# allowed. order: within a partition, an aggregate's events (first copies) must follow seq.
verify_logical() {
  local allow_dups=0 msgs=msgs out
  while [ $# -gt 0 ]; do
    case $1 in
      --allow-duplicates) allow_dups=1; shift ;;
      --msgs) msgs=$2; shift 2 ;;
      *) fail "verify_logical: unknown argument $1" ;;
    esac
  done
  # one psql run (temp tables), statement by statement so that every SELECT prints
  cat >"$T/verify_logical.sql" <<EOF
    CREATE TEMP TABLE m AS
      SELECT g.*, t.seq, t.aggregate_id AS t_agg, t.aggregate_type AS t_type,
             row_number() OVER (PARTITION BY g.event_id ORDER BY g.topic, g.part, g.off) AS copy
      FROM verify.$msgs g LEFT JOIN verify.truth t USING (event_id);
    CREATE TEMP TABLE firsts AS
      SELECT *, lag(seq) OVER (PARTITION BY topic, part, key ORDER BY off) AS prev_seq
      FROM m WHERE copy = 1 AND seq IS NOT NULL;
    CREATE TEMP TABLE problems AS
      SELECT 'lost' AS kind, 'seq ' || seq || ' ' || style || ' event ' || event_id
                              || ' aggregate ' || aggregate_id AS example
        FROM verify.truth t WHERE NOT EXISTS (SELECT 1 FROM m WHERE m.event_id = t.event_id)
      UNION ALL
      SELECT 'phantom', topic || '/' || part || '@' || off || ' headers=' || coalesce(headers, '')
        FROM m WHERE seq IS NULL
      UNION ALL
      SELECT 'key_mismatch', 'event ' || event_id || ': key ' || coalesce(key, '<null>')
                             || ', aggregate_id ' || t_agg
        FROM m WHERE seq IS NOT NULL AND key IS DISTINCT FROM t_agg
      UNION ALL
      SELECT 'topic_mismatch', 'event ' || event_id || ' in ' || topic || ', aggregate_type '
                               || t_type
        FROM m WHERE seq IS NOT NULL AND topic <> 'outbox.event.' || t_type
      UNION ALL
      SELECT 'split', 'aggregate ' || key || ' in ' || topic || ' partitions '
                      || string_agg(DISTINCT part::text, ',')
        FROM m WHERE seq IS NOT NULL GROUP BY topic, key HAVING count(DISTINCT part) > 1
      UNION ALL
      SELECT 'order', 'aggregate ' || key || ' in ' || topic || '/' || part || ': seq ' || seq
                      || ' at offset ' || off || ' after seq ' || prev_seq
        FROM firsts WHERE seq < prev_seq;
    SELECT kind || ': ' || example FROM (
      SELECT *, row_number() OVER (PARTITION BY kind) AS k FROM problems) p WHERE k <= 5;
    SELECT 'summary truth=' || (SELECT count(*) FROM verify.truth)
      || ' rows=' || (SELECT count(*) FROM verify.truth WHERE style = 'row')
      || ' messages_emitted=' || (SELECT count(*) FROM verify.truth WHERE style = 'message')
      || ' kafka=' || (SELECT count(*) FROM m)
      || ' distinct=' || (SELECT count(*) FROM m WHERE copy = 1 AND seq IS NOT NULL)
      || ' duplicates=' || (SELECT count(*) FROM m WHERE copy > 1 AND seq IS NOT NULL)
      || ' duplicated_events=' || (SELECT count(DISTINCT event_id) FROM m
                                   WHERE copy > 1 AND seq IS NOT NULL)
      || string_agg(' ' || kind || '=' || n, '' ORDER BY kind)
    FROM (SELECT k.kind, count(p.kind) AS n
          FROM unnest(ARRAY['lost', 'phantom', 'key_mismatch', 'topic_mismatch', 'split',
                            'order']) AS k(kind)
          LEFT JOIN problems p USING (kind) GROUP BY k.kind) c;
EOF
  out=$(pg_sql_file "$T/verify_logical.sql") || fail "verify_logical: the comparison query failed"
  printf '%s\n' "$out" | grep -v '^summary ' | sed 's/^/verify: /' >&2 || true
  local summary bad
  summary=$(printf '%s\n' "$out" | sed -n 's/^summary //p')
  bad=$(printf '%s\n' "$summary" | tr ' ' '\n' \
        | awk -F= -v d="$allow_dups" '$1 ~ /^(lost|phantom|key_mismatch|topic_mismatch|split|order)$/ { b += $2 }
                                      $1 == "duplicates" && !d { b += $2 } END { print b + 0 }')
  if [ "$bad" -eq 0 ]; then
    log "verify: $summary -> OK"
  else
    log "verify: $summary -> FAILED"
    fail "verification failed"
  fi
}

# missing_before LSN TABLE: the number of events whose transaction ended at or before LSN and
# that are not in verify.TABLE.
missing_before() {
  pg_sql "SELECT count(*) FROM verify.truth t WHERE t.end_lsn <= '$1'
          AND NOT EXISTS (SELECT 1 FROM verify.$2 g WHERE g.event_id = t.event_id)"
}

# logical_slot_name SOURCE: the relay's default slot name for SOURCE.
logical_slot_name() { echo "outbox_relay_${1//-/_}"; }

# logical_writer TYPE AGGREGATES ROWS DELETED MESSAGES PAUSE [DELETED_AGGREGATE_TYPE]: until
# $T/stop-writer exists, commits every PAUSE seconds one transaction of the three outbox styles:
# ROWS kept rows, DELETED rows deleted again before COMMIT (aggregate type
# DELETED_AGGREGATE_TYPE, default "order") and MESSAGES emit_message() events, all of event type
# TYPE over AGGREGATES aggregates (payload: tx, g, style). A failed transaction is written to
# $T/writer-failed and ends it with status 1.
logical_writer() {
  local type=$1 aggs=$2 rows=$3 del=$4 msgs=$5 pause=$6 del_type=${7:-order} tx=0
  while [ ! -e "$T/stop-writer" ]; do
    tx=$(( tx + 1 ))
    pg_sql "BEGIN;
      INSERT INTO public.outbox (aggregate_type, aggregate_id, event_type, payload)
        SELECT 'order', 'agg-' || (g % $aggs), '$type', jsonb_build_object('tx', $tx, 'g', g, 'style', 'row')
        FROM generate_series(1, $rows) g;
      INSERT INTO public.outbox (aggregate_type, aggregate_id, event_type, payload)
        SELECT '$del_type', 'agg-' || (g % $aggs), '$type', jsonb_build_object('tx', $tx, 'g', g, 'style', 'deleted')
        FROM generate_series($rows + 1, $rows + $del) g;
      DELETE FROM public.outbox WHERE txid = pg_current_xact_id() AND payload->>'style' = 'deleted';
      SELECT count(public.outbox_emit_message('order', 'agg-' || (g % $aggs), '$type',
                   jsonb_build_object('tx', $tx, 'g', g, 'style', 'message')))
        FROM generate_series($rows + $del + 1, $rows + $del + $msgs) g;
      COMMIT;" >/dev/null || { echo "writer transaction $tx failed" >"$T/writer-failed"; return 1; }
    sleep "$pause"
  done
}
