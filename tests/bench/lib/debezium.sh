# shellcheck shell=bash
# Debezium's Outbox Event Router as the baseline of outbox-relay's benchmarks (issue 8): the
# same PostgreSQL, the same Kafka broker (the harness's) and the same outbox table, relayed by
# Debezium instead of the relay. Two runtimes, chosen by DEBEZIUM_RUNTIME:
#   engine (default)  tests/bench/debezium/OutboxEngine.java: the Debezium engine of Debezium
#                     Server 2.7.3 (its jars, its asynchronous embedded engine) with the same
#                     connector, configuration file and router, feeding a KafkaProducer with
#                     the same settings; it sends a batch's records without waiting, then
#                     waits for all their acks before committing the batch's offsets, as Kafka
#                     Connect's asynchronous producer does
#   server            Debezium Server 2.7.3 itself, whose Kafka sink waits for each record's
#                     ack before sending the next (send(record).get() in
#                     KafkaChangeConsumer.handleBatch): a few hundred events/s, a measure of
#                     that sink rather than of the router
# What differs between the two, and why the engine is the default: tests/bench/debezium/
# README.md. Source it after tests/lib/harness.sh:
#
#   . "$REPO/tests/lib/harness.sh"; . "$REPO/tests/bench/lib/debezium.sh"
#   debezium_fetch
#   pg_start; kafka_start; pg_migrate
#   debezium_prepare bench_debezium bench_debezium
#   debezium_conf "$T/dbz" bench_debezium bench_debezium bench.dbz.
#   kafka_create_topic bench.dbz.orders
#   debezium_start "$T/dbz" "$T/debezium.log"
#   wait_for "20000 records" 300 ...                 # e.g. bench_consumer_count, kafka_count
#   cpu_ms=$(debezium_cpu_ms); rss_kb=$(debezium_vmhwm_kb)
#   debezium_stop
#
# The set-up and why each property is there: tests/bench/debezium/README.md.
#
#   debezium_fetch
#       Runs tests/bench/debezium/fetch.sh (idempotent: it returns at once when dist/ holds the
#       pinned release and OutboxEngine.java's compiled class), unless DEBEZIUM_HOME points at a
#       tree of one's own: then, for the engine runtime, it compiles OutboxEngine.java against
#       that tree's lib/ into $T/engine-classes. Fails the test if either fails.
#   debezium_prepare SLOT PUBLICATION [TABLE]
#       As the superuser, in the harness's database: creates PUBLICATION FOR TABLE TABLE
#       (default public.outbox) WITH (publish = 'insert') and a logical slot SLOT with plugin
#       pgoutput, each unless it exists (an existing one must fit: the publication must publish
#       TABLE, the slot must use pgoutput). Debezium, which takes no snapshot (snapshot.mode
#       no_data), then streams from the slot's position on its first start: every row
#       committed after debezium_prepare is relayed, including a backlog written before the
#       start.
#   debezium_conf DIR SLOT PUBLICATION TOPIC_PREFIX [EXTRA_PROPERTIES_LINES]
#       Writes DIR/conf/application.properties: the PostgreSQL connector on the harness's
#       database (host, port, dbname, user from $PG_DSN) streaming public.outbox from SLOT and
#       PUBLICATION with pgoutput, no snapshot; the Outbox Event Router on our columns; the
#       Kafka sink to $KAFKA_BROKERS with acks=all and idempotence. What lands in Kafka, for
#       a row of aggregate type X: topic TOPIC_PREFIX + X (bench.dbz. -> bench.dbz.X); key
#       aggregate_id as plain text (agg-7); value the payload exactly as PostgreSQL prints the
#       jsonb ({"pad": "xx", "seq": 1}: a raw JSON object, byte for byte payload::text);
#       headers id and event_id (both the event_id uuid) and event_type: plain text with the
#       engine runtime (BenchEvent), JSON-encoded, i.e. in double quotes ("BenchEvent"), with
#       the server. Offsets go to DIR/data/offsets.dat and survive
#       a restart and a rewrite of the file (delete DIR/data, or use another DIR, to start
#       over from the slot). EXTRA_PROPERTIES_LINES: more KEY=VALUE lines, separated by
#       newlines; a KEY that is one of the defaults replaces it (e.g.
#       debezium.source.table.include.list=public.other for another table).
#       Debezium Server (a Quarkus application) reads application.properties from its class
#       path; its run.sh puts conf/ of the working directory there, which would have to be the
#       distribution's own, so debezium_start puts DIR/conf there instead.
#       The database password is not in the file (the harness fails a test whose $T holds it
#       outside *.conf files): the file says ${DEBEZIUM_DB_PASSWORD}, which Quarkus (or
#       OutboxEngine) resolves from the environment debezium_start gives the JVM (the password
#       of $PG_DSN then). The engine runtime reads the same file: debezium.source.* and
#       debezium.transforms.* go to the engine, debezium.sink.kafka.producer.* to its producer;
#       debezium.format.* and quarkus.* do not apply to it.
#   debezium_start DIR LOGFILE
#       Starts Debezium in DIR in the background, stdout and stderr to LOGFILE, with the JVM's
#       default heap and only java.io.tmpdir under DIR (temp files stay out of /tmp), plus
#       DEBEZIUM_JAVA_OPTS when set (e.g. "-Xmx512m"). DEBEZIUM_RUNTIME=engine (default):
#       `java -cp "$DEBEZIUM_HOME/lib/*:<engine classes>" OutboxEngine DIR/conf/application.
#       properties`; server: the java command of Debezium Server's run.sh (class path: the
#       runner jar, DIR/conf, the distribution's lib/*; main class io.debezium.server.Main;
#       run.sh's JAVA_OPTS unset). Sets DEBEZIUM_PID to the
#       java process's own pid (exec, no wrapper shell), so that /proc/$DEBEZIUM_PID is the
#       JVM, and registers it with the harness like a relay: RELAY_PIDS (SIGKILLed by the EXIT
#       trap), RELAY_LOGS (LOGFILE's tail printed, headed "relay log", when the test fails).
#       Returns at once; Debezium streams some 10-20 s later with the server, a few seconds
#       with the engine (debezium_wait_streaming).
#   debezium_wait_streaming SLOT [TIMEOUT_S]
#       Waits (default 120 s) until Debezium streams from SLOT (the slot is active); fails the
#       test at once if the JVM exits first. On a start with stored offsets Debezium connects
#       twice (a first pass looks for its position in the WAL, then it reconnects), so an
#       active slot does not yet mean records flow: a latency measurement should wait for a
#       warm-up event in Kafka instead.
#   debezium_alive                   the JVM of the last debezium_start is running
#   debezium_stop
#       SIGTERM (the engine shuts down and commits the offsets of what Kafka acked), waits up to
#       DEBEZIUM_STOP_TIMEOUT (60) s for the exit, then SIGKILL; reaps the process and logs its
#       exit status (the server's ordinary answer to SIGTERM is 143, Quarkus'; the engine's 0).
#       Fails the test if it survives SIGKILL.
#   debezium_vmhwm_kb                peak RSS (VmHWM) of the JVM in kB
#   debezium_cpu_ms                  user + system CPU of the JVM (all its threads) so far, in ms
#       Read both before debezium_stop: afterwards the process is gone.
#
# Debezium's own batching and queueing stay at their defaults (2.7.3) unless EXTRA lines set
# them; the latency benchmark lowers the poll interval:
#   debezium.source.max.batch.size=2048          records handed to the sink per batch; the
#                                                engine runner sends a batch and waits for all
#                                                its acks, the server's sink one by one
#   debezium.source.max.queue.size=8192          records buffered between the connector and
#                                                the sink
#   debezium.source.max.queue.size.in.bytes=0    no bound in bytes
#   debezium.source.poll.interval.ms=500         how long the engine waits for more records
#                                                before handing over a partial batch
#   debezium.sink.kafka.producer.linger.ms=0     Kafka client 3.7 defaults (batch.size=16384)
# What this file sets beyond the connector's required settings: the producer's acks=all and
# enable.idempotence=true (outbox-relay's fixed, durable settings), offset.flush.interval.ms=0
# (offsets, and with them the slot's confirmed position, after every batch, as the relay
# confirms its slot once Kafka has acked; Debezium's default is 60 s), quarkus.http.port=0 (the
# health endpoint on a free port instead of 8080).

DEBEZIUM_HOME=${DEBEZIUM_HOME:-$REPO/tests/bench/debezium/dist/debezium-server}
DEBEZIUM_RUNTIME=${DEBEZIUM_RUNTIME:-engine}   # engine (OutboxEngine.java) or server
DEBEZIUM_PID=""        # the JVM of the last debezium_start
# where OutboxEngine.class is: fetch.sh's output, or $T/engine-classes for a DEBEZIUM_HOME of
# one's own (debezium_fetch)
DEBEZIUM_ENGINE_CLASSES=$REPO/tests/bench/debezium/dist/engine-classes

debezium_fetch() {
  case $DEBEZIUM_RUNTIME in
    engine|server) ;;
    *) fail "DEBEZIUM_RUNTIME=$DEBEZIUM_RUNTIME: engine or server" ;;
  esac
  if [ "$DEBEZIUM_HOME" != "$REPO/tests/bench/debezium/dist/debezium-server" ]; then
    compgen -G "$DEBEZIUM_HOME/debezium-server-dist-*-runner.jar" >/dev/null \
      || fail "DEBEZIUM_HOME=$DEBEZIUM_HOME holds no debezium-server-dist-*-runner.jar"
    [ "$DEBEZIUM_RUNTIME" = engine ] || return 0
    DEBEZIUM_ENGINE_CLASSES=$T/engine-classes
    mkdir -p "$DEBEZIUM_ENGINE_CLASSES"
    javac --release 17 -nowarn -cp "$DEBEZIUM_HOME/lib/*" -d "$DEBEZIUM_ENGINE_CLASSES" \
          "$REPO/tests/bench/debezium/OutboxEngine.java" >"$T/engine-javac.log" 2>&1 \
      || { cat "$T/engine-javac.log" >&2
           fail "could not compile OutboxEngine.java against DEBEZIUM_HOME=$DEBEZIUM_HOME"; }
    return 0
  fi
  bash "$REPO/tests/bench/debezium/fetch.sh" \
    || fail "could not fetch Debezium Server (tests/bench/debezium/fetch.sh)"
}

debezium_prepare() {
  [ $# -ge 2 ] || fail "usage: debezium_prepare SLOT PUBLICATION [TABLE]"
  local slot=$1 pub=$2 table=${3:-public.outbox} plugin
  pg_admin_sql "DO \$\$
    BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = '$pub') THEN
        CREATE PUBLICATION \"$pub\" FOR TABLE $table WITH (publish = 'insert');
      END IF;
    END \$\$" "$PG_DB" >/dev/null || fail "could not create publication $pub"
  [ "$(pg_admin_sql "SELECT count(*) FROM pg_publication_tables
                     WHERE pubname = '$pub'
                       AND format('%I.%I', schemaname, tablename)::regclass = '$table'::regclass" \
         "$PG_DB")" -ge 1 ] || fail "publication $pub exists but does not publish $table"
  plugin=$(pg_admin_sql "SELECT plugin FROM pg_replication_slots WHERE slot_name = '$slot'" \
             "$PG_DB")
  if [ -z "$plugin" ]; then
    pg_admin_sql "SELECT pg_create_logical_replication_slot('$slot', 'pgoutput')" "$PG_DB" \
      >/dev/null || fail "could not create replication slot $slot"
    log "debezium: publication $pub (insert on $table), slot $slot created"
  else
    [ "$plugin" = pgoutput ] || fail "slot $slot exists with plugin $plugin, not pgoutput"
    log "debezium: publication $pub and slot $slot already there"
  fi
}

# debezium_dsn_field KEY: the value of KEY=... in $PG_DSN (the harness's DSNs hold no quotes).
debezium_dsn_field() {
  local kv
  for kv in $PG_DSN; do
    case $kv in "$1="*) printf '%s\n' "${kv#*=}"; return 0 ;; esac
  done
}

debezium_conf() {
  [ $# -ge 4 ] || fail "usage: debezium_conf DIR SLOT PUBLICATION TOPIC_PREFIX [EXTRA_LINES]"
  local dir=$1 slot=$2 pub=$3 prefix=$4 extra=${5:-}
  local host port db user password="" file
  host=$(debezium_dsn_field host); port=$(debezium_dsn_field port)
  db=$(debezium_dsn_field dbname); user=$(debezium_dsn_field user)
  # Quarkus takes an empty value for a missing one: no password line without a password
  # shellcheck disable=SC2016  # a Quarkus expression, written as it is
  [ -z "$(debezium_dsn_field password)" ] \
    || password='debezium.source.database.password=${DEBEZIUM_DB_PASSWORD}'
  mkdir -p "$dir/conf" "$dir/data" "$dir/tmp"
  dir=$(cd "$dir" && pwd)
  file=$dir/conf/application.properties
  # ${DEBEZIUM_DB_PASSWORD} is a Quarkus expression (resolved from the environment); the
  # router's own placeholder ${routedByValue} is written $${routedByValue}, escaped, or Quarkus
  # would try to resolve it, find nothing, hand Debezium a null and Debezium Server would die
  # with a NullPointerException (in DebeziumServer.configToProperties) at start-up.
  cat >"$file.defaults" <<EOF
debezium.sink.type=kafka
debezium.sink.kafka.producer.bootstrap.servers=$KAFKA_BROKERS
debezium.sink.kafka.producer.key.serializer=org.apache.kafka.common.serialization.StringSerializer
debezium.sink.kafka.producer.value.serializer=org.apache.kafka.common.serialization.StringSerializer
debezium.sink.kafka.producer.acks=all
debezium.sink.kafka.producer.enable.idempotence=true
debezium.source.connector.class=io.debezium.connector.postgresql.PostgresConnector
debezium.source.offset.storage.file.filename=$dir/data/offsets.dat
debezium.source.offset.flush.interval.ms=0
debezium.source.database.hostname=${host:-127.0.0.1}
debezium.source.database.port=${port:-$PG_PORT}
debezium.source.database.dbname=${db:-$PG_DB}
debezium.source.database.user=${user:-$PG_USER}
$password
debezium.source.topic.prefix=outbox_bench
debezium.source.plugin.name=pgoutput
debezium.source.slot.name=$slot
debezium.source.publication.name=$pub
debezium.source.publication.autocreate.mode=disabled
debezium.source.snapshot.mode=no_data
debezium.source.table.include.list=public.outbox
debezium.transforms=outbox
debezium.transforms.outbox.type=io.debezium.transforms.outbox.EventRouter
debezium.transforms.outbox.table.field.event.id=event_id
debezium.transforms.outbox.table.field.event.key=aggregate_id
debezium.transforms.outbox.table.field.event.payload=payload
debezium.transforms.outbox.route.by.field=aggregate_type
debezium.transforms.outbox.route.topic.replacement=$prefix\$\${routedByValue}
debezium.transforms.outbox.table.fields.additional.placement=event_type:header,event_id:header
debezium.format.key=simplestring
debezium.format.value=simplestring
debezium.format.header.schemas.enable=false
quarkus.http.host=127.0.0.1
quarkus.http.port=0
quarkus.log.console.json=false
EOF
  printf '%s\n' "$extra" >"$file.extra"
  # a default whose key an EXTRA line sets is left out
  awk 'function key(l) { sub(/^[ \t]+/, "", l); sub(/[ \t]*[=:].*$/, "", l); return l }
       NR == FNR { if ($0 !~ /^[ \t]*(#|$)/) set[key($0)] = 1; next }
       /^[ \t]*$/ { next }
       !(key($0) in set)' "$file.extra" "$file.defaults" >"$file"
  grep -v '^[[:space:]]*$' "$file.extra" >>"$file" || true
  rm -f "$file.defaults" "$file.extra"
}

debezium_start() {
  [ $# -eq 2 ] || fail "usage: debezium_start DIR LOGFILE"
  local dir=$1 logfile=$2 runner cmd
  runner=$(compgen -G "$DEBEZIUM_HOME/debezium-server-dist-*-runner.jar" | head -n 1) \
    || fail "no Debezium Server in $DEBEZIUM_HOME: call debezium_fetch first"
  [ -f "$dir/conf/application.properties" ] \
    || fail "no $dir/conf/application.properties: call debezium_conf first"
  if [ -n "$DEBEZIUM_PID" ] && my_child "$DEBEZIUM_PID"; then
    fail "debezium_start: Debezium (pid $DEBEZIUM_PID) is still running"
  fi
  mkdir -p "$dir/tmp"
  dir=$(cd "$dir" && pwd)
  case $DEBEZIUM_RUNTIME in
    engine)
      [ -f "$DEBEZIUM_ENGINE_CLASSES/OutboxEngine.class" ] \
        || fail "no OutboxEngine.class in $DEBEZIUM_ENGINE_CLASSES: call debezium_fetch first"
      cmd=(-cp "$DEBEZIUM_HOME/lib/*:$DEBEZIUM_ENGINE_CLASSES" OutboxEngine
           "$dir/conf/application.properties") ;;
    server)
      cmd=(-cp "$runner:$dir/conf:$DEBEZIUM_HOME/lib/*" io.debezium.server.Main) ;;
    *) fail "DEBEZIUM_RUNTIME=$DEBEZIUM_RUNTIME: engine or server" ;;
  esac
  # shellcheck disable=SC2086  # DEBEZIUM_JAVA_OPTS is a list of options
  (cd "$dir" && DEBEZIUM_DB_PASSWORD=$(debezium_dsn_field password) \
     exec java ${DEBEZIUM_JAVA_OPTS:-} -Djava.io.tmpdir="$dir/tmp" "${cmd[@]}") \
    >>"$logfile" 2>&1 &
  DEBEZIUM_PID=$!
  RELAY_PIDS+=("$DEBEZIUM_PID")
  RELAY_LOGS+=("$logfile")
  log "debezium ($DEBEZIUM_RUNTIME) started (pid $DEBEZIUM_PID, log $(basename "$logfile"))"
}

debezium_alive() { [ -n "$DEBEZIUM_PID" ] && my_child "$DEBEZIUM_PID"; }

# debezium_streaming SLOT: for wait_for; fails the test at once when the JVM has exited.
debezium_streaming() {
  debezium_alive || fail "Debezium (pid $DEBEZIUM_PID) exited before it streamed from slot $1"
  pg_slot_active "$1"
}

debezium_wait_streaming() {
  [ $# -ge 1 ] || fail "usage: debezium_wait_streaming SLOT [TIMEOUT_S]"
  wait_for "debezium streaming from slot $1" "${2:-120}" debezium_streaming "$1"
}

debezium_stop() {
  local pid=$DEBEZIUM_PID rc=0
  [ -n "$pid" ] || fail "debezium_stop: no Debezium was started"
  kill_child TERM "$pid" || fail "Debezium (pid $pid) is not running"
  if ! try_for "${DEBEZIUM_STOP_TIMEOUT:-60}" child_gone "$pid"; then
    log "debezium did not exit within ${DEBEZIUM_STOP_TIMEOUT:-60} s of SIGTERM; killing it"
    kill_child KILL "$pid" 2>/dev/null || true
    try_for 10 child_gone "$pid" || fail "Debezium (pid $pid) survives SIGKILL"
  fi
  wait "$pid" 2>/dev/null || rc=$?
  DEBEZIUM_PID=""
  log "debezium $pid stopped (exit status $rc)"
}

debezium_vmhwm_kb() {
  [ -n "$DEBEZIUM_PID" ] || fail "debezium_vmhwm_kb: no Debezium running"
  awk '/^VmHWM:/ { print $2 }' "/proc/$DEBEZIUM_PID/status"
}

debezium_cpu_ms() {
  [ -n "$DEBEZIUM_PID" ] || fail "debezium_cpu_ms: no Debezium running"
  local stat tck
  stat=$(cat "/proc/$DEBEZIUM_PID/stat") || fail "Debezium (pid $DEBEZIUM_PID) is gone"
  stat=${stat##*) }     # the fields after "pid (comm) "; comm may hold spaces
  tck=$(getconf CLK_TCK)
  # shellcheck disable=SC2086
  set -- $stat          # $12 utime, $13 stime: fields 14 and 15 of proc(5)'s stat
  echo $(( (${12} + ${13}) * 1000 / tck ))
}
