#!/usr/bin/env bash
# TLS to PostgreSQL with sslmode=verify-full against a real server. The test makes its own CA
# and a server certificate for localhost/127.0.0.1 with openssl, turns ssl on, and creates the
# relay's roles (least privilege, tests/lib/security.sh) so that they can log in only over TLS
# (hostssl) and only with their scram-sha-256 password. Shows:
# - poll mode: events delivered and marked; every backend of the relay is encrypted
#   (pg_stat_ssl); `status` and `replay` work over TLS with the same DSN;
# - logical mode: events delivered in commit order; the query and the walsender connection both
#   encrypted;
# - `migrate` over TLS (verify-full);
# - a wrong CA: the relay logs "certificate verify failed", stays up and retrying, /readyz 503,
#   nothing marked; migrate fails with the same reason (exit 69);
# - a certificate for another host name (verify-full with host=localhost): refused, the log
#   names both names.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/logical.sh"
. "$(dirname "$0")/../lib/security.sh"

command -v curl >/dev/null || fail "curl is needed (tests/install-deps.sh)"
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1"; }
http_is() { [ "$(code "$2")" = "$1" ]; }

pg_start
kafka_start
pg_migrate

tls_ca ca
tls_ca otherca
tls_cert pgserver ca "DNS:localhost,IP:127.0.0.1"
tls_cert pgother ca "DNS:db.other.test"
pg_ssl_on pgserver

pg_relay_role poll relay_poll ssl replay
POLL_DSN="host=localhost port=$PG_PORT dbname=$PG_DB user=relay_poll password=$RELAY_ROLE_PASSWORD sslmode=verify-full sslrootcert=$TLS_DIR/ca.crt"
POLL_PW=$RELAY_ROLE_PASSWORD

# the role cannot log in without TLS, nor with a wrong password
if pg_as_role relay_poll "$POLL_PW" "SELECT 1" "sslmode=disable" >"$T/nossl.out" 2>&1; then
  fail "relay_poll logged in without TLS"
fi
log_has "$T/nossl.out" 'pg_hba.conf rejects connection|no encryption' \
  || fail "no pg_hba rejection without TLS: $(cat "$T/nossl.out")"
if pg_as_role relay_poll wrong-password "SELECT 1" "sslmode=require" >"$T/badpw.out" 2>&1; then
  fail "relay_poll logged in with a wrong password"
fi
log_has "$T/badpw.out" 'password authentication failed' \
  || fail "no password failure: $(cat "$T/badpw.out")"
[ "$(pg_as_role relay_poll "$POLL_PW" "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()" \
      "sslmode=verify-full sslrootcert=$TLS_DIR/ca.crt host=localhost")" = t ] \
  || fail "relay_poll over verify-full is not encrypted"

# ---- poll mode over TLS
pg_sql "SELECT count(outbox_emit('order', 'agg-' || (g % 20), 'OrderPlaced',
                                 jsonb_build_object('g', g)))
        FROM generate_series(1, 300) g" >/dev/null
free_port; METRICS_PORT=$FREE_PORT
relay_conf -o "$T/poll.conf" -s tlspoll -d "$POLL_DSN"
echo "metrics = { listen = \"127.0.0.1:$METRICS_PORT\"; };" >>"$T/poll.conf"
relay_start "$T/poll.conf" "$T/poll.log"
wait_for "300 rows marked over TLS" 60 pg_all_marked
wait_for "/readyz 200" 30 http_is 200 "http://127.0.0.1:$METRICS_PORT/readyz"
[ "$(pg_backend_ssl outbox-relay/tlspoll)" = t ] \
  || fail "the poll relay has a backend without TLS (or none): $(pg_admin_sql \
       "SELECT a.pid, a.usename, s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
        WHERE application_name LIKE 'outbox-relay%'")"
# the reading session and the marking session (outbox-relay/tlspoll/mark), both encrypted
[ "$(pg_backend_ssl_count outbox-relay/tlspoll)" -ge 2 ] \
  || fail "the poll relay's marking session is missing or not over TLS"
log "poll relay backends over TLS: $(pg_backend_ssl_count outbox-relay/tlspoll), as $(pg_admin_sql \
     "SELECT string_agg(DISTINCT usename, ',') FROM pg_stat_activity
      WHERE application_name = 'outbox-relay/tlspoll'")"

"$OUTBOX_RELAY" status -c "$T/poll.conf" >"$T/status.out" 2>&1 \
  || { cat "$T/status.out" >&2; fail "status over TLS failed"; }
grep -Eq '^tlspoll +poll +active' "$T/status.out" \
  || fail "status does not show the active poll source: $(cat "$T/status.out")"
"$OUTBOX_RELAY" replay -c "$T/poll.conf" --source tlspoll --from-id 1 --to-id 10 \
  >"$T/replay.out" 2>&1 || { cat "$T/replay.out" >&2; fail "replay over TLS failed"; }
log_has "$T/replay.out" '10 selected, 10 sent, 10 acked, 0 failed' \
  || fail "replay did not send 10 events: $(tail -n 3 "$T/replay.out")"
relay_stop
verify_outbox --expect-all-marked --allow-duplicates
[ "$(kafka_consume outbox.event.order '%h\n' | grep -c 'replay=')" -eq 10 ] \
  || fail "the 10 replayed events are not in Kafka"

# ---- logical mode over TLS
pg_relay_role logical relay_logical ssl publication=outbox_relay_tlslogical
LOGICAL_DSN="host=localhost port=$PG_PORT dbname=$PG_DB user=relay_logical password=$RELAY_ROLE_PASSWORD sslmode=verify-full sslrootcert=$TLS_DIR/ca.crt"
truth_start
relay_conf -o "$T/logical.conf" -s tlslogical -m logical -d "$LOGICAL_DSN"
relay_start "$T/logical.conf" "$T/logical.log"
wait_for "the logical relay streams" 60 pg_slot_active outbox_relay_tlslogical
for tx in 1 2 3 4 5; do
  pg_sql "BEGIN;
    INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload)
      SELECT 'lorder', 'agg-' || (g % 7), 'Placed', jsonb_build_object('tx', $tx, 'g', g)
      FROM generate_series(1, 40) g;
    SELECT count(outbox_emit_message('lorder', 'agg-' || (g % 7), 'Placed',
                                     jsonb_build_object('tx', $tx, 'g', g)))
      FROM generate_series(41, 60) g;
    COMMIT;" >/dev/null
done
wait_for "300 logical events in Kafka" 60 kafka_messages_at_least 300 '^outbox\.event\.lorder$'
[ "$(pg_backend_ssl outbox-relay/tlslogical)" = t ] || fail "the logical relay has a backend without TLS"
[ "$(pg_admin_sql "SELECT count(*) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
                   WHERE a.application_name = 'outbox-relay/tlslogical' AND s.ssl
                     AND a.backend_type = 'walsender'")" -ge 1 ] \
  || fail "the logical relay's walsender is not encrypted"
relay_stop
truth_load
kafka_load msgs '^outbox\.event\.lorder$'
verify_logical

# ---- migrate over TLS (as the owner, another schema)
MIGRATE_DSN="host=localhost port=$PG_PORT dbname=$PG_DB user=$PG_USER sslmode=verify-full"
"$OUTBOX_RELAY" migrate --dsn "$MIGRATE_DSN sslrootcert=$TLS_DIR/ca.crt" --schema tls_other \
  >"$T/migrate.out" 2>&1 || { cat "$T/migrate.out" >&2; fail "migrate over TLS failed"; }
[ "$(pg_sql "SELECT to_regclass('tls_other.outbox') IS NOT NULL")" = t ] \
  || fail "migrate over TLS did not create tls_other.outbox"

# ---- a CA that did not sign the server's certificate
rc=0
"$OUTBOX_RELAY" migrate --dsn "$MIGRATE_DSN sslrootcert=$TLS_DIR/otherca.crt" --schema tls_bad \
  >"$T/migrate-badca.out" 2>&1 || rc=$?
[ "$rc" -eq 69 ] || fail "migrate with a wrong CA exited $rc, expected 69"
log_has "$T/migrate-badca.out" 'certificate verify failed' \
  || fail "migrate does not name the certificate problem: $(cat "$T/migrate-badca.out")"

pg_sql "SELECT outbox_emit('order', 'agg-x', 'OrderPlaced', '{}')" >/dev/null
x_unmarked() { pg_sql "SELECT count(*) FROM outbox WHERE aggregate_id = 'agg-x' AND published_at IS NULL"; }
sed "s#sslrootcert=$TLS_DIR/ca.crt#sslrootcert=$TLS_DIR/otherca.crt#" "$T/poll.conf" >"$T/badca.conf"
relay_start "$T/badca.conf" "$T/badca.log"
wait_for "a certificate error in the log, twice (retrying)" 60 \
  eval '[ "$(log_count "$T/badca.log" "could not connect to database at localhost:$PG_PORT: .*certificate verify failed")" -ge 2 ]'
relay_alive || fail "the relay exited on a certificate error"
[ "$(code "http://127.0.0.1:$METRICS_PORT/readyz")" = 503 ] || fail "/readyz is not 503 with a wrong CA"
[ "$(x_unmarked)" -eq 1 ] || fail "a row was marked without a verified connection"
log "wrong CA: $(grep -m1 'certificate verify failed' "$T/badca.log")"
relay_stop

# ---- the server presents a certificate (from the right CA) for another host name
pg_ssl_on pgother
relay_start "$T/poll.conf" "$T/badhost.log"
wait_for "a host name mismatch in the log" 60 log_has "$T/badhost.log" \
  'server certificate for "db\.other\.test" does not match host name "localhost"'
relay_alive || fail "the relay exited on a host name mismatch"
[ "$(x_unmarked)" -eq 1 ] || fail "a row was marked over a connection to the wrong host"
relay_stop
log "wrong host: $(grep -m1 'does not match host name' "$T/badhost.log")"
