#!/usr/bin/env bash
# Secrets reach the relay from files or the environment and never show in its logs, its
# outputs or its command line. The relay logs in as a role whose password the server checks
# (scram-sha-256) and publishes over SASL_SSL with a SCRAM password (tests/lib/security.sh).
# Shows, each time with events delivered and marked:
# - the database and the Kafka password as ${credential:NAME} files ($CREDENTIALS_DIRECTORY,
#   as systemd's LoadCredential= hands them over; a trailing newline is not part of them);
# - both as ${VAR} environment variables;
# - the database password from a libpq passfile (dsn passfile=...), Kafka's from a credential;
# - while each relay runs (at log level debug) and while `migrate --dsn '${APP_DSN}'` waits for
#   its lock, /proc/<pid>/cmdline and ps show no secret;
# - a dsn libpq cannot parse is refused by check-config (exit 78) and by status without
#   quoting it (libpq's own message would quote the password);
# - a missing credential or variable is named, its value never shown;
# and the harness fails the test if either password appears in any output (HARNESS_SECRETS).
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/security.sh"

tls_ca ca
tls_cert kafka ca "DNS:localhost,IP:127.0.0.1"
KAFKA_PASSWORD=$(random_secret "kafkapw-")
kafka_secure_prepare relay "$KAFKA_PASSWORD" SCRAM-SHA-512
pg_start
kafka_start
pg_migrate
pg_relay_role poll relay_cred
DB_PASSWORD=$RELAY_ROLE_PASSWORD
BASE_DSN="host=127.0.0.1 port=$PG_PORT dbname=$PG_DB user=relay_cred"

CRED=$T/credentials
mkdir -m 700 "$CRED"
printf '%s\n' "$DB_PASSWORD" >"$CRED/db-password"
printf '%s\n' "$KAFKA_PASSWORD" >"$CRED/kafka-password"
printf '127.0.0.1:%s:%s:relay_cred:%s\n' "$PG_PORT" "$PG_DB" "$DB_PASSWORD" >"$CRED/pgpass"
chmod 600 "$CRED"/*

# cred_conf FILE SOURCE DSN KAFKA_PASSWORD_REF
cred_conf() {
  relay_conf -o "$1" -s "$2" -d "$3" -b "$KAFKA_SECURE_BROKERS" -l debug -k "
  security_protocol = \"SASL_SSL\";
  sasl_mechanisms = \"SCRAM-SHA-512\";
  sasl_username = \"relay\";
  sasl_password = \"$4\";
  ssl_ca_location = \"$TLS_DIR/ca.crt\";"
}

# no_secret_in_cmdline PID: neither password in the process's command line, as /proc and ps
# show it to every user of the machine
no_secret_in_cmdline() {
  local args s
  args=$(tr '\0' ' ' <"/proc/$1/cmdline"; ps -o args= -p "$1")
  for s in "$DB_PASSWORD" "$KAFKA_PASSWORD" "$PG_SECRET"; do
    case "$args" in *"$s"*) fail "a secret is in the command line of pid $1" ;; esac
  done
  log "pid $1 command line: $(tr '\0' ' ' <"/proc/$1/cmdline")"
}

N=0
# deliver CONF LOG [ENV...]: inserts 50 events, runs the relay on CONF with ENV until they are
# marked, checks its command line, stops it
deliver() {
  local conf=$1 logfile=$2
  shift 2
  N=$(( N + 50 ))
  pg_sql "SELECT count(outbox_emit('order', 'agg-' || (g % 5), 'OrderPlaced', '{}'))
          FROM generate_series(1, 50) g" >/dev/null
  relay_require
  env "$@" "$OUTBOX_RELAY" run -c "$conf" >>"$logfile" 2>&1 &
  RELAY_PID=$!
  RELAY_PIDS+=("$RELAY_PID")
  RELAY_LOGS+=("$logfile")
  wait_for "$N rows marked ($(basename "$conf"))" 60 pg_all_marked
  [ "$(pg_admin_sql "SELECT count(*) FROM pg_stat_activity
                     WHERE usename = 'relay_cred' AND application_name LIKE 'outbox-relay/%'")" -ge 1 ] \
    || fail "the relay is not logged in as relay_cred"
  no_secret_in_cmdline "$RELAY_PID"
  relay_stop
}

# ---- ${credential:NAME}
cred_conf "$T/cred.conf" creds "$BASE_DSN password=\${credential:db-password}" \
  '${credential:kafka-password}'
deliver "$T/cred.conf" "$T/cred.log" CREDENTIALS_DIRECTORY="$CRED"

# ---- ${VAR}
cred_conf "$T/env.conf" envs "$BASE_DSN password=\${DB_PASSWORD}" '${KAFKA_PASSWORD}'
deliver "$T/env.conf" "$T/env.log" DB_PASSWORD="$DB_PASSWORD" KAFKA_PASSWORD="$KAFKA_PASSWORD"

# ---- libpq passfile
cred_conf "$T/passfile.conf" passfile "$BASE_DSN passfile=$CRED/pgpass" '${credential:kafka-password}'
deliver "$T/passfile.conf" "$T/passfile.log" CREDENTIALS_DIRECTORY="$CRED"

KAFKA_MSGS=$(kafka_count outbox.event.order)   # read back over the harness's PLAINTEXT listener
[ "$KAFKA_MSGS" -eq "$N" ] || fail "expected $N records in Kafka, found $KAFKA_MSGS"

# ---- migrate --dsn '${APP_DSN}': the expanded DSN never reaches the command line. It waits
# for the migrations' advisory lock, held here, so that it can be looked at while it runs.
pg_admin_sql "SELECT 1" >/dev/null
"$PG_BIN/psql" -X -q "host=127.0.0.1 port=$PG_PORT dbname=$PG_DB user=postgres application_name=locker" \
  -c "SELECT pg_advisory_lock($(( 0x6f757462 )), $(( 0x6d696772 )))" -c "SELECT pg_sleep(120)" \
  >/dev/null 2>&1 &
LOCKER=$!
wait_for "the migration lock held" 20 eval '[ "$(pg_admin_sql "SELECT count(*) FROM pg_locks
  WHERE locktype = '\''advisory'\'' AND granted AND classid = $(( 0x6f757462 ))")" -eq 1 ]'
APP_DSN=$PG_DSN "$OUTBOX_RELAY" migrate --dsn '${APP_DSN}' >"$T/migrate.out" 2>&1 &
MIGRATE=$!
wait_for "migrate waiting for the lock" 20 eval '[ "$(pg_admin_sql "SELECT count(*) FROM pg_locks
  WHERE locktype = '\''advisory'\'' AND NOT granted")" -ge 1 ]'
no_secret_in_cmdline "$MIGRATE"
grep -qF "$PG_SECRET" "/proc/$MIGRATE/environ" || fail "APP_DSN is not in migrate's environment"
pg_admin_sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
              WHERE application_name = 'locker'" >/dev/null
wait "$MIGRATE" || { cat "$T/migrate.out" >&2; fail "migrate --dsn '\${APP_DSN}' failed"; }
wait "$LOCKER" 2>/dev/null || true

# ---- a dsn libpq cannot parse: refused without quoting it
SPACED_A=$(random_secret "spa-") SPACED_B=$(random_secret "spb-")
secret_add "$SPACED_A"; secret_add "$SPACED_B"
relay_conf -o "$T/bad-dsn.conf" -s baddsn -d "$BASE_DSN password=\${SPACED}"
rc=0
SPACED="$SPACED_A $SPACED_B" "$OUTBOX_RELAY" check-config -c "$T/bad-dsn.conf" \
  >"$T/bad-dsn.out" 2>&1 || rc=$?
[ "$rc" -eq 78 ] || fail "check-config of an unparseable dsn exited $rc, expected 78"
log_has "$T/bad-dsn.out" 'dsn: not a valid libpq connection string' \
  || fail "check-config does not say the dsn is invalid: $(cat "$T/bad-dsn.out")"
relay_conf -o "$T/bad-uri.conf" -s baduri -d "postgresql://relay_cred:\${SPACED}@[::1/app"
rc=0
SPACED="$SPACED_A" "$OUTBOX_RELAY" status -c "$T/bad-uri.conf" >"$T/bad-uri.out" 2>&1 || rc=$?
[ "$rc" -eq 78 ] || fail "status with an unparseable URI exited $rc, expected 78"
log "unparseable dsn: $(cat "$T/bad-dsn.out")"

# ---- a missing credential or variable is named
rc=0
"$OUTBOX_RELAY" check-config -c "$T/cred.conf" >"$T/nocreds.out" 2>&1 || rc=$?
[ "$rc" -eq 78 ] && log_has "$T/nocreds.out" 'CREDENTIALS_DIRECTORY is not set' \
  || fail "no clear error without CREDENTIALS_DIRECTORY: $(cat "$T/nocreds.out")"
rc=0
CREDENTIALS_DIRECTORY=$T "$OUTBOX_RELAY" check-config -c "$T/cred.conf" >"$T/nofile.out" 2>&1 || rc=$?
[ "$rc" -eq 78 ] && log_has "$T/nofile.out" 'could not read credential "(db|kafka)-password": No such file' \
  || fail "no clear error for a missing credential file: $(cat "$T/nofile.out")"
rc=0
env -u DB_PASSWORD KAFKA_PASSWORD="$KAFKA_PASSWORD" "$OUTBOX_RELAY" check-config -c "$T/env.conf" >"$T/noenv.out" 2>&1 || rc=$?
[ "$rc" -eq 78 ] && log_has "$T/noenv.out" 'environment variable "DB_PASSWORD" is not set' \
  || fail "no clear error for a missing variable: $(cat "$T/noenv.out")"
CREDENTIALS_DIRECTORY=$CRED "$OUTBOX_RELAY" check-config -c "$T/cred.conf" >"$T/check.out" 2>&1 \
  || fail "check-config with credentials failed: $(cat "$T/check.out")"
