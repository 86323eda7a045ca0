# shellcheck shell=bash
# Test harness for the outbox-relay integration tests and benchmarks. Source it from a test
# script that runs under `set -euo pipefail`:
#
#   . "$(dirname "$0")/../lib/harness.sh"
#   pg_start; kafka_start; pg_migrate
#   relay_conf -o "$T/relay.conf" -s orders
#   relay_start "$T/relay.conf" "$T/relay.log"
#   wait_for "all rows marked" 60 pg_all_marked
#   relay_stop
#   verify_outbox --expect-all-marked
#
# It gives each test a throwaway PostgreSQL cluster (initdb as an unprivileged user, because
# initdb refuses root) and a fresh single-node KRaft Apache Kafka broker (jars fetched by
# tests/install-deps.sh), both on free loopback ports, under one temp dir ($T), and on request
# a Confluent-compatible schema registry (registry_start). An EXIT trap kills every relay, the
# broker, the registry, PostgreSQL and the test's other background jobs and removes $T; on
# failure it first prints the tails of the relays', the broker's, the registry's and
# PostgreSQL's logs. KEEP_TMP=1 keeps $T.
#
#   waiting     wait_for DESC SECS CMD..., try_for SECS CMD..., assert_for DESC SECS CMD...
#   PostgreSQL  pg_start [PORT], pg_stop [fast|immediate], pg_restart [MODE], pg_sql SQL [DB],
#               pg_sql_file FILE, pg_admin_sql SQL, pg_migrate [ARGS], pg_marked, pg_unmarked,
#               pg_all_marked [TABLE], pg_marked_at_least N [TABLE]      ($PG_DSN, $PG_PORT)
#   Kafka       kafka_start [PORT], kafka_stop [SIGNAL], kafka_restart, kafka_topics,
#               kafka_create_topic T, kafka_topic_config T K=V, kafka_consume T [FMT],
#               kafka_count T    ($KAFKA_BROKERS;
#               KCAT_OPTS: more kcat options for these, e.g. "-F FILE" for TLS/SASL settings)
#   registry    registry_start [PORT], registry_stop              ($REGISTRY_URL: Confluent API base)
#   slots/WAL   pg_wal_lsn, pg_slot_lsn SLOT, pg_slot_restart_lsn SLOT, pg_slot_exists SLOT,
#               pg_slot_active SLOT, pg_slot_lsn_ge SLOT LSN, lsn_num LSN, pg_lsn_ge A B
#   relay       relay_conf -o FILE -s NAME [-m MODE] [...], relay_start CONF LOG, relay_stop [PID],
#               relay_kill [PID], relay_alive [PID], relay_vmhwm_kb [PID],
#               relay_rss_below KB LIMIT_MIB WHAT    ($RELAY_PID)
#   checks      verify_outbox [verify.sh options], log_has FILE RE, log_count FILE RE, fail MSG
#
# Synchronisation is always a condition polled with a deadline (wait_for), never a fixed sleep.

HARNESS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HARNESS_DIR/../.." && pwd)
OUTBOX_RELAY=${OUTBOX_RELAY:-$REPO/outbox-relay}
KAFKA_LIB=${KAFKA_LIB:-$REPO/tests/kafka/lib}
REGISTRY_LIB=${REGISTRY_LIB:-$REPO/tests/registry/lib}
PG_OS_USER=${PG_OS_USER:-outbox-test}   # initdb/postgres run as this user when we are root
PG_DB=app
PG_USER=app

T=""                # this test's temp dir
PG_DIR="" PG_PORT="" PG_DSN="" PG_BIN="" PG_SECRET=""
KAFKA_DIR="" KAFKA_PORT="" KAFKA_CPORT="" KAFKA_BROKERS="" KAFKA_PID=""
REGISTRY_DIR="" REGISTRY_PORT="" REGISTRY_URL="" REGISTRY_PID=""
RELAY_PID=""        # pid of the last relay_start
RELAY_PIDS=()       # every relay started, for cleanup
RELAY_LOGS=()       # their log files, printed on failure
HARNESS_PORTS=" "   # ports handed out by free_port in this test
FREE_PORT=""        # set by free_port

# ---------------------------------------------------------------------------------------------
# logging and failing

log() { printf '%s [%s] %s\n' "$(date +%H:%M:%S.%3N)" "${TEST_NAME:-test}" "$*" >&2; }

fail() {
  printf '%s [%s] FAIL: %s\n' "$(date +%H:%M:%S.%3N)" "${TEST_NAME:-test}" "$*" >&2
  exit 1
}

# now_ms: milliseconds since the epoch.
now_ms() { date +%s%3N; }

# wait_for DESC TIMEOUT_S CMD...: runs CMD until it succeeds; fails the test with DESC once
# TIMEOUT_S seconds have passed. Short sleeps between attempts, no fixed synchronisation sleep.
# CMD's arguments are expanded once, at the call: `wait_for d 9 test "$(pg_sql ...)" -eq 1`
# would compare the same stale value forever. Put a changing condition in a function
# (e.g. pg_marked_at_least N, pg_all_marked, log_has FILE RE).
wait_for() {
  local desc=$1 timeout_s=$2
  shift 2
  local deadline=$(( $(now_ms) + timeout_s * 1000 )) start
  start=$(now_ms)
  until "$@"; do
    if [ "$(now_ms)" -ge "$deadline" ]; then
      fail "timed out after ${timeout_s}s waiting for: $desc"
    fi
    sleep 0.1
  done
  log "ok after $(( $(now_ms) - start )) ms: $desc"
}

# try_for TIMEOUT_S CMD...: like wait_for but returns 1 on timeout instead of failing.
try_for() {
  local deadline=$(( $(now_ms) + $1 * 1000 ))
  shift
  until "$@"; do
    [ "$(now_ms)" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

# assert_for DESC SECONDS CMD...: CMD must stay true for SECONDS (checked every 0.1 s); fails
# the test at the first false. For "nothing happens" properties, which only a window can show.
assert_for() {
  local desc=$1 deadline=$(( $(now_ms) + $2 * 1000 ))
  shift 2
  while [ "$(now_ms)" -lt "$deadline" ]; do
    "$@" || fail "no longer true: $desc"
    sleep 0.1
  done
  log "held: $desc"
}

# proc_alive PID: true while PID exists and is not a zombie.
proc_alive() {
  local state
  [ -r "/proc/$1/stat" ] || return 1
  state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

proc_gone() { ! proc_alive "$1"; }

# my_child PID: PID is alive and a child of this test's shell. Pids are recycled quickly here
# (pid_max 32768, thousands of short processes per suite): a stale pid must never be signalled,
# it may belong to someone else's process by now.
my_child() {
  local ppid
  proc_alive "$1" || return 1
  ppid=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f2) || return 1
  [ "$ppid" = "$$" ]
}

# child_gone PID: PID is no (live) child of this shell any more.
child_gone() { ! my_child "$1"; }

# kill_child SIGNAL PID: signals PID only if it is still a child of this shell.
kill_child() {
  my_child "$2" || return 1
  kill "-$1" "$2" 2>/dev/null
}

# log_has FILE PATTERN: FILE contains a line matching the extended regex PATTERN.
log_has() { [ -f "$1" ] && grep -Eq -- "$2" "$1"; }

# log_count FILE PATTERN: number of lines of FILE matching PATTERN.
log_count() {
  if [ -f "$1" ]; then grep -Ec -- "$2" "$1" || true; else echo 0; fi
}

# ---------------------------------------------------------------------------------------------
# temp dir, ports, cleanup

harness_init() {
  TEST_NAME=${TEST_NAME:-$(basename "$0" .sh)}
  T=$(mktemp -d "${TMPDIR:-/tmp}/outbox-test.XXXXXX")
  chmod 755 "$T"   # the unprivileged PostgreSQL user must traverse it
  trap harness_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# free_port: sets FREE_PORT to a loopback TCP port nothing listens on and that this test has
# not handed out yet (a variable, not output, so the record survives: no subshell).
free_port() {
  # Only ports below the kernel's ephemeral range: a client that keeps connecting to a port in
  # that range where nothing listens yet (the relay retrying a database that is still down)
  # can be handed that very port as its own source port and connect to itself, and then the
  # server cannot bind it.
  local port _ lo
  read -r lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || lo=32768
  [ "$lo" -gt 11000 ] || fail "ephemeral port range starts at $lo: no room for test ports"
  for _ in $(seq 1 200); do
    port=$(( 10000 + (RANDOM * 32768 + RANDOM) % (lo - 10000) ))
    case "$HARNESS_PORTS" in *" $port "*) continue ;; esac
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      HARNESS_PORTS="$HARNESS_PORTS$port "
      FREE_PORT=$port
      return 0
    fi
  done
  fail "no free port found"
}

# tail_file TITLE FILE [LINES]: prints the end of FILE under a header, if it exists; leaves out
# indented continuation lines (the broker's multi-line config dump).
tail_file() {
  [ -s "$2" ] || return 0
  printf '\n----- %s (%s, last %s lines) -----\n' "$1" "$2" "${3:-40}" >&2
  grep -v '^[[:space:]]' "$2" | tail -n "${3:-40}" >&2
}

harness_print_logs() {
  local f
  for f in "${RELAY_LOGS[@]}"; do tail_file "relay log" "$f" 60; done
  [ -z "$KAFKA_DIR" ] || tail_file "kafka server.log" "$KAFKA_DIR/logs/server.log" 40
  [ -z "$KAFKA_DIR" ] || tail_file "kafka stdout" "$KAFKA_DIR/stdout.log" 20
  [ -z "$REGISTRY_DIR" ] || tail_file "schema registry log" "$REGISTRY_DIR/registry.log" 30
  [ -z "$PG_DIR" ] || tail_file "postgresql log" "$PG_DIR/postgresql.log" 40
}

harness_cleanup() {
  local rc=$? pid
  trap - EXIT INT TERM
  trap '' PIPE   # a closed stdout/stderr (| head) must not cut the cleanup short
  set +e
  if [ "$rc" -ne 0 ]; then
    log "exit status $rc: logs follow"
    harness_print_logs
  fi
  for pid in "${RELAY_PIDS[@]}"; do kill_child KILL "$pid"; done
  [ -z "$KAFKA_PID" ] || kill_child KILL "$KAFKA_PID"
  [ -z "$REGISTRY_PID" ] || kill_child KILL "$REGISTRY_PID"
  [ -z "$PG_DIR" ] || pg_ctl_as stop -D "$PG_DIR/data" -m immediate -w -t 20 >/dev/null 2>&1
  # any other background job of the test (psql sessions, writers): it could wait forever on
  # a fifo or a lock the test held
  for pid in $(jobs -p); do kill_child KILL "$pid"; done
  wait 2>/dev/null
  # no secret in any output: the logs, the commands' stdout/stderr, consumed records (config
  # files hold it by design; the servers' own directories are theirs)
  if [ -n "$PG_SECRET" ] && [ -n "$T" ]; then
    local leaked
    leaked=$(grep -rlF --exclude='*.conf' --exclude-dir=pg --exclude-dir=kafka \
               --exclude-dir=registry -- "$PG_SECRET" "$T" 2>/dev/null)
    if [ -n "$leaked" ]; then
      log "FAIL: the database password of the test's DSN appears in: $(echo $leaked)"
      [ "$rc" -ne 0 ] || rc=1
    fi
  fi
  # HARNESS_SECRETS: more secrets a test handed out (Kafka, other roles' passwords), checked
  # the same way; $T/credentials (files the relay reads secrets from) holds them by design
  local secret
  for secret in ${HARNESS_SECRETS:-}; do
    [ -n "$T" ] || break
    leaked=$(grep -rlF --exclude='*.conf' --exclude-dir=pg --exclude-dir=kafka \
               --exclude-dir=registry --exclude-dir=credentials -- "$secret" "$T" 2>/dev/null)
    if [ -n "$leaked" ]; then
      log "FAIL: a secret of the test (HARNESS_SECRETS) appears in: $(echo $leaked)"
      [ "$rc" -ne 0 ] || rc=1
    fi
  done
  if [ -n "$T" ] && [ "${KEEP_TMP:-0}" != 1 ]; then
    rm -rf "$T"
  elif [ -n "$T" ]; then
    log "kept $T"
  fi
  exit "$rc"
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL

pg_find_bin() {
  local d
  if [ -n "${PG_BIN:-}" ]; then return 0; fi
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -n "$d" ] && [ -x "$d/initdb" ]; then
    PG_BIN=$d
  elif command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/initdb" ]; then
    PG_BIN=$(pg_config --bindir)
  else
    fail "PostgreSQL server binaries (initdb) not found: run tests/install-deps.sh or set PG_BIN"
  fi
}

# as_pg_user CMD...: runs CMD as the cluster's OS user (PG_OS_USER when root, else ourselves).
as_pg_user() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u "$PG_OS_USER" -- "$@"
  else
    "$@"
  fi
}

pg_ctl_as() { as_pg_user "$PG_BIN/pg_ctl" "$@"; }

pg_ensure_os_user() {
  [ "$(id -u)" -eq 0 ] || return 0
  id -u "$PG_OS_USER" >/dev/null 2>&1 && return 0
  useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_OS_USER" 2>/dev/null \
    || id -u "$PG_OS_USER" >/dev/null 2>&1 \
    || fail "could not create OS user $PG_OS_USER"
}

# pg_start [PORT]: initdb a fresh cluster in $T/pg, start it on 127.0.0.1:PORT (default: a
# free port), create role and database "app". Sets PG_DIR, PG_PORT, PG_DSN.
pg_start() {
  pg_find_bin
  pg_ensure_os_user
  if [ -n "${1:-}" ]; then PG_PORT=$1; else free_port; PG_PORT=$FREE_PORT; fi
  PG_DIR=$T/pg
  mkdir -p "$PG_DIR"
  [ "$(id -u)" -ne 0 ] || chown "$PG_OS_USER" "$PG_DIR"
  as_pg_user test -w "$PG_DIR" \
    || fail "$PG_OS_USER cannot write $PG_DIR: put TMPDIR where that user can reach it"
  as_pg_user "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -A trust -E UTF8 \
    --locale=C --no-sync >"$PG_DIR/initdb.log" 2>&1 \
    || { cat "$PG_DIR/initdb.log" >&2; fail "initdb failed"; }
  cat >>"$PG_DIR/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_DIR'
wal_level = logical
max_replication_slots = 10
max_wal_senders = 10
max_connections = 100
fsync = off
synchronous_commit = off
full_page_writes = off
log_line_prefix = '%m [%p] %q%a '
EOF
  pg_ctl_as start -D "$PG_DIR/data" -l "$PG_DIR/postgresql.log" -w -t 60 >/dev/null \
    || fail "PostgreSQL did not start"
  # The server trusts local connections, so the password is never checked: it is there so that
  # every relay config of every test carries a secret, and harness_cleanup fails the test if
  # the secret shows up in anything the relay or its commands wrote.
  PG_SECRET=pw-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
  PG_DSN="host=127.0.0.1 port=$PG_PORT dbname=$PG_DB user=$PG_USER password=$PG_SECRET"
  pg_admin_sql "CREATE ROLE $PG_USER LOGIN REPLICATION" >/dev/null
  pg_admin_sql "CREATE DATABASE $PG_DB OWNER $PG_USER" >/dev/null
  log "postgresql up on 127.0.0.1:$PG_PORT ($PG_BIN)"
}

# pg_stop [fast|immediate|smart]
pg_stop() {
  pg_ctl_as stop -D "$PG_DIR/data" -m "${1:-fast}" -w -t 60 >/dev/null \
    || fail "PostgreSQL did not stop"
  log "postgresql stopped (${1:-fast})"
}

pg_restart() {
  pg_ctl_as restart -D "$PG_DIR/data" -l "$PG_DIR/postgresql.log" -m "${1:-fast}" -w -t 60 \
    >/dev/null || fail "PostgreSQL did not restart"
  log "postgresql restarted"
}

# pg_sql SQL [DBNAME]: runs SQL as role app; prints unaligned tuples-only output.
pg_sql() {
  "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 \
    "host=127.0.0.1 port=$PG_PORT dbname=${2:-$PG_DB} user=$PG_USER" -c "$1"
}

# pg_sql_files_concurrently FILE...: runs each SQL script in its own session, all at once, and
# fails the test if any of them fails.
pg_sql_files_concurrently() {
  local f pid pids=()
  for f in "$@"; do
    pg_sql_file "$f" >/dev/null &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || fail "a writer session failed"; done
}

# pg_sql_file FILE [DBNAME]: runs a SQL script as role app.
pg_sql_file() {
  "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 \
    "host=127.0.0.1 port=$PG_PORT dbname=${2:-$PG_DB} user=$PG_USER" -f "$1"
}

# pg_admin_sql SQL [DBNAME]: runs SQL as the superuser postgres.
pg_admin_sql() {
  "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 \
    "host=127.0.0.1 port=$PG_PORT dbname=${2:-postgres} user=postgres" -c "$1"
}

# pg_migrate [ARGS...]: creates the outbox table with the relay's own migrate command.
pg_migrate() {
  "$OUTBOX_RELAY" migrate --dsn "$PG_DSN" "$@" >"$T/migrate.$$.log" 2>&1 \
    || { cat "$T/migrate.$$.log" >&2; fail "outbox-relay migrate $* failed"; }
}

# pg_unmarked [TABLE]: number of rows of TABLE (default public.outbox) not yet published.
pg_unmarked() {
  pg_sql "SELECT count(*) FROM ${1:-public.outbox} WHERE published_at IS NULL"
}

pg_marked() {
  pg_sql "SELECT count(*) FROM ${1:-public.outbox} WHERE published_at IS NOT NULL"
}

# pg_all_marked [TABLE]: true when the table has rows and all are published.
pg_all_marked() {
  local t=${1:-public.outbox}
  [ "$(pg_sql "SELECT EXISTS (SELECT 1 FROM $t)
                      AND NOT EXISTS (SELECT 1 FROM $t WHERE published_at IS NULL)")" = t ]
}

# pg_marked_at_least N [TABLE]
pg_marked_at_least() { [ "$(pg_marked "${2:-}")" -ge "$1" ]; }

# ---------------------------------------------------------------------------------------------
# replication slots and WAL positions (logical mode)

# lsn_num LSN: prints the LSN X/Y as a decimal number (bash arithmetic is 64-bit).
lsn_num() {
  local hi=${1%/*} lo=${1#*/}
  [ -n "$1" ] && [ "$hi" != "$1" ] || return 1
  echo $(( (16#$hi << 32) + 16#$lo ))
}

# pg_lsn_ge A B: LSN A >= LSN B; false when either is empty (a missing slot has no LSN).
pg_lsn_ge() {
  local a b
  a=$(lsn_num "$1") && b=$(lsn_num "$2") || return 1
  [ "$a" -ge "$b" ]
}

# pg_wal_lsn: the end of the WAL inserted so far (pg_current_wal_insert_lsn()): past every
# transaction committed before the call. Not pg_current_wal_lsn(), the write position, which
# lags behind with synchronous_commit = off.
pg_wal_lsn() { pg_sql "SELECT pg_current_wal_insert_lsn()"; }

# pg_slot_lsn SLOT: the slot's confirmed_flush_lsn; prints nothing when there is no such slot.
pg_slot_lsn() {
  pg_sql "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '$1'"
}

# pg_slot_restart_lsn SLOT: the slot's restart_lsn (the oldest WAL it retains).
pg_slot_restart_lsn() {
  pg_sql "SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = '$1'"
}

# pg_slot_exists SLOT
pg_slot_exists() {
  [ "$(pg_sql "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$1'")" -eq 1 ]
}

# pg_slot_active SLOT: a walsender streams from the slot.
pg_slot_active() {
  [ "$(pg_sql "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$1' AND active")" -eq 1 ]
}

# pg_slot_lsn_ge SLOT LSN: the slot's confirmed_flush_lsn has reached LSN (for wait_for).
pg_slot_lsn_ge() { pg_lsn_ge "$(pg_slot_lsn "$1")" "$2"; }

# ---------------------------------------------------------------------------------------------
# Kafka

# kafka_java ARGS...: runs a JVM with the Kafka jars and this broker's logging set-up.
# KAFKA_EXEC=exec makes it replace the calling (sub)shell, so that `(KAFKA_EXEC=exec kafka_java
# ...) &` leaves the JVM's own pid in $!. KAFKA_JVM_OPTS: the heap and collector (small and
# serial for the tests; the benchmarks use Kafka's own start-script settings).
kafka_java() {
  # shellcheck disable=SC2086
  ${KAFKA_EXEC:-} java ${KAFKA_JVM_OPTS:--Xmx512m -Xms256m -XX:+UseSerialGC} \
    -Djava.awt.headless=true \
    -Dkafka.logs.dir="$KAFKA_DIR/logs" \
    -Dlog4j.configuration="file:$KAFKA_DIR/log4j.properties" \
    -cp "$KAFKA_LIB/*" "$@"
}

kafka_write_config() {
  mkdir -p "$KAFKA_DIR/logs"
  cat >"$KAFKA_DIR/log4j.properties" <<'EOF'
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=${kafka.logs.dir}/server.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
EOF
  # KAFKA_EXTRA_LISTENERS: more listeners "NAME://127.0.0.1:PORT,..." whose NAME is also their
  # security protocol (SSL, SASL_SSL, ...): listened on, advertised and mapped
  local extra=${KAFKA_EXTRA_LISTENERS:-} map=""
  [ -z "$extra" ] || map=,$(printf '%s' "$extra" | sed 's#\([A-Z_]*\)://[^,]*#\1:\1#g')
  cat >"$KAFKA_DIR/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CPORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CPORT${extra:+,$extra}
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT${extra:+,$extra}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT$map
log.dirs=$KAFKA_DIR/data
num.partitions=${KAFKA_PARTITIONS:-4}
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
group.initial.rebalance.delay.ms=0
${KAFKA_EXTRA_CONFIG:-}
EOF
}

# kafka_answers: the broker answers a metadata request.
kafka_answers() { kcat ${KCAT_OPTS:-} -L -b "$KAFKA_BROKERS" -m 2 >/dev/null 2>&1; }

kafka_launch() {
  # shellcheck disable=SC2209  # "exec" is the intended value
  (KAFKA_EXEC=exec kafka_java kafka.Kafka "$KAFKA_DIR/server.properties") \
    >>"$KAFKA_DIR/stdout.log" 2>&1 &
  KAFKA_PID=$!
  local start
  start=$(now_ms)
  local deadline=$(( start + ${KAFKA_START_TIMEOUT:-60} * 1000 ))
  until kafka_answers; do
    my_child "$KAFKA_PID" || fail "kafka broker exited during start"
    [ "$(now_ms)" -lt "$deadline" ] || fail "kafka broker did not answer in time"
    sleep 0.2
  done
  log "kafka up on $KAFKA_BROKERS in $(( $(now_ms) - start )) ms (pid $KAFKA_PID)"
}

# kafka_start [PORT]: formats a fresh KRaft single node in $T/kafka and starts it on PORT
# (default: a free port; the controller always gets a free one). Sets KAFKA_BROKERS. Topics
# are auto-created with KAFKA_PARTITIONS (default 4) partitions. KAFKA_EXTRA_CONFIG: more
# server.properties lines. KAFKA_EXTRA_LISTENERS: more listeners (see kafka_write_config).
# KAFKA_FORMAT_ARGS: an array of more `StorageTool format` arguments (e.g. --add-scram ...).
kafka_start() {
  compgen -G "$KAFKA_LIB/kafka_2.13-*.jar" >/dev/null \
    || fail "no Kafka jars in $KAFKA_LIB: run tests/install-deps.sh"
  KAFKA_DIR=$T/kafka
  if [ -n "${1:-}" ]; then KAFKA_PORT=$1; else free_port; KAFKA_PORT=$FREE_PORT; fi
  free_port; KAFKA_CPORT=$FREE_PORT
  KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT
  kafka_write_config
  local id=-
  # a cluster id as `StorageTool random-uuid` makes it (base64url of 16 random bytes, never
  # starting with "-", which the tool's argument parser would take for an option), without
  # paying for a JVM start
  while [ "${id#-}" != "$id" ]; do
    id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
  done
  kafka_java kafka.tools.StorageTool format -t "$id" -c "$KAFKA_DIR/server.properties" \
    ${KAFKA_FORMAT_ARGS[@]+"${KAFKA_FORMAT_ARGS[@]}"} \
    >>"$KAFKA_DIR/stdout.log" 2>&1 || fail "kafka storage format failed"
  kafka_launch
}

# kafka_stop [SIGNAL]: stops the broker (default SIGTERM, a clean shutdown) and waits for it
# to exit; SIGKILL after 60 s.
# shellcheck disable=SC2120  # tests may pass a signal
kafka_stop() {
  [ -n "$KAFKA_PID" ] || return 0
  kill_child "${1:-TERM}" "$KAFKA_PID" || fail "the kafka broker (pid $KAFKA_PID) is not running"
  if ! try_for 60 child_gone "$KAFKA_PID"; then
    log "kafka broker ignored SIG${1:-TERM}; killing it"
    kill_child KILL "$KAFKA_PID" || true
    try_for 10 child_gone "$KAFKA_PID" || fail "kafka broker does not exit"
  fi
  wait "$KAFKA_PID" 2>/dev/null || true
  KAFKA_PID=""
  log "kafka stopped"
}

# kafka_restart: starts the broker again on the same data dir and ports.
kafka_restart() {
  [ -z "$KAFKA_PID" ] || kafka_stop
  kafka_launch
}

# kafka_topics: prints the names of the broker's topics, one a line.
kafka_topics() {
  kcat ${KCAT_OPTS:-} -L -b "$KAFKA_BROKERS" -m 10 2>/dev/null \
    | sed -n 's/^ *topic "\([^"]*\)" with .*/\1/p'
}

# kafka_topic_ready TOPIC: the topic exists with its partitions led.
kafka_topic_ready() {
  kcat ${KCAT_OPTS:-} -L -b "$KAFKA_BROKERS" -t "$1" -m 5 2>/dev/null | grep -Eq "topic \"$1\" with [1-9]"
}

# kafka_create_topic TOPIC: creates TOPIC ahead of use, through the broker's auto-creation on a
# metadata request, and waits until it is ready.
kafka_create_topic() {
  kcat ${KCAT_OPTS:-} -L -b "$KAFKA_BROKERS" -t "$1" -m 5 >/dev/null 2>&1 || true
  wait_for "topic $1 created" 30 kafka_topic_ready "$1"
}

# kafka_topic_config TOPIC KEY=VALUE: creates TOPIC (if it is not there) and sets one of its
# configs, e.g. max.message.bytes=4000 or message.timestamp.type=LogAppendTime.
kafka_topic_config() {
  kafka_create_topic "$1"
  kafka_java kafka.admin.ConfigCommand --bootstrap-server "$KAFKA_BROKERS" --alter \
    --entity-type topics --entity-name "$1" --add-config "$2" >"$T/configcmd.log" 2>&1 \
    || { cat "$T/configcmd.log" >&2; fail "could not set $2 on topic $1"; }
}

# kafka_consume TOPIC [FORMAT]: prints every message of TOPIC from the beginning to the end.
# Default format: topic, partition, offset, key, headers (kcat %h: k=v,k=v), value.
kafka_consume() {
  kcat ${KCAT_OPTS:-} -C -b "$KAFKA_BROKERS" -t "$1" -o beginning -e -q -m 30 \
    -f "${2:-%t\t%p\t%o\t%k\t%h\t%s\n}"
}

# kafka_count TOPIC: number of messages in TOPIC (0 when it does not exist).
kafka_count() {
  if kafka_topics | grep -qxF -- "$1"; then
    kafka_consume "$1" '%o\n' | wc -l
  else
    echo 0
  fi
}

# ---------------------------------------------------------------------------------------------
# Schema Registry
#
# Apicurio Registry 2.6 (tests/registry/README.md: where it differs from Confluent's), in-memory
# storage, no auth: every registry_start begins empty, and ids restart at 1.

# registry_answers: the registry's Confluent-compatible API answers GET /subjects with 200.
# Plain bash /dev/tcp, so the harness does not need curl; in a subshell, so fd 3 of the test
# stays its own; read -t bounds a server that accepts but does not answer.
registry_answers() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$REGISTRY_PORT"
    printf 'GET /apis/ccompat/v7/subjects HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
    IFS= read -r -t 5 line <&3
    case "$line" in "HTTP/1."?" 200 "*) exit 0 ;; *) exit 1 ;; esac
  ) 2>/dev/null
}

# registry_ready: for wait_for; fails the test at once when the JVM has exited.
registry_ready() {
  my_child "$REGISTRY_PID" \
    || fail "schema registry exited during start (log: $REGISTRY_DIR/registry.log)"
  registry_answers
}

# registry_start [PORT]: starts the schema registry on 127.0.0.1:PORT (default: a free port),
# its log and temp files in $T/registry, and waits until its API answers
# (REGISTRY_START_TIMEOUT, default 60 s). Sets REGISTRY_URL to the Confluent-compatible base
# (http://127.0.0.1:PORT/apis/ccompat/v7, so that "$REGISTRY_URL/subjects" works) and
# REGISTRY_PID. REGISTRY_JAVA_OPTS: more JVM options (Apicurio settings as -D...).
registry_start() {
  local jar
  jar=$(compgen -G "$REGISTRY_LIB/apicurio-registry-app-*-runner.jar" | head -n 1) \
    || fail "no schema registry in $REGISTRY_LIB: run tests/install-deps.sh"
  [ -z "$REGISTRY_PID" ] || fail "registry_start: the schema registry is already running"
  REGISTRY_DIR=$T/registry
  mkdir -p "$REGISTRY_DIR/tmp"
  if [ -n "${1:-}" ]; then REGISTRY_PORT=$1; else free_port; REGISTRY_PORT=$FREE_PORT; fi
  REGISTRY_URL=http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7
  # use-canonical-hash: a schema registered again with other whitespace or key order gets the
  # same id, as Confluent's does (by default Apicurio compares the bytes).
  # Vert.x's file cache and the JVM's temp files go under $T, not into a shared /tmp.
  # shellcheck disable=SC2086  # REGISTRY_JAVA_OPTS is a list of options
  (exec java -Xms64m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
     -Djava.awt.headless=true -Djava.io.tmpdir="$REGISTRY_DIR/tmp" \
     -Dvertx.cacheDirBase="$REGISTRY_DIR/tmp/vertx-cache" \
     -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$REGISTRY_PORT" \
     -Dregistry.ccompat.use-canonical-hash=true \
     ${REGISTRY_JAVA_OPTS:-} -jar "$jar") >>"$REGISTRY_DIR/registry.log" 2>&1 &
  REGISTRY_PID=$!
  wait_for "schema registry answering on port $REGISTRY_PORT" \
    "${REGISTRY_START_TIMEOUT:-60}" registry_ready
  log "schema registry up at $REGISTRY_URL (pid $REGISTRY_PID)"
}

# registry_stop: SIGTERM (Quarkus shuts down in about 2 s), SIGKILL after 30 s; waits for the
# exit. Everything registered is gone: the storage is in memory.
registry_stop() {
  [ -n "$REGISTRY_PID" ] || return 0
  kill_child TERM "$REGISTRY_PID" \
    || fail "the schema registry (pid $REGISTRY_PID) is not running"
  if ! try_for 30 child_gone "$REGISTRY_PID"; then
    log "schema registry ignored SIGTERM; killing it"
    kill_child KILL "$REGISTRY_PID" || true
    try_for 10 child_gone "$REGISTRY_PID" || fail "schema registry does not exit"
  fi
  wait "$REGISTRY_PID" 2>/dev/null || true
  REGISTRY_PID=""
  log "schema registry stopped"
}

# relay_timed CONF LOG WHAT TIMEOUT CONDITION...: starts the relay on CONF, waits (up to TIMEOUT
# seconds) for CONDITION, and sets DRAIN_MS (from the start to the condition) and DRAIN_RSS_KB
# (the relay's peak RSS by then). Leaves the relay running (for the benchmarks).
relay_timed() {
  local conf=$1 logfile=$2 what=$3 timeout=$4 start
  shift 4
  start=$(now_ms)
  relay_start "$conf" "$logfile"
  wait_for "$what" "$timeout" "$@"
  DRAIN_MS=$(( $(now_ms) - start ))
  DRAIN_RSS_KB=$(relay_vmhwm_kb)
}

# median: the median of the numbers on stdin, one per line (for the benchmarks).
median() {
  sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2];
                                       else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ---------------------------------------------------------------------------------------------
# the relay

relay_require() {
  [ -x "$OUTBOX_RELAY" ] || fail "relay binary $OUTBOX_RELAY not found: run make"
}

# relay_conf -o FILE -s SOURCE [-m MODE] [-t TABLE] [-b BROKERS] [-d DSN] [-k KAFKA_LINES]
#            [-x SOURCE_LINES] [-l LOG_LEVEL]
# Writes a relay config with one source, in MODE poll (default; poll_interval_ms = 50 unless
# -x sets it) or logical (slot, publication etc. at their defaults unless -x sets them).
# -k and -x add raw libconfig lines to the kafka group and to the source.
relay_conf() {
  local out="" name="" table=public.outbox brokers=$KAFKA_BROKERS dsn=$PG_DSN mode=poll
  local kextra="" sextra="" level=info opt OPTIND=1
  while getopts 'o:s:m:t:b:d:k:x:l:' opt; do
    case $opt in
      o) out=$OPTARG ;; s) name=$OPTARG ;; m) mode=$OPTARG ;; t) table=$OPTARG ;;
      b) brokers=$OPTARG ;; d) dsn=$OPTARG ;; k) kextra=$OPTARG ;; x) sextra=$OPTARG ;;
      l) level=$OPTARG ;;
      *) fail "relay_conf: bad option" ;;
    esac
  done
  [ -n "$out" ] && [ -n "$name" ] || fail "relay_conf: -o FILE and -s SOURCE are required"
  if [ "$mode" = poll ]; then
    case "$sextra" in *poll_interval_ms*) ;; *) sextra="poll_interval_ms = 50; $sextra" ;; esac
  fi
  cat >"$out" <<EOF
kafka = {
  brokers = "$brokers";
  $kextra
};
log = { level = "$level"; };
sources = (
  {
    name = "$name";
    dsn = "$dsn";
    mode = "$mode";
    table = "$table";
    $sextra
  }
);
EOF
}

# relay_start CONF LOGFILE [ARGS...]: starts `outbox-relay run -c CONF` in the background with
# stderr and stdout to LOGFILE. Sets RELAY_PID.
relay_start() {
  relay_require
  local conf=$1 logfile=$2
  shift 2
  "$OUTBOX_RELAY" run -c "$conf" "$@" >>"$logfile" 2>&1 &
  RELAY_PID=$!
  RELAY_PIDS+=("$RELAY_PID")
  RELAY_LOGS+=("$logfile")
  log "relay started (pid $RELAY_PID, log $(basename "$logfile"))"
}

# relay_stop [PID]: SIGTERM, waits (45 s: the relay's drain_timeout_ms defaults to 30 s) for
# the exit; fails unless it exits 0 as the contract says. Default PID: the last started relay.
relay_stop() {
  local pid=${1:-$RELAY_PID} rc=0
  kill_child TERM "$pid" || fail "relay $pid is not running"
  try_for 45 child_gone "$pid" || fail "relay $pid did not exit within 45 s of SIGTERM"
  wait "$pid" 2>/dev/null || rc=$?
  [ "$rc" -eq 0 ] || fail "relay $pid exited $rc after SIGTERM (expected 0)"
  log "relay $pid stopped"
}

# relay_kill [PID]: SIGKILL and reap.
relay_kill() {
  local pid=${1:-$RELAY_PID} gone=1
  {   # stderr off: bash reports the job's "Killed" whenever it notices
    kill_child KILL "$pid" || true
    try_for 10 child_gone "$pid" || gone=0
    wait "$pid" || true
  } 2>/dev/null
  [ "$gone" -eq 1 ] || fail "relay $pid survives SIGKILL"
  log "relay $pid killed"
}

# relay_alive [PID]
relay_alive() { my_child "${1:-$RELAY_PID}"; }

# relay_vmhwm_kb [PID]: peak resident set size of the relay in kB.
relay_vmhwm_kb() {
  awk '/^VmHWM:/ { print $2 }' "/proc/${1:-$RELAY_PID}/status"
}

# relay_rss_below KB LIMIT_MIB WHAT: fails the test unless the peak RSS KB is below LIMIT_MIB.
# On a sanitizer build (make SANITIZE=...) the bound is only logged: AddressSanitizer's shadow
# memory and its 256 MB quarantine of freed blocks say nothing about the relay's own use.
relay_rss_below() {
  if ldd "$OUTBOX_RELAY" 2>/dev/null | grep -q 'libasan'; then
    log "sanitizer build: peak RSS $(( $1 / 1024 )) MiB $3, bound of $2 MiB not checked"
    return 0
  fi
  [ "$1" -lt $(( $2 * 1024 )) ] || fail "peak RSS $(( $1 / 1024 )) MiB $3 is not below $2 MiB"
}

# ---------------------------------------------------------------------------------------------
# verification

# verify_outbox [verify.sh options]: compares the outbox table with the Kafka topics.
verify_outbox() {
  "$REPO/tests/faults/verify.sh" --brokers "$KAFKA_BROKERS" \
    --psql "$PG_BIN/psql" --dsn "$PG_DSN" --tmp "$T" "$@" \
    || fail "verification failed"
}

harness_init
