# shellcheck shell=bash
# The benchmarks' workload (tests/bench/run.sh, tests/bench/poll_statements.sh), sourced after
# tests/lib/harness.sh: PAYLOAD_SQL, and load TABLE TYPE N. AGGREGATES (10,000) and TX_EVENTS
# (1,000) size it.
AGGREGATES=${AGGREGATES:-10000}
TX_EVENTS=${TX_EVENTS:-1000}

# The payload (~300 bytes of JSON) fits tests/bench/bench_event.avsc, so the Avro drain encodes
# the very rows the others send as they are.
PAYLOAD_SQL="jsonb_build_object('seq', g, 'at', '2026-01-01T00:00:00.250Z',
               'customer_id', md5(g::text)::uuid, 'amount', round((g % 100000) / 100.0, 2)::text,
               'status', (ARRAY['OPEN', 'PAID', 'SHIPPED'])[1 + g % 3],
               'tags', jsonb_build_array('t' || (g % 10), 'bench'),
               'note', CASE WHEN g % 2 = 0 THEN NULL ELSE 'n' || g END,
               'pad', repeat('x', 120))"

# load TABLE TYPE N: N events of aggregate type TYPE into TABLE in transactions of TX_EVENTS
# rows, then ANALYZE; prints the WAL insert position after that.
load() {
  local table=$1 type=$2 n=$3 first last
  for (( first = 1; first <= n; first += TX_EVENTS )); do
    last=$(( first + TX_EVENTS - 1 )); [ "$last" -le "$n" ] || last=$n
    printf "INSERT INTO %s (aggregate_type, aggregate_id, event_type, payload)
  SELECT '%s', 'agg-' || (g %% %d), 'BenchEvent', %s FROM generate_series(%d, %d) g;\n" \
      "$table" "$type" "$AGGREGATES" "$PAYLOAD_SQL" "$first" "$last"
  done >"$T/load.sql"
  # the statistics autovacuum would gather after such a load (it is off for this table), so
  # that the poll query is planned for the table as it is
  echo "ANALYZE $table;" >>"$T/load.sql"
  echo "SELECT pg_current_wal_insert_lsn();" >>"$T/load.sql"
  pg_sql_file "$T/load.sql" | tail -n 1
}
