# shellcheck shell=bash
# The fault matrix's common part: source it from a tests/faults/fault_*.sh script, which runs one
# fault for one capture mode (its first argument, poll or logical):
#
#   . "$(dirname "$0")/lib.sh"
#   fault_setup "$1"             servers, migration, (logical) truth slot, relay config $FAULT_CONF
#   fault_start                  the relay on $FAULT_CONF (RELAY_PID), then concurrent writers
#                                until fault_writers_stop
#   ... inject the fault; after lifting it: fault_recovery_begin; fault_recovery_end
#   fault_check_marked           nothing marked/confirmed is missing from Kafka (relay stopped)
#   fault_delivering CYCLE       waits until the relay delivers (the fault strikes mid-stream)
#   fault_end NAME CYCLES        writers stopped, relay caught up and stopped, fault_finish
#
# Writers: FAULT_WRITERS (2) sessions, each committing one transaction of FAULT_TX_EVENTS (10)
# events every FAULT_WRITER_PAUSE (0.02) seconds. In poll mode each writer has aggregates of its
# own ("w<N>-agg-<k>"), as applications serialise per aggregate, so id order is commit order
# within an aggregate; in logical mode both writers share aggregates (the truth slot records
# commit order) and each transaction mixes kept rows, rows deleted before COMMIT and
# outbox_emit_message() events. A transaction that fails (the database restarting) is counted
# and not retried: what counts is what committed. The writers pause while fault_check_marked
# looks.
#
# Verification at the end (fault_finish) consumes every topic from the beginning:
#   poll     tests/faults/verify.sh against the table (every row marked, in Kafka, keyed, in id
#            order per aggregate after dropping repeated copies)
#   logical  verify_logical (tests/lib/logical.sh) against the truth slot (commit order)
# and fault_check_marked, called while the relay is down or cut off, checks ack before mark:
#   poll     no row marked published is absent from Kafka
#   logical  no event of a transaction at or before the slot's confirmed_flush_lsn is absent
# In poll mode the broker's append times are also compared with published_at (verify.sh
# --append-times): no row marked before its event was appended, and no copy appended after its
# row was marked (a re-send of an event no longer in flight) unless FAULT_ALLOW_LATE_COPIES=1.
# fault_finish appends one line to $FAULT_RESULTS (tab-separated: fault, mode, cycles, events,
# lost, marked_absent, duplicates, late copies ("-" in logical mode), order, recovery median ms,
# recovery max ms, seconds) and fails the test on any loss, marked-but-absent event or order
# violation.

FAULT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$FAULT_DIR/../lib/harness.sh"
. "$FAULT_DIR/../lib/logical.sh"
. "$FAULT_DIR/../lib/security.sh"

FAULT_MODE=""
FAULT_CONF=""
FAULT_DSN=""                # the relay's: its least-privilege role (FAULT_ROLE)
FAULT_ROLE=""
FAULT_APPEND_TIMES=${FAULT_APPEND_TIMES:-1}   # the broker stamps LogAppendTime (see verify.sh)
FAULT_ALLOW_LATE_COPIES=${FAULT_ALLOW_LATE_COPIES:-0}
FAULT_SOURCE=orders
FAULT_TOPIC=outbox.event.order
FAULT_WRITERS=${FAULT_WRITERS:-2}
FAULT_TX_EVENTS=${FAULT_TX_EVENTS:-10}
FAULT_WRITER_PAUSE=${FAULT_WRITER_PAUSE:-0.02}
FAULT_RESULTS=${FAULT_RESULTS:-}
FAULT_STARTED=$(date +%s)
FAULT_MARKED_ABSENT=0       # the most found by a check (fault_check_marked, fault_finish)
FAULT_RECOVERY_MS=()        # one figure per recovery
FAULT_WRITER_PIDS=()
FAULT_REC_START=0 FAULT_REC_BASE=0

# fault_cycles DEFAULT: the number of cycles, DEFAULT in `make check`, FAULT_SOAK_FACTOR times
# that in `make soak`.
fault_cycles() { echo $(( $1 * ${FAULT_SOAK_FACTOR:-1} )); }

# fault_setup MODE [KAFKA=real|none]: PostgreSQL, (unless none) the Kafka broker stamping
# LogAppendTime, the migration, the truth slot in logical mode, the relay's least-privilege
# role (README, "Least-privilege database roles": $FAULT_ROLE, $FAULT_DSN) and $FAULT_CONF for
# the relay: small batches and a short reconnection backoff so that a fault is noticed and
# recovered from quickly.
fault_setup() {
  FAULT_MODE=$1
  case $FAULT_MODE in poll|logical) ;; *) fail "fault_setup: mode must be poll or logical" ;; esac
  TEST_NAME="${TEST_NAME}[$FAULT_MODE]"
  pg_start
  # The harness's clusters commit asynchronously for speed. An immediate shutdown then loses
  # transactions that other sessions already saw committed, and the relay may have published
  # them (poll mode reads what is visible): the faults run with durable commits, as production
  # does.
  pg_admin_sql "ALTER SYSTEM SET synchronous_commit = on" >/dev/null
  pg_admin_sql "SELECT pg_reload_conf()" >/dev/null
  [ "$FAULT_APPEND_TIMES" = 0 ] \
    || KAFKA_EXTRA_CONFIG="log.message.timestamp.type=LogAppendTime${KAFKA_EXTRA_CONFIG:+
$KAFKA_EXTRA_CONFIG}"
  [ "${2:-real}" = none ] || kafka_start
  pg_migrate
  FAULT_ROLE=relay_$FAULT_MODE
  if [ "$FAULT_MODE" = poll ]; then
    pg_relay_role poll "$FAULT_ROLE"
  else
    pg_relay_role logical "$FAULT_ROLE" "publication=$(logical_slot_name "$FAULT_SOURCE")"
  fi
  FAULT_DSN=$RELAY_ROLE_DSN
  [ "$FAULT_MODE" = poll ] || truth_start
  [ "${2:-real}" = none ] || kafka_create_topic "$FAULT_TOPIC"
  KAFKA_MESSAGE_TOPICS=$FAULT_TOPIC
  FAULT_CONF=$T/relay.conf
  fault_conf "$FAULT_CONF" "$KAFKA_BROKERS"
}

# fault_conf FILE BROKERS [DSN] [EXTRA_SOURCE_LINES]: the fault tests' relay configuration
# (FAULT_LOG_LEVEL, FAULT_KAFKA_EXTRA: the relay's log level, more kafka group lines, to debug).
fault_conf() {
  relay_conf -o "$1" -s "$FAULT_SOURCE" -m "$FAULT_MODE" -b "$2" -d "${3:-$FAULT_DSN}" \
    -l "${FAULT_LOG_LEVEL:-info}" \
    -x "batch_size = 200; max_in_flight = 2000; retry_backoff_max_ms = 1000; ${4:-}" \
    -k "linger_ms = 5; message_timeout_ms = 60000; ${FAULT_KAFKA_EXTRA:-}"
}

# fault_writer N: one writer session (see the top of this file); stops when $T/stop-writers
# exists. Writes its committed and failed transaction counts to $T/writer-N.
fault_writer() {
  local n=$1 tx=0 ok=0 failed=0 sql
  while [ ! -e "$T/stop-writers" ]; do
    if [ -e "$T/pause-writers" ]; then sleep 0.05; continue; fi
    tx=$(( tx + 1 ))
    if [ "$FAULT_MODE" = poll ]; then
      sql="INSERT INTO public.outbox (aggregate_type, aggregate_id, event_type, payload)
             SELECT 'order', 'w$n-agg-' || (g % 50), 'FaultTest',
                    jsonb_build_object('w', $n, 'tx', $tx, 'g', g)
             FROM generate_series(1, $FAULT_TX_EVENTS) g"
    else
      sql="BEGIN;
        INSERT INTO public.outbox (aggregate_type, aggregate_id, event_type, payload)
          SELECT 'order', 'agg-' || ((g * 7 + $tx) % 100), 'FaultTest',
                 jsonb_build_object('w', $n, 'tx', $tx, 'g', g, 'style', 'row')
          FROM generate_series(1, $FAULT_TX_EVENTS - 2) g;
        INSERT INTO public.outbox (aggregate_type, aggregate_id, event_type, payload)
          VALUES ('order', 'agg-' || ($tx % 100), 'FaultTest',
                  jsonb_build_object('w', $n, 'tx', $tx, 'style', 'deleted'));
        DELETE FROM public.outbox WHERE txid = pg_current_xact_id()
          AND payload->>'style' = 'deleted';
        SELECT public.outbox_emit_message('order', 'agg-' || (($tx + 1) % 100), 'FaultTest',
                 jsonb_build_object('w', $n, 'tx', $tx, 'style', 'message'));
        COMMIT;"
    fi
    if "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 \
         "host=127.0.0.1 port=$PG_PORT dbname=$PG_DB user=$PG_USER connect_timeout=5" \
         -c "$sql" >/dev/null 2>&1; then
      ok=$(( ok + 1 ))
    else
      failed=$(( failed + 1 ))
    fi
    echo "$ok $failed" >"$T/writer-$n"
    sleep "$FAULT_WRITER_PAUSE"   # pacing, not synchronisation
  done
}

fault_writers_start() {
  local n
  rm -f "$T/stop-writers"
  for n in $(seq 1 "$FAULT_WRITERS"); do
    echo "0 0" >"$T/writer-$n"
    fault_writer "$n" &
    FAULT_WRITER_PIDS+=($!)
  done
  log "$FAULT_WRITERS writers started"
}

# fault_writes_at_least N: the writers have committed N more transactions than when
# fault_writes_mark was called (a fault lasts for a number of commits, not a fixed time).
fault_committed() { cat "$T"/writer-* | awk '{ n += $1 } END { print n + 0 }'; }
fault_writes_mark() { FAULT_WRITES_MARK=$(fault_committed); }
fault_writes_at_least() { [ $(( $(fault_committed) - FAULT_WRITES_MARK )) -ge "$1" ]; }

fault_writers_stop() {
  local pid
  touch "$T/stop-writers"
  for pid in "${FAULT_WRITER_PIDS[@]}"; do
    wait_for "writer $pid stops" 60 child_gone "$pid"
    wait "$pid" 2>/dev/null || true
  done
  FAULT_WRITER_PIDS=()
  log "writers stopped: $(cat "$T"/writer-* | awk '{ ok += $1; f += $2 }
                                 END { print ok " transactions committed, " f " failed" }')"
}

# fault_events: the number of events committed (poll: rows; logical: the truth slot's events).
fault_events() {
  if [ "$FAULT_MODE" = poll ]; then
    pg_sql "SELECT count(*) FROM public.outbox"
  else
    pg_sql "SELECT count(*) FROM verify.truth"
  fi
}

fault_relay_start() { relay_start "$FAULT_CONF" "$T/relay.log" "$@"; }

# fault_start: the relay, and once it is active (in logical mode its slot exists from then on:
# events committed before it would never be decoded) the writers; then waits for the first
# delivery.
fault_start() {
  fault_recovery_begin
  fault_relay_start
  wait_for "the relay is active" 60 log_has "$T/relay.log" "source \"$FAULT_SOURCE\": active"
  fault_writers_start
  fault_recovery_end
}

# fault_recovery_begin: the fault has just been lifted; fault_recovery_end waits (up to
# ${1:-120} s) for the next message to reach Kafka and records the time it took.
fault_recovery_begin() {
  FAULT_REC_START=$(now_ms)
  FAULT_REC_BASE=$(fault_messages)
}
fault_recovery_end() {
  wait_for "the relay delivers again after the fault" "${1:-120}" \
    kafka_messages_at_least $(( FAULT_REC_BASE + 1 ))
  FAULT_RECOVERY_MS+=($(( $(now_ms) - FAULT_REC_START )))
  log "recovered: delivering again ${FAULT_RECOVERY_MS[-1]} ms after the fault was lifted"
}

# fault_messages: the number of messages in the topic (0 while the broker cannot say).
fault_messages() { kafka_messages || true; }

# fault_progress_past N: more than N messages are in Kafka (the relay is mid-stream).
fault_progress_past() { kafka_messages_at_least $(( $1 + 1 )); }

# fault_confirmed_lsn: the relay's slot's confirmed_flush_lsn.
fault_confirmed_lsn() {
  pg_sql "SELECT confirmed_flush_lsn FROM pg_replication_slots
          WHERE slot_name = '$(logical_slot_name "$FAULT_SOURCE")'"
}

# fault_check_marked: ack before mark, checked while the relay is down or cut off from the
# database: every row marked published (poll) or every event of a transaction the slot has
# confirmed (logical) is in Kafka. Adds what is missing to FAULT_MARKED_ABSENT.
fault_check_marked() {
  local out n lsn
  # the writers wait meanwhile: what is checked then stays small however long the run
  touch "$T/pause-writers"
  if [ "$FAULT_MODE" = poll ]; then
    out=$("$FAULT_DIR/verify.sh" --brokers "$KAFKA_BROKERS" --psql "$PG_BIN/psql" \
            --dsn "$PG_DSN" --tmp "$T" --partial --allow-duplicates 2>"$T/check.err") || true
    n=$(printf '%s\n' "$out" | sed -n 's/.* marked_absent=\([0-9]*\).*/\1/p')
    [ -n "$n" ] || { cat "$T/check.err" >&2; fail "the verifier printed no summary: $out"; }
  else
    # the walsender may still be sending the relay's last status update: wait until it has let
    # go of the slot, then nothing moves the confirmed position any more
    wait_for "the relay's walsender lets go of the slot" 60 fault_slot_released
    lsn=$(fault_confirmed_lsn)
    truth_load >/dev/null
    kafka_load check
    n=$(missing_before "$lsn" check)
  fi
  # an event marked and absent stays so (it is never sent again): the largest count is the
  # number of distinct ones
  [ "$n" -le "$FAULT_MARKED_ABSENT" ] || FAULT_MARKED_ABSENT=$n
  [ "$n" -eq 0 ] || log "ack before mark broken: $n marked/confirmed event(s) not in Kafka"
  rm -f "$T/pause-writers"
}

fault_slot_released() { ! pg_slot_active "$(logical_slot_name "$FAULT_SOURCE")"; }

# fault_drain [TIMEOUT]: waits until the relay has caught up with everything committed.
fault_drain() {
  local timeout=${1:-180}
  if [ "$FAULT_MODE" = poll ]; then
    wait_for "every row marked published" "$timeout" pg_all_marked
  else
    truth_load >/dev/null
    wait_for "every committed event in Kafka" "$timeout" \
      kafka_messages_at_least "$(pg_sql "SELECT count(*) FROM verify.truth")"
  fi
}

# fault_delivering CYCLE [WHO]: waits until the relay (WHO, for the message) delivers something
# more, and then a random 0-990 ms: the fault strikes mid-stream, at moments unrelated to the
# relay's own rhythm (between fetch and produce, with acks in flight, during a mark or a status
# update).
fault_delivering() {
  local base
  base=$(fault_messages)
  wait_for "cycle $1: ${2:-the relay} delivers" 60 fault_progress_past "$base"
  sleep "0.$(( RANDOM % 100 ))"   # not synchronisation: where in the stream the fault lands
}

# fault_end FAULT CYCLES [RELAY_PID...]: stops the writers, waits until the relay caught up,
# stops it (or each RELAY_PID) cleanly, checks the marks and ends with fault_finish.
fault_end() {
  local fault=$1 cycles=$2 pid
  shift 2
  fault_writers_stop
  fault_drain
  if [ $# -eq 0 ]; then relay_stop; else for pid in "$@"; do relay_stop "$pid"; done; fi
  fault_check_marked
  fault_finish "$fault" "$cycles"
}

# fault_finish FAULT CYCLES: the final verification and the result line; fails the test on a
# lost, marked-but-absent or out-of-order event. The relay may still be running.
fault_finish() {
  local fault=$1 cycles=$2 out summary lost dups order events med max n rc=0
  if [ "$FAULT_MODE" = poll ]; then
    local opts=(--allow-duplicates --expect-all-marked)
    [ "$FAULT_APPEND_TIMES" = 0 ] || opts+=(--append-times)
    [ "$FAULT_ALLOW_LATE_COPIES" = 0 ] || opts+=(--allow-late-copies)
    out=$("$FAULT_DIR/verify.sh" --brokers "$KAFKA_BROKERS" --psql "$PG_BIN/psql" \
            --dsn "$PG_DSN" --tmp "$T" "${opts[@]}") || rc=$?
    log "$out"
    summary=$(printf '%s\n' "$out" | grep '^verify: rows=') || fail "no verifier summary"
    n=$(printf '%s\n' "$summary" | sed -n 's/.* marked_absent=\([0-9]*\).*/\1/p')
    [ "$n" -le "$FAULT_MARKED_ABSENT" ] || FAULT_MARKED_ABSENT=$n
  else
    truth_load >/dev/null
    kafka_load msgs
    (verify_logical --allow-duplicates) >"$T/verify.out" 2>&1 || rc=$?
    cat "$T/verify.out" >&2
    summary=$(sed -n 's/.* verify: \(truth=.*\) -> .*/\1/p' "$T/verify.out" | head -n 1)
    [ -n "$summary" ] || fail "no verifier summary"
  fi
  field() { printf '%s\n' "$summary" | tr ' ' '\n' | sed -n "s/^$1=\([0-9]*\)$/\1/p" | head -n 1; }
  lost=$(field lost) dups=$(field duplicates) order=$(field order) late=$(field late_copies)
  late=${late:--}
  events=$(fault_events)
  med=$(printf '%s\n' "${FAULT_RECOVERY_MS[@]:-0}" | median)
  max=$(printf '%s\n' "${FAULT_RECOVERY_MS[@]:-0}" | sort -n | tail -n 1)
  if [ -n "$FAULT_RESULTS" ]; then
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$fault" "$FAULT_MODE" "$cycles" \
      "$events" "$lost" "$FAULT_MARKED_ABSENT" "$dups" "$late" "$order" "${med%.*}" "$max" \
      $(( $(date +%s) - FAULT_STARTED )) >>"$FAULT_RESULTS"
  fi
  log "result: $fault/$FAULT_MODE cycles=$cycles events=$events lost=$lost" \
      "marked_absent=$FAULT_MARKED_ABSENT duplicates=$dups late_copies=$late order=$order" \
      "recovery median=${med}ms max=${max}ms"
  [ "$rc" -eq 0 ] || fail "verification failed"
  [ "$FAULT_MARKED_ABSENT" -eq 0 ] || fail "$FAULT_MARKED_ABSENT marked event(s) absent from Kafka"
}
