#!/usr/bin/env bash
# Kafka over SASL_SSL with SCRAM against a real broker. The broker gets a SASL_SSL listener with
# a certificate from the test's own CA (tests/lib/security.sh) and SCRAM-SHA-512 credentials
# made at format time (kafka-storage format --add-scram); its PLAINTEXT listener stays for the
# harness's helpers, the relay is given only the secure one. The relay's kafka group passes
# security_protocol, sasl_*, ssl_ca_location through to librdkafka, the password from
# ${KAFKA_PASSWORD}. Shows:
# - events delivered and marked over SASL_SSL; read back with kcat over SASL_SSL (same
#   settings): every row's event once, keyed by aggregate_id;
# - a wrong password: an authentication error in the log, /readyz 503, nothing marked or sent;
# - a CA that did not sign the broker's certificate: a TLS certificate error in the log,
#   /readyz 503, nothing marked;
# - neither the password nor the wrong one appears in any output (harness secret check).
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/security.sh"

command -v curl >/dev/null || fail "curl is needed (tests/install-deps.sh)"
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1"; }
http_is() { [ "$(code "$2")" = "$1" ]; }

tls_ca ca
tls_ca otherca
tls_cert kafka ca "DNS:localhost,IP:127.0.0.1"
KAFKA_PASSWORD=$(random_secret "kafkapw-")
BAD_PASSWORD=$(random_secret "badpw-")
secret_add "$BAD_PASSWORD"
kafka_secure_prepare relay "$KAFKA_PASSWORD" SCRAM-SHA-512
export KAFKA_PASSWORD BAD_PASSWORD

pg_start
kafka_start
pg_migrate
log "SASL_SSL listener on $KAFKA_SECURE_BROKERS (PLAINTEXT for the harness on $KAFKA_BROKERS)"
kcat_secure_conf "$T/kcat-secure.conf" "$TLS_DIR/ca.crt" relay "$KAFKA_PASSWORD"
secure_kcat() { KCAT_OPTS="-q -F $T/kcat-secure.conf" KAFKA_BROKERS=$KAFKA_SECURE_BROKERS "$@"; }
wait_for "kcat reaches the SASL_SSL listener" 30 secure_kcat kafka_answers

free_port; METRICS_PORT=$FREE_PORT
READYZ=http://127.0.0.1:$METRICS_PORT/readyz

# secure_conf FILE SOURCE PASSWORD_VAR CA: a relay config for the SASL_SSL listener only
secure_conf() {
  relay_conf -o "$1" -s "$2" -b "$KAFKA_SECURE_BROKERS" -k "
  security_protocol = \"SASL_SSL\";
  sasl_mechanisms = \"SCRAM-SHA-512\";
  sasl_username = \"relay\";
  sasl_password = \"\${$3}\";
  ssl_ca_location = \"$TLS_DIR/$4.crt\";"
  echo "metrics = { listen = \"127.0.0.1:$METRICS_PORT\"; };" >>"$1"
}

# ---- delivery over SASL_SSL
pg_sql "SELECT count(outbox_emit('order', 'agg-' || (g % 25), 'OrderPlaced',
                                 jsonb_build_object('g', g)))
        FROM generate_series(1, 500) g" >/dev/null
secure_conf "$T/good.conf" secure KAFKA_PASSWORD ca
relay_start "$T/good.conf" "$T/good.log"
wait_for "500 rows marked over SASL_SSL" 60 pg_all_marked
wait_for "/readyz 200" 30 http_is 200 "$READYZ"
relay_stop

secure_kcat kafka_consume outbox.event.order '%k\t%h\n' \
  | sed -n 's/^\([^\t]*\)\t.*event_id=\([^,]*\).*/\2\t\1/p' | sort >"$T/kafka.tsv"
pg_sql "SELECT event_id || E'\t' || aggregate_id FROM outbox" | sort >"$T/rows.tsv"
[ "$(wc -l <"$T/kafka.tsv")" -eq 500 ] \
  || fail "expected 500 records over SASL_SSL, read $(wc -l <"$T/kafka.tsv")"
diff "$T/rows.tsv" "$T/kafka.tsv" >"$T/diff.out" \
  || fail "Kafka does not hold exactly the rows' events with their keys: $(head "$T/diff.out")"
log "500 events read back over SASL_SSL, each once with its key"

# ---- a wrong password
pg_sql "SELECT count(outbox_emit('badpw', 'agg-' || g, 'OrderPlaced', '{}'))
        FROM generate_series(1, 5) g" >/dev/null
secure_conf "$T/badpw.conf" secure BAD_PASSWORD ca
relay_start "$T/badpw.conf" "$T/badpw.log"
wait_for "an authentication error in the log" 60 \
  log_has "$T/badpw.log" 'SASL authentication error: Authentication failed'
try_for 10 http_is 503 "$READYZ" || fail "/readyz is not 503 with a wrong password"
assert_for "nothing marked with a wrong password" 3 eval '[ "$(pg_unmarked)" -eq 5 ]'
relay_alive || fail "the relay exited on an authentication error"
log "wrong password: $(grep -m1 'Authentication failed' "$T/badpw.log")"
relay_stop
[ "$(secure_kcat kafka_count outbox.event.badpw)" -eq 0 ] || fail "events sent with a wrong password"

# ---- a CA that did not sign the broker's certificate
secure_conf "$T/badca.conf" secure KAFKA_PASSWORD otherca
relay_start "$T/badca.conf" "$T/badca.log"
wait_for "a certificate error in the log" 60 log_has "$T/badca.log" 'certificate verify failed'
try_for 10 http_is 503 "$READYZ" || fail "/readyz is not 503 with a wrong CA"
assert_for "nothing marked with a wrong CA" 3 eval '[ "$(pg_unmarked)" -eq 5 ]'
relay_alive || fail "the relay exited on a TLS error"
log "wrong CA: $(grep -m1 'certificate verify failed' "$T/badca.log")"
relay_stop

# ---- and the right settings again deliver what waited
relay_start "$T/good.conf" "$T/good2.log"
wait_for "the waiting rows marked" 60 pg_all_marked
relay_stop
[ "$(secure_kcat kafka_count outbox.event.badpw)" -eq 5 ] || fail "the 5 waiting events are not in Kafka"
