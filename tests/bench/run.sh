#!/usr/bin/env bash
# `make bench`: outbox-relay side by side with Debezium's Outbox Event Router and with the
# ceiling of logical decoding, on one throwaway PostgreSQL and one Kafka broker (the harness's),
# with one workload. Not part of `make check`. Three phases (PHASES, default all three):
#
#   drain    a backlog of EVENTS (1,000,000) events, ~300-byte JSON payloads over AGGREGATES
#            (10,000) aggregates, written in transactions of TX_EVENTS (1,000) rows while nothing
#            reads it, then drained by each system in turn, RUNS (3) times, the order rotated
#            from run to run:
#              relay-poll          outbox-relay, mode = "poll", format = "json"
#              relay-logical-json  outbox-relay, mode = "logical", format = "json"
#              relay-logical-avro  outbox-relay, mode = "logical", format = "avro" (single-object
#                                  framing, tests/bench/bench_event.avsc, which the payload fits)
#              debezium            Debezium Server with the Outbox Event Router
#                                  (tests/bench/debezium/README.md)
#              pg_recvlogical      decodes the same WAL with pgoutput into /dev/null: the ceiling
#                                  of one slot on this machine, no Kafka
#            A system is timed from its start until its topic holds EVENTS records (the sum of
#            the partitions' high watermarks; records there are acknowledged with acks=all), and
#            pg_recvlogical until it reaches the WAL position after the last COMMIT. Also: the
#            time from the first record to the last ("steady" rate, which leaves out start-up,
#            the JVM's for Debezium), CPU seconds of the system's process, CPU seconds of
#            PostgreSQL's processes over the same time (decoding runs in the server's walsender),
#            and the process's peak RSS (VmHWM).
#   latency  offered loads of LATENCY_RATES (1000 5000 10000) events/s for LATENCY_SECONDS (30)
#            from LATENCY_CLIENTS (8) pgbench clients (tests/bench/latency.pgbench: one event a
#            transaction, stamped with the clock when it is inserted), and a consumer that
#            reads the topic as the records arrive: p50 / p99 / p99.9 of insert-to-consumer, for
#            relay-poll, relay-logical-json and debezium, each started and streaming (ten
#            warm-up events seen in Kafka) before the load begins; LATENCY_RUNS (3) runs of
#            each, interleaved. The latency topics are stamped LogAppendTime by the broker,
#            which splits each latency at the append (insert to append, append to consumer).
#   scaling  relay-logical-json and relay-poll draining backlogs of SCALING_EVENTS (100000
#            1000000 5000000) events; and one daemon with 1, 2 and 4 sources (SCALING_SOURCES),
#            each its own outbox table, draining SOURCES_EVENTS (1,000,000) events in all,
#            split evenly.
#
# Results go to BENCH_OUT (build/bench): results.csv (one line a measurement), results.md (the
# tables of medians, as in README "Performance") and, with gnuplot, drain.png, latency.png and
# scaling.png (tests/bench/report.sh makes these from the CSV, and can be run on its own).
#
# The database runs with the harness's settings (fsync off, shared_buffers 128MB) plus PG_CONF,
# and the outbox tables without autovacuum unless OUTBOX_AUTOVACUUM=true.
#
#   make bench                                   # everything, 27-45 minutes on 2 cores
#   PHASES=drain RUNS=1 EVENTS=100000 bash tests/bench/run.sh
#   SYSTEMS="relay-logical-json pg_recvlogical" PHASES=drain bash tests/bench/run.sh
#   PHASES=scaling SCALING_SOURCES= PG_CONF='shared_buffers = 1GB' make bench
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
. "$BENCH_DIR/../lib/harness.sh"
. "$BENCH_DIR/lib/latency.sh"
. "$BENCH_DIR/lib/debezium.sh"
. "$BENCH_DIR/lib/workload.sh"

PHASES=${PHASES:-drain latency scaling}
SYSTEMS=${SYSTEMS:-relay-poll relay-logical-json relay-logical-avro debezium pg_recvlogical}
LATENCY_SYSTEMS=${LATENCY_SYSTEMS:-relay-poll relay-logical-json debezium}
RUNS=${RUNS:-3}
EVENTS=${EVENTS:-1000000}
LATENCY_RATES=${LATENCY_RATES:-1000 5000 10000}
LATENCY_SECONDS=${LATENCY_SECONDS:-30}
LATENCY_RUNS=${LATENCY_RUNS:-3}
RELAY_KAFKA=${RELAY_KAFKA:-}    # more lines for the relay's kafka group, e.g. 'linger_ms = 1;'
# The broker's JVM as Kafka's own kafka-server-start.sh runs it (KAFKA_HEAP_OPTS and
# KAFKA_JVM_PERFORMANCE_OPTS of 3.9), not the tests' small serial-collector heap, whose 20-70 ms
# pauses every few seconds showed up in every system's latency tail.
export KAFKA_JVM_OPTS=${KAFKA_JVM_OPTS:--Xmx1G -Xms1G -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
-XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent}
SCALING_EVENTS=${SCALING_EVENTS:-100000 1000000 5000000}
# the outbox tables' autovacuum (off: its ANALYZE and VACUUM records would be WAL in the middle
# of a logical drain) and more postgresql.conf lines (e.g. PG_CONF='shared_buffers = 1GB')
OUTBOX_AUTOVACUUM=${OUTBOX_AUTOVACUUM:-false}
PG_CONF=${PG_CONF:-}
SCALING_SOURCES=${SCALING_SOURCES:-1 2 4}
SOURCES_EVENTS=${SOURCES_EVENTS:-1000000}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-1800}
BENCH_OUT=${BENCH_OUT:-$REPO/build/bench}
CSV=$BENCH_OUT/results.csv
DBZ_SLOT=bench_debezium
DBZ_PUB=bench_debezium
RAW=bench_raw
SCHEMA=$BENCH_DIR/bench_event.avsc
# every outbox-relay source writes to bench.<source>.<aggregate_type>, Debezium to
# bench.dbz.<aggregate_type>: each system has topics of its own
RELAY_TOPIC='bench.{source}.{aggregate_type}'

mkdir -p "$BENCH_OUT"
echo "phase,system,variant,run,events,ms,first_ms,events_per_s,steady_events_per_s,cpu_s,server_cpu_s,peak_rss_kb,count,p50_ms,p99_ms,p999_ms,offered,achieved,append_p50_ms,append_p99_ms,fetch_p50_ms,fetch_p99_ms" >"$CSV"

# csv FIELD=VALUE...: appends one line to the CSV, empty for the fields not given.
csv() {
  local kv line="" f
  declare -A row=()
  for kv in "$@"; do row[${kv%%=*}]=${kv#*=}; done
  for f in phase system variant run events ms first_ms events_per_s steady_events_per_s cpu_s \
           server_cpu_s peak_rss_kb count p50_ms p99_ms p999_ms offered achieved \
           append_p50_ms append_p99_ms fetch_p50_ms fetch_p99_ms; do
    line+="${row[$f]:-},"
  done
  echo "${line%,}" >>"$CSV"
}

# --- process accounting --------------------------------------------------------------------

CLK_TCK=$(getconf CLK_TCK)

# proc_cpu_ms PID: user + system CPU of PID (all its threads) so far, in ms.
proc_cpu_ms() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
  stat=${stat##*) }    # the fields after the command name, which may hold spaces
  # shellcheck disable=SC2086
  set -- $stat          # $12 utime, $13 stime (fields 14 and 15 of stat(5))
  echo $(( (${12} + ${13}) * 1000 / CLK_TCK ))
}

proc_vmhwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

# proc_children_cpu_ms PID: CPU of PID's children that have exited and been waited for.
proc_children_cpu_ms() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
  stat=${stat##*) }
  # shellcheck disable=SC2086
  set -- $stat          # $14 cutime, $15 cstime (fields 16 and 17 of stat(5))
  echo $(( (${14} + ${15}) * 1000 / CLK_TCK ))
}

# pg_cpu_total: CPU ms of PostgreSQL so far: the postmaster, its live processes, and those it
# has reaped (a walsender ends with its client, before it could be read).
pg_cpu_total() {
  local pm p total
  pm=$(head -n 1 "$PG_DIR/data/postmaster.pid")
  total=$(( $(proc_cpu_ms "$pm") + $(proc_children_cpu_ms "$pm") ))
  for p in $(pgrep -P "$pm"); do total=$(( total + $(proc_cpu_ms "$p") )); done
  echo "$total"
}

# pg_cpu_snapshot FILE / pg_cpu_since FILE: CPU ms PostgreSQL used in between (a process that
# was running at the snapshot and exits before the end counts from its start: the difference of
# the two totals leaves that part out again).
pg_cpu_snapshot() { pg_cpu_total >"$1"; }
pg_cpu_since() { echo $(( $(pg_cpu_total) - $(cat "$1") )); }

# --- the systems ---------------------------------------------------------------------------

# source name, slot and topic prefix of each outbox-relay system
relay_source() {
  case $1 in
    relay-poll) echo poll ;; relay-logical-json) echo lj ;; relay-logical-avro) echo la ;;
    *) fail "relay_source: $1 is not an outbox-relay system" ;;
  esac
}

topic_of() {  # topic_of SYSTEM AGGREGATE_TYPE
  case $1 in
    debezium) echo "bench.dbz.$2" ;;
    *) echo "bench.$(relay_source "$1").$2" ;;
  esac
}

# relay_bench_conf SYSTEM FILE [SOURCE_LINES]: one source with the product's defaults, except
# for the topic template (and poll_interval_ms, which relay_conf would set to 50).
relay_bench_conf() {
  local sys=$1 out=$2 extra="topic = \"$RELAY_TOPIC\"; ${3:-}"
  case $sys in
    relay-poll) relay_conf -o "$out" -s poll -k "$RELAY_KAFKA" -x "poll_interval_ms = 100; $extra" ;;
    relay-logical-json) relay_conf -o "$out" -s lj -m logical -k "$RELAY_KAFKA" -x "$extra" ;;
    relay-logical-avro)
      relay_conf -o "$out" -s la -m logical -k "$RELAY_KAFKA" \
        -x "format = \"avro\"; framing = \"single-object\"; $extra" ;;
  esac
}

# system_start SYSTEM TAG: starts SYSTEM (not pg_recvlogical); sets SYS_PID.
system_start() {
  local sys=$1 tag=$2
  case $sys in
    debezium)
      debezium_start "$T/dbz" "$T/debezium-$tag.log"
      SYS_PID=$DEBEZIUM_PID ;;
    *)
      relay_bench_conf "$sys" "$T/$sys.conf"
      relay_start "$T/$sys.conf" "$T/$sys-$tag.log"
      SYS_PID=$RELAY_PID ;;
  esac
}

system_stop() {
  case $1 in
    debezium) debezium_stop ;;
    *) relay_stop ;;
  esac
}

slot_of() {
  case $1 in
    relay-logical-json) echo outbox_relay_lj ;; relay-logical-avro) echo outbox_relay_la ;;
    debezium) echo "$DBZ_SLOT" ;;
  esac
}

slot_inactive() { ! pg_slot_active "$1"; }

# slots_to_now: every slot the systems own (they are all stopped) made again at the current
# end of WAL, so that no system decodes what was written for another phase or run, and each
# starts as pg_recvlogical's new slot does. (pg_replication_slot_advance would move a slot's
# confirmed position but could leave its restart_lsn behind: the first drain after it then
# spent ~4 s decoding the previous run's WAL before its first event.)
slots_to_now() {
  local s
  for s in outbox_relay_lj outbox_relay_la "$DBZ_SLOT"; do
    pg_slot_exists "$s" || continue
    wait_for "slot $s released" 60 slot_inactive "$s"
    pg_sql "SELECT pg_drop_replication_slot('$s')" >/dev/null
    pg_sql "SELECT pg_create_logical_replication_slot('$s', 'pgoutput')" >/dev/null
  done
  # the relay refuses a slot that starts past the position it recorded (events would be
  # skipped) until its row is deleted, the documented way to accept such a gap
  pg_sql "DELETE FROM outbox_relay_slots" >/dev/null
}

# setup: servers, the outbox table, the Avro schema, every slot and publication (the relay's
# logical sources create theirs on a first start), Debezium's configuration.
setup() {
  relay_require
  debezium_fetch
  pg_start
  if [ -n "$PG_CONF" ]; then
    printf '%s\n' "$PG_CONF" >>"$PG_DIR/data/postgresql.conf"
    pg_restart
  fi
  kafka_start
  pg_migrate
  # autovacuum would analyze the table right after a load: WAL after the last COMMIT that every
  # logical reader would have to pass
  pg_sql "ALTER TABLE outbox SET (autovacuum_enabled = $OUTBOX_AUTOVACUUM)"
  relay_bench_conf relay-logical-avro "$T/schema.conf"
  "$OUTBOX_RELAY" schema add -c "$T/schema.conf" --event-type BenchEvent "$SCHEMA" >/dev/null
  local sys
  for sys in relay-logical-json relay-logical-avro; do
    relay_bench_conf "$sys" "$T/$sys.conf"
    relay_start "$T/$sys.conf" "$T/$sys-setup.log"
    wait_for "$sys created its slot" 60 log_has "$T/$sys-setup.log" \
      "source \"$(relay_source "$sys")\": active"
    relay_stop
  done
  debezium_prepare "$DBZ_SLOT" "$DBZ_PUB"
  debezium_conf "$T/dbz" "$DBZ_SLOT" "$DBZ_PUB" bench.dbz. "${DEBEZIUM_PROPERTIES:-}"
}

# --- the workload --------------------------------------------------------------------------

# fresh_backlog TYPE N: empties the outbox, moves the slots past that, a new pg_recvlogical
# slot, creates the topics of TYPE, loads N events; sets END_LSN.
fresh_backlog() {
  local type=$1 n=$2 sys start
  pg_sql "TRUNCATE outbox"
  slots_to_now
  ! pg_slot_exists "$RAW" || pg_sql "SELECT pg_drop_replication_slot('$RAW')" >/dev/null
  pg_sql "SELECT pg_create_logical_replication_slot('$RAW', 'pgoutput')" >/dev/null
  for sys in relay-poll relay-logical-json relay-logical-avro debezium; do
    kafka_create_topic "$(topic_of "$sys" "$type")"
  done
  start=$(now_ms)
  END_LSN=$(load outbox "$type" "$n")
  log "loaded $n events of $type in $(( $(now_ms) - start )) ms (WAL end $END_LSN)"
}

# --- measuring -----------------------------------------------------------------------------

# drain_system PHASE SYSTEM VARIANT RUN TYPE N: times SYSTEM draining the N events of TYPE
# (fresh_backlog first) and appends a line to the CSV.
drain_system() {
  local phase=$1 sys=$2 variant=$3 run=$4 type=$5 n=$6 start ms first_ms end_ms cpu rss srv
  local topic count
  pg_cpu_snapshot "$T/pgcpu"
  if [ "$sys" = pg_recvlogical ]; then
    local t0 t1
    times >"$T/times"       # in this shell: `times` in a $(...) would see the subshell's
    t0=$(children_cpu_ms "$T/times")
    start=$(now_ms)
    "$PG_BIN/pg_recvlogical" -d "$PG_DSN" --slot "$RAW" --start --no-loop \
      -o proto_version=1 -o publication_names=outbox_relay_lj -o messages=true \
      --endpos="$END_LSN" -f /dev/null 2>"$T/recvlogical.log" \
      || { cat "$T/recvlogical.log" >&2; fail "pg_recvlogical failed"; }
    ms=$(( $(now_ms) - start ))
    times >"$T/times"
    t1=$(children_cpu_ms "$T/times")
    srv=$(pg_cpu_since "$T/pgcpu")
    csv phase="$phase" system="$sys" variant="$variant" run="$run" events="$n" ms="$ms" \
      events_per_s=$(( n * 1000 / ms )) cpu_s="$(ms_to_s $(( t1 - t0 )))" \
      server_cpu_s="$(ms_to_s "$srv")"
    log "$phase $variant run $run: $sys $(( n * 1000 / ms )) events/s ($ms ms)"
    return
  fi
  topic=$(topic_of "$sys" "$type")
  bench_count_start "$topic" "$n" "$DRAIN_TIMEOUT"
  start=$(now_ms)
  system_start "$sys" "$phase-$variant-$run"
  bench_count_wait
  first_ms=$COUNT_FIRST_MS end_ms=$COUNT_END_MS count=$COUNT_RECORDS
  cpu=$(proc_cpu_ms "$SYS_PID"); rss=$(proc_vmhwm_kb "$SYS_PID")
  srv=$(pg_cpu_since "$T/pgcpu")
  system_stop "$sys"
  ms=$(( end_ms - start ))
  csv phase="$phase" system="$sys" variant="$variant" run="$run" events="$n" ms="$ms" \
    first_ms=$(( first_ms - start )) events_per_s=$(( n * 1000 / ms )) \
    steady_events_per_s=$(( n * 1000 / (end_ms - first_ms > 0 ? end_ms - first_ms : 1) )) \
    cpu_s="$(ms_to_s "$cpu")" server_cpu_s="$(ms_to_s "$srv")" peak_rss_kb="$rss" count="$count"
  log "$phase $variant run $run: $sys $(( n * 1000 / ms )) events/s ($ms ms, first record" \
      "after $(( first_ms - start )) ms, CPU $(ms_to_s "$cpu") s, peak RSS $(( rss / 1024 )) MiB)"
}

ms_to_s() { awk -v ms="$1" 'BEGIN { printf "%.2f", ms / 1000 }'; }
kv() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }

# children_cpu_ms FILE: user + system CPU of the waited-for children, from `times` in FILE.
children_cpu_ms() {
  awk 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/)
                         printf "%d\n", (u[1] * 60 + u[2] + s[1] * 60 + s[2]) * 1000 }' "$1"
}

# --- phases --------------------------------------------------------------------------------

phase_drain() {
  local run i sys systems
  read -r -a systems <<<"$SYSTEMS"
  for run in $(seq 1 "$RUNS"); do
    fresh_backlog "d$run" "$EVENTS"
    # The order is rotated by one each run and reversed in even runs, so that no system
    # always follows the same one (a system draining right after another meets its aftermath:
    # Kafka writing back a gigabyte of log segments, a JVM's exit). relay-poll's marks are WAL
    # after END_LSN: a logical reader drained after it reaches its last event before that WAL,
    # and fresh_backlog moves every slot past it before the next run.
    for i in $(seq 0 $(( ${#systems[@]} - 1 ))); do
      [ $(( run % 2 )) -eq 1 ] || i=$(( ${#systems[@]} - 1 - i ))
      sys=${systems[$(( (i + run - 1) % ${#systems[@]} ))]}
      drain_system drain "$sys" "$EVENTS" "$run" "d$run" "$EVENTS"
    done
  done
}

phase_latency() {
  local sys rate type topic warm out
  # With synchronous_commit = off (the harness's default, for fast loads) the WAL writer
  # flushes every 200 ms, and logical decoding reads only flushed WAL: that would add ~100 ms
  # to logical mode and Debezium, and nothing to poll mode. Commits are durable here, as in
  # production.
  latency_sync_commit on
  local run
  for (( run = 1; run <= LATENCY_RUNS; run++ )); do
  for rate in $LATENCY_RATES; do
    for sys in $LATENCY_SYSTEMS; do
      type=l${rate}r$run
      pg_sql "TRUNCATE outbox"
      slots_to_now
      topic=$(topic_of "$sys" "$type"); warm=$(topic_of "$sys" "w${rate}r$run")
      kafka_create_topic "$topic"; kafka_create_topic "$warm"
      # the broker's append time splits each latency in two (bench-consumer's append_/fetch_)
      kafka_topic_config "$topic" message.timestamp.type=LogAppendTime
      [ "$sys" != debezium ] \
        || debezium_conf "$T/dbz" "$DBZ_SLOT" "$DBZ_PUB" bench.dbz. \
             "debezium.source.poll.interval.ms=${DEBEZIUM_POLL_MS:-10}
${DEBEZIUM_PROPERTIES:-}"
      system_start "$sys" "latency-$rate-$run"
      pg_sql "INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload)
              SELECT 'w${rate}r$run', 'agg-' || g, 'BenchEvent', '{}' FROM generate_series(1, 10) g"
      bench_consumer_count "$warm" 10 120 >/dev/null || fail "$sys: warm-up events not seen"
      out=$T/latency-$sys-$rate-$run
      latency_run "$rate" "$LATENCY_SECONDS" "$type" "$topic" "$out"
      system_stop "$sys"
      csv phase=latency system="$sys" variant="$rate" run="$run" \
        events="$(latency_field count "$out")" count="$(latency_field count "$out")" \
        p50_ms="$(latency_field p50_ms "$out")" p99_ms="$(latency_field p99_ms "$out")" \
        p999_ms="$(latency_field p999_ms "$out")" offered="$rate" \
        achieved="$(latency_field achieved "$out")" \
        append_p50_ms="$(latency_field append_p50_ms "$out")" \
        append_p99_ms="$(latency_field append_p99_ms "$out")" \
        fetch_p50_ms="$(latency_field fetch_p50_ms "$out")" \
        fetch_p99_ms="$(latency_field fetch_p99_ms "$out")"
      log "latency $sys at $rate/s, run $run: $(cat "$out")"
    done
  done
  done
  latency_sync_commit off
  [[ " $LATENCY_SYSTEMS " != *" debezium "* ]] \
    || debezium_conf "$T/dbz" "$DBZ_SLOT" "$DBZ_PUB" bench.dbz. "${DEBEZIUM_PROPERTIES:-}"
}

# sources_conf FILE MODE N: one daemon, N sources over tables outbox_s1..outbox_sN.
sources_conf() {
  local out=$1 mode=$2 n=$3 i
  {
    echo "kafka = { brokers = \"$KAFKA_BROKERS\"; };"
    echo "log = { level = \"info\"; };"
    echo "sources = ("
    for i in $(seq 1 "$n"); do
      [ "$i" -eq 1 ] || echo ","
      echo "{ name = \"${mode:0:1}s$i\"; dsn = \"$PG_DSN\"; mode = \"$mode\";"
      echo "  table = \"public.outbox_s$i\"; topic = \"$RELAY_TOPIC\"; }"
    done
    echo ");"
  } >"$out"
}

phase_scaling() {
  local n run=1 sys
  for n in $SCALING_EVENTS; do
    fresh_backlog "s$n" "$n"
    # logical first: relay-poll's marks would be WAL for the logical reader to pass
    for sys in relay-logical-json relay-poll; do
      drain_system scaling "$sys" "$n" "$run" "s$n" "$n"
    done
  done

  local k i mode per started first_ms end_ms ms line cpu rss srv
  for k in $SCALING_SOURCES; do
    per=$(( SOURCES_EVENTS / k ))
    for i in $(seq 1 "$k"); do
      pg_migrate --table "outbox_s$i"
      pg_sql "TRUNCATE outbox_s$i; ALTER TABLE outbox_s$i SET (autovacuum_enabled = $OUTBOX_AUTOVACUUM)"
    done
    for mode in logical poll; do
      # logical sources create their slots on a first start, before the load
      sources_conf "$T/sources-$mode-$k.conf" "$mode" "$k"
      if [ "$mode" = logical ]; then
        relay_start "$T/sources-$mode-$k.conf" "$T/sources-setup-$k.log"
        wait_for "$k logical sources active" 60 sources_active "$T/sources-setup-$k.log" "$k"
        relay_stop
      fi
    done
    for i in $(seq 1 "$k"); do
      for mode in logical poll; do kafka_create_topic "bench.${mode:0:1}s$i.k$k"; done
      load "outbox_s$i" "k$k" "$per" >/dev/null
    done
    for mode in logical poll; do
      rm -f "$T"/count-*
      for i in $(seq 1 "$k"); do
        bench_consumer_count "bench.${mode:0:1}s$i.k$k" "$per" "$DRAIN_TIMEOUT" >"$T/count-$i" &
      done
      pg_cpu_snapshot "$T/pgcpu"
      started=$(now_ms)
      relay_start "$T/sources-$mode-$k.conf" "$T/sources-$mode-$k.log"
      first_ms="" end_ms=0
      wait_for "$mode: $k sources drained" "$DRAIN_TIMEOUT" all_counted "$k"
      for i in $(seq 1 "$k"); do
        line=$(cat "$T/count-$i")
        [ -n "$first_ms" ] && [ "$(kv first_ms "$line")" -ge "$first_ms" ] \
          || first_ms=$(kv first_ms "$line")
        [ "$(kv end_ms "$line")" -le "$end_ms" ] || end_ms=$(kv end_ms "$line")
      done
      cpu=$(proc_cpu_ms "$RELAY_PID"); rss=$(proc_vmhwm_kb "$RELAY_PID")
      srv=$(pg_cpu_since "$T/pgcpu")
      relay_stop
      ms=$(( end_ms - started ))
      csv phase=sources system="relay-$mode" variant="$k" run=1 events=$(( per * k )) ms="$ms" \
        first_ms=$(( first_ms - started )) events_per_s=$(( per * k * 1000 / ms )) \
        steady_events_per_s=$(( per * k * 1000 / (end_ms - first_ms) )) \
        cpu_s="$(ms_to_s "$cpu")" server_cpu_s="$(ms_to_s "$srv")" peak_rss_kb="$rss"
      log "sources $k, $mode: $(( per * k * 1000 / ms )) events/s, peak RSS $(( rss / 1024 )) MiB"
    done
    # the next round starts its slots afresh (and slots left idle would keep WAL); the relay's
    # record of them goes too, or it would refuse the new slots as moved behind its back
    for i in $(seq 1 "$k"); do
      pg_sql "SELECT pg_drop_replication_slot('outbox_relay_ls$i')" >/dev/null
      pg_sql "DROP PUBLICATION outbox_relay_ls$i" >/dev/null
    done
    pg_sql "DELETE FROM outbox_relay_slots" >/dev/null
  done
}

sources_active() { [ "$(log_count "$1" 'source "ls[0-9]+": active')" -ge "$2" ]; }

# all_counted K: every one of the K background counters has written its line.
all_counted() {
  local i
  for i in $(seq 1 "$1"); do grep -q end_ms= "$T/count-$i" 2>/dev/null || return 1; done
}

# --- main ----------------------------------------------------------------------------------

setup
log "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)," \
    "$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)"
for phase in $PHASES; do
  log "== phase $phase"
  "phase_$phase"
done
bash "$BENCH_DIR/report.sh" "$CSV" "$BENCH_OUT"
