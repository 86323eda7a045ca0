# shellcheck shell=bash
# Latency and throughput measuring for outbox-relay's benchmarks (issue 8), sourced after
# tests/lib/harness.sh (which sets $T, $PG_*, $KAFKA_BROKERS and provides wait_for, log, fail):
#
#   . "$REPO/tests/bench/lib/latency.sh"
#   pg_start; kafka_start; pg_migrate
#   kafka_create_topic outbox.event.lat1
#   relay_conf -o "$T/relay.conf" -s bench -x 'poll_interval_ms = 10;'
#   relay_start "$T/relay.conf" "$T/relay.log"
#   latency_run 1000 10 lat1 outbox.event.lat1 "$T/lat-1000.txt"
#
# Both measurements read Kafka through tests/tools/bench_consumer.c ($BENCH_CONSUMER; `make`
# builds it as build/tools/bench-consumer, and the Makefile's TEST_ENV sets the variable).
#
#   latency_run RATE SECONDS TYPE TOPIC OUTFILE
#       Latency under load: offered load RATE events/s for about SECONDS (after LATENCY_WARMUP,
#       5 s, of the same load that is not measured), from LATENCY_CLIENTS
#       (8) concurrent pgbench clients each inserting one event per transaction
#       (tests/bench/latency.pgbench, -M prepared, aggregate type TYPE), and `bench-consumer
#       latency` on TOPIC measuring, per message, the time from the insert to the consumer. The
#       system under test (relay, Debezium) must already be running and TOPIC exist (empty)
#       before the call.
#       Writes one line to OUTFILE:
#         count=N p50_ms=X p99_ms=X p999_ms=X max_ms=X missing_marker=N warmup=N
#         [append_p50_ms=X append_p99_ms=X fetch_p50_ms=X fetch_p99_ms=X] offered=RATE
#         achieved=TPS lag_avg_ms=X lag_max_ms=X skipped=N kept_up=yes|no
#       Returns 1 (OUTFILE written all the same) if fewer messages than events written arrived
#       before the consumer's idle timeout (LATENCY_IDLE_TIMEOUT, 30 s); fails the test if
#       pgbench fails or the consumer is still receiving after LATENCY_DRAIN_TIMEOUT (600 s).
#       LATENCY_PGBENCH_OPTS: more pgbench options.
#   bench_consumer_count TOPIC N TIMEOUT_S
#       Waits until TOPIC holds N records; prints the tool's line
#         first_ms=<epoch ms> end_ms=<epoch ms> count=<records>
#       (when the first record and the N-th were seen in Kafka; first_ms is only an upper
#       bound if records were there when it started, which it then logs). Fails the test after
#       TIMEOUT_S. Can run in a background subshell, several at once.
#   bench_count_start TOPIC N TIMEOUT_S / bench_count_wait
#       The same in the background: start it before the system under test (so first_ms is the
#       first record's arrival, not the time it was looked at), then wait; bench_count_wait sets
#       COUNT_FIRST_MS, COUNT_END_MS and COUNT_RECORDS.
#   latency_field KEY FILE
#       The value of KEY=... in FILE's (last) summary line, e.g. latency_field p99_ms "$out".
#   latency_sync_commit on|off
#       Sets PostgreSQL's synchronous_commit for every session (ALTER SYSTEM, reload). The
#       harness runs with it off. A walsender decodes only WAL that has been flushed, and with
#       synchronous_commit off a commit is flushed by the WAL writer, every wal_writer_delay
#       (200 ms): logical decoding (the relay's logical mode, Debezium) then sees a commit up to
#       200 ms late, ~100 ms on average, while poll mode sees it as soon as it is visible. Call
#       `latency_sync_commit on` before latency runs that compare the modes (with the harness's
#       fsync = off a flush costs a write(), no disk sync).
#
# All waits are conditions polled with deadlines (wait_for) or the tool's own timeouts.

BENCH_CONSUMER=${BENCH_CONSUMER:-$REPO/build/tools/bench-consumer}
LATENCY_SCRIPT=${LATENCY_SCRIPT:-$REPO/tests/bench/latency.pgbench}

# bench_require: the measuring tool and pgbench are there.
bench_require() {
  [ -x "$BENCH_CONSUMER" ] \
    || fail "bench-consumer not found at $BENCH_CONSUMER: make build/tools/bench-consumer"
  pg_find_bin
  [ -x "$PG_BIN/pgbench" ] \
    || fail "pgbench not found in $PG_BIN (Debian: part of postgresql-NN, or set PG_BIN)"
}

# latency_field KEY FILE: prints the value of KEY in the last line of FILE holding KEY=.
latency_field() {
  grep -o "\(^\| \)$1=[^ ]*" "$2" | tail -n 1 | sed 's/^ *[^=]*=//'
}

# The conninfo pgbench uses: the harness's database and role, as pg_sql connects (the cluster
# trusts loopback connections, so the DSN's password is left out and never reaches a log).
latency_pgbench_dsn() {
  printf 'host=127.0.0.1 port=%s dbname=%s user=%s' "$PG_PORT" "$PG_DB" "$PG_USER"
}

# The tools run as background jobs of the calling shell and are reaped only by the `wait` that
# follows, so their pid cannot be handed to another process meanwhile: proc_alive/proc_gone (a
# zombie counts as gone) are safe on it, and unlike my_child they also work when these
# functions run in a subshell ($(bench_consumer_count ...)).

# latency_ready FILE PID: the consumer has said "ready" (fails the test if it died first).
latency_ready() {
  if grep -qx ready "$1" 2>/dev/null; then return 0; fi
  proc_alive "$2" || { cat "$1" >&2; fail "bench-consumer latency exited before it was ready"; }
  return 1
}

latency_run() {
  [ $# -eq 5 ] || fail "usage: latency_run RATE SECONDS TYPE TOPIC OUTFILE"
  local rate=$1 secs=$2 type=$3 topic=$4 out=$5
  local clients=${LATENCY_CLIENTS:-8} idle=${LATENCY_IDLE_TIMEOUT:-30}
  local tag=lat-$type-$rate pid rc=0 per_client n summary pgout achieved lag_avg lag_max
  local skipped processed kept_up=yes
  bench_require
  # Every client runs a fixed number of transactions (-t) under the rate limit (-R), rather
  # than -T SECONDS: under -R pgbench schedules transactions as a Poisson process, so with -T
  # the number of events written would vary from run to run, and the consumer has to know how
  # many to wait for. RATE*SECONDS is rounded up to a multiple of the clients; the run lasts
  # about SECONDS when pgbench keeps up, longer when it does not (reported below).
  # The first LATENCY_WARMUP (5) seconds of the load are written and delivered but not measured
  # (bench-consumer -w): pgbench's connections and first statements, the system's first records
  # to a new topic and the broker's JIT are start-up costs, not latency under load.
  local warmup=${LATENCY_WARMUP:-5}
  per_client=$(( (rate * (secs + warmup) + clients - 1) / clients ))
  n=$(( per_client * clients ))

  "$BENCH_CONSUMER" latency -b "$KAFKA_BROKERS" -t "$topic" -n "$n" -T "$idle" \
    -w "$(( warmup * 1000 ))" -o "$T/$tag.raw" >"$T/$tag.summary" 2>"$T/$tag.consumer.log" &
  pid=$!
  wait_for "bench-consumer latency on $topic ready" 60 latency_ready "$T/$tag.consumer.log" "$pid"

  log "latency: offering $rate events/s, $n events ($clients clients x $per_client), type $type"
  # shellcheck disable=SC2086  # LATENCY_PGBENCH_OPTS: more pgbench options, word-split
  if ! "$PG_BIN/pgbench" -n -M prepared -f "$LATENCY_SCRIPT" -R "$rate" -t "$per_client" \
         -c "$clients" -j 2 -D "type=$type" ${LATENCY_PGBENCH_OPTS:-} "$(latency_pgbench_dsn)" \
         >"$T/$tag.pgbench" 2>&1; then
    cat "$T/$tag.pgbench" >&2
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    fail "pgbench failed at $rate events/s"
  fi
  pgout=$T/$tag.pgbench
  processed=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$pgout")
  achieved=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$pgout" | tail -n 1)
  lag_avg=$(sed -n 's/^rate limit schedule lag: avg \([0-9.]*\) (max \([0-9.]*\)) ms.*/\1/p' "$pgout")
  lag_max=$(sed -n 's/^rate limit schedule lag: avg \([0-9.]*\) (max \([0-9.]*\)) ms.*/\2/p' "$pgout")
  skipped=$(sed -n 's/^number of transactions skipped: \([0-9]*\).*/\1/p' "$pgout")
  : "${processed:=0}" "${achieved:=0}" "${lag_avg:=-}" "${lag_max:=-}" "${skipped:=0}"
  # Kept up: pgbench reached 95 % of the offered rate and skipped nothing (it only skips with
  # --latency-limit). Its schedule lag (how late transactions started against the Poisson
  # schedule) is reported as well. The latencies are measured from each insert's own clock, so
  # a writer that falls behind does not inflate them: it offers less load instead, which is why
  # a run that did not keep up must be read as a lower offered rate.
  if [ "$skipped" -gt 0 ] || awk -v a="$achieved" -v r="$rate" 'BEGIN { exit !(a < 0.95 * r) }'; then
    kept_up=no
    log "latency: pgbench could NOT keep up: offered $rate events/s, achieved $achieved tps," \
        "schedule lag avg $lag_avg ms max $lag_max ms, $skipped skipped"
  else
    log "latency: pgbench achieved $achieved tps of $rate offered (schedule lag avg $lag_avg ms," \
        "max $lag_max ms)"
  fi
  [ "$processed" -eq "$n" ] || log "latency: pgbench processed $processed of $n transactions"

  # the consumer ends by itself: after n messages, or after $idle s without one; a system that
  # fell behind may still be delivering its backlog, hence the long deadline
  wait_for "bench-consumer latency on $topic done" "${LATENCY_DRAIN_TIMEOUT:-600}" proc_gone "$pid"
  wait "$pid" 2>/dev/null || rc=$?
  summary=$(tail -n 1 "$T/$tag.summary")
  case "$summary" in
    count=*) ;;
    *) cat "$T/$tag.consumer.log" >&2; fail "bench-consumer latency printed no summary (status $rc)" ;;
  esac
  printf '%s offered=%s achieved=%s lag_avg_ms=%s lag_max_ms=%s skipped=%s kept_up=%s\n' \
    "$summary" "$rate" "$achieved" "$lag_avg" "$lag_max" "$skipped" "$kept_up" >"$out"
  log "latency at $rate events/s: $(cat "$out")"
  if [ "$rc" -ne 0 ]; then
    log "latency: bench-consumer stopped short (status $rc): $(grep -v '^ready$' \
        "$T/$tag.consumer.log" | tail -n 3 | tr '\n' ' ')"
    return 1
  fi
}

# bench_consumer_count TOPIC N TIMEOUT_S: waits until TOPIC holds N records (sum of its
# partitions' high watermarks); prints "first_ms=... end_ms=... count=...". Fails the test on
# timeout.
bench_consumer_count() {
  bench_count_start "$@"
  bench_count_wait
  echo "first_ms=$COUNT_FIRST_MS end_ms=$COUNT_END_MS count=$COUNT_RECORDS"
}

BENCH_COUNT_PID="" BENCH_COUNT_OUT="" BENCH_COUNT_TIMEOUT=""
COUNT_FIRST_MS="" COUNT_END_MS="" COUNT_RECORDS=""

# bench_count_start TOPIC N TIMEOUT_S: starts `bench-consumer count` in the background
# (BENCH_COUNT_INTERVAL_MS: its polling interval, default 20). TOPIC must exist.
bench_count_start() {
  [ $# -eq 3 ] || fail "usage: bench_count_start TOPIC N TIMEOUT_S"
  bench_require
  [ -z "$BENCH_COUNT_PID" ] || fail "bench_count_start: a count is already running"
  BENCH_COUNT_OUT=$T/count-$1-$BASHPID-$(now_ms)
  BENCH_COUNT_TIMEOUT=$3
  "$BENCH_CONSUMER" count -b "$KAFKA_BROKERS" -t "$1" -n "$2" -T "$3" \
    -i "${BENCH_COUNT_INTERVAL_MS:-20}" >"$BENCH_COUNT_OUT.out" 2>"$BENCH_COUNT_OUT.err" &
  BENCH_COUNT_PID=$!
}

# bench_count_wait: waits for the count started last; sets COUNT_FIRST_MS, COUNT_END_MS,
# COUNT_RECORDS. Fails the test if it timed out (its message says how far it got).
bench_count_wait() {
  local pid=$BENCH_COUNT_PID rc=0 line
  [ -n "$pid" ] || fail "bench_count_wait: no count running"
  wait_for "bench-consumer count done" $(( BENCH_COUNT_TIMEOUT + 60 )) proc_gone "$pid"
  wait "$pid" 2>/dev/null || rc=$?
  BENCH_COUNT_PID=""
  line=$(tail -n 1 "$BENCH_COUNT_OUT.out")
  if [ "$rc" -ne 0 ] || [ -z "$line" ]; then
    cat "$BENCH_COUNT_OUT.err" >&2
    fail "bench-consumer count failed (status $rc)"
  fi
  [ ! -s "$BENCH_COUNT_OUT.err" ] || log "bench-consumer count: $(tr '\n' ' ' <"$BENCH_COUNT_OUT.err")"
  COUNT_FIRST_MS=$(latency_field first_ms "$BENCH_COUNT_OUT.out")
  COUNT_END_MS=$(latency_field end_ms "$BENCH_COUNT_OUT.out")
  COUNT_RECORDS=$(latency_field count "$BENCH_COUNT_OUT.out")
}

# latency_sync_commit on|off: synchronous_commit for every new and existing session.
latency_sync_commit() {
  case "${1:-}" in on|off) ;; *) fail "usage: latency_sync_commit on|off" ;; esac
  pg_admin_sql "ALTER SYSTEM SET synchronous_commit = $1" >/dev/null
  pg_admin_sql "SELECT pg_reload_conf()" >/dev/null
  wait_for "synchronous_commit = $1" 10 latency_sync_commit_is "$1"
}

latency_sync_commit_is() { [ "$(pg_sql "SHOW synchronous_commit")" = "$1" ]; }
