# shellcheck shell=bash
# Security helpers for the integration tests: a throwaway certificate authority, TLS on the
# harness's PostgreSQL, least-privilege relay roles with real passwords, and a SASL_SSL
# listener on the harness's Kafka broker. Source after harness.sh:
#
#   . "$(dirname "$0")/../lib/harness.sh"
#   . "$(dirname "$0")/../lib/security.sh"
#
#   tls_ca NAME                      a self-signed CA: $T/tls/NAME.crt, NAME.key
#   tls_cert NAME CA SAN             a server certificate signed by CA for SAN
#                                    (e.g. "DNS:localhost,IP:127.0.0.1"): $T/tls/NAME.crt, .key
#   pg_ssl_on CERT [CA]              ssl = on with $T/tls/CERT (reload, no restart); again to
#                                    switch to another certificate
#   pg_relay_role MODE NAME [FEATURE...]
#                                    creates role NAME with exactly the grants MODE (poll or
#                                    logical) needs, a random password that the server checks
#                                    (scram-sha-256), and sets RELAY_ROLE_DSN (password inline),
#                                    RELAY_ROLE_PASSWORD and RELAY_ROLE_BASE_DSN (without it).
#                                    FEATUREs: dead-letter, avro, delete (retention or
#                                    on_publish = "delete"), replay, ssl (hostssl only: the role
#                                    cannot log in without TLS), table=SCHEMA.TABLE (default
#                                    public.outbox), publication=NAME (logical, required: the
#                                    table's owner creates it here; the relay's default name is
#                                    its slot's, outbox_relay_<source>)
#   pg_as_role NAME PASSWORD SQL     runs SQL as NAME over TCP with its password
#   pg_backend_ssl APPNAME           "t" when every backend of application_name APPNAME runs
#                                    over TLS (pg_stat_ssl), nothing when there is none
#   kafka_secure_prepare USER PASSWORD [MECHANISM]
#                                    before kafka_start: adds a SASL_SSL listener with a
#                                    keystore from $T/tls/kafka.{crt,key} (make it with tls_cert)
#                                    and SCRAM credentials for USER; sets KAFKA_SECURE_BROKERS
#   kcat_secure_conf FILE CA USER PASSWORD [MECHANISM]
#                                    a kcat -F properties file for the SASL_SSL listener
#   secret_add SECRET                the harness fails the test if SECRET appears in its outputs
#
# The grants are the ones the README's "Security" section documents; test_least_privilege
# shows they are enough and that less is refused.

TLS_DIR=""
KAFKA_SECURE_PORT="" KAFKA_SECURE_BROKERS=""
RELAY_ROLE_DSN="" RELAY_ROLE_PASSWORD="" RELAY_ROLE_BASE_DSN=""

# secret_add SECRET: checked like $PG_SECRET when the test ends (tests/lib/harness.sh).
secret_add() { HARNESS_SECRETS="${HARNESS_SECRETS:-} $1"; }

# random_secret PREFIX: prints PREFIX followed by 24 random hex digits.
random_secret() { printf '%s%s\n' "$1" "$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"; }

tls_dir() {
  TLS_DIR=$T/tls
  mkdir -p "$TLS_DIR"
}

# tls_ca NAME: a self-signed CA certificate and key, $T/tls/NAME.crt and NAME.key.
tls_ca() {
  tls_dir
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 2 -subj "/CN=$1 test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$TLS_DIR/$1.key" -out "$TLS_DIR/$1.crt" >"$TLS_DIR/$1.log" 2>&1 \
    || { cat "$TLS_DIR/$1.log" >&2; fail "openssl could not make CA $1"; }
}

# tls_cert NAME CA SAN: a server certificate for SAN (openssl subjectAltName syntax) signed by
# CA, $T/tls/NAME.crt and NAME.key (PKCS#8, unencrypted).
tls_cert() {
  local name=$1 ca=$2 san=$3
  tls_dir
  openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=${san#*:}" \
    -keyout "$TLS_DIR/$name.key" -out "$TLS_DIR/$name.csr" >"$TLS_DIR/$name.log" 2>&1 \
    || { cat "$TLS_DIR/$name.log" >&2; fail "openssl could not make a key for $name"; }
  printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' \
    "$san" >"$TLS_DIR/$name.ext"
  openssl x509 -req -sha256 -days 2 -in "$TLS_DIR/$name.csr" -CA "$TLS_DIR/$ca.crt" \
    -CAkey "$TLS_DIR/$ca.key" -CAcreateserial -extfile "$TLS_DIR/$name.ext" \
    -out "$TLS_DIR/$name.crt" >>"$TLS_DIR/$name.log" 2>&1 \
    || { cat "$TLS_DIR/$name.log" >&2; fail "openssl could not sign $name"; }
}

# pg_ssl_on CERT [CA]: the server presents $T/tls/CERT.crt (key CERT.key; the key is copied into
# the cluster's directory, owned by its OS user with mode 0600 as the server demands) and, with
# CA, sends that CA as its ssl_ca_file. Applied with a reload; waits until a TLS session works.
pg_ssl_on() {
  local cert=$1 ca=${2:-} dir=$PG_DIR/data
  cp "$TLS_DIR/$cert.crt" "$dir/server-$cert.crt"
  cp "$TLS_DIR/$cert.key" "$dir/server-$cert.key"
  chmod 600 "$dir/server-$cert.key"
  [ "$(id -u)" -ne 0 ] || chown "$PG_OS_USER" "$dir/server-$cert.crt" "$dir/server-$cert.key"
  pg_admin_sql "ALTER SYSTEM SET ssl = on" >/dev/null
  pg_admin_sql "ALTER SYSTEM SET ssl_cert_file = 'server-$cert.crt'" >/dev/null
  pg_admin_sql "ALTER SYSTEM SET ssl_key_file = 'server-$cert.key'" >/dev/null
  pg_admin_sql "SELECT pg_reload_conf()" >/dev/null
  wait_for "PostgreSQL serving certificate $cert" 20 pg_serves_cert "$cert"
}

# pg_serves_cert CERT: a TLS session to the server shows the certificate $T/tls/CERT.crt.
pg_serves_cert() {
  local want got
  want=$(openssl x509 -in "$TLS_DIR/$1.crt" -noout -fingerprint -sha256)
  got=$(openssl s_client -starttls postgres -connect "127.0.0.1:$PG_PORT" </dev/null 2>/dev/null \
          | openssl x509 -noout -fingerprint -sha256 2>/dev/null) || return 1
  [ "$got" = "$want" ]
}

# pg_hba_prepend LINE...: puts LINEs first in pg_hba.conf (first match wins) and reloads.
pg_hba_prepend() {
  local hba=$PG_DIR/data/pg_hba.conf
  { printf '%s\n' "$@"; cat "$hba"; } >"$hba.new"
  cat "$hba.new" >"$hba"
  rm -f "$hba.new"
  pg_admin_sql "SELECT pg_reload_conf()" >/dev/null
}

# pg_relay_role MODE NAME [FEATURE...]: see the top of the file. The grants, and nothing else:
# PUBLIC's default CONNECT on the database and USAGE on the schema are revoked first, so the
# role has exactly what is granted here (the app role owns both and keeps them).
#   both       LOGIN, CONNECT on the database, USAGE on the outbox's schema
#   poll       SELECT, UPDATE (published_at) on the outbox
#   logical    REPLICATION; SELECT, INSERT, UPDATE on <schema>.outbox_relay_slots (the
#              position record); the publication is created here by the table's owner
#   dead-letter  SELECT, INSERT, UPDATE on <table>_dead_letters
#   avro       SELECT on <table>_schemas
#   delete     DELETE on the outbox (retention_ms, on_publish = "delete")
#   replay     SELECT, INSERT, UPDATE on <table>_replays (and UPDATE (recovered_at) on
#              <table>_dead_letters with dead-letter, for --dead-lettered)
pg_relay_role() {
  local mode=$1 name=$2 table=public.outbox ssl=0 f pub="" grants="" method=host
  local feats=()
  shift 2
  for f in "$@"; do
    case $f in
      ssl) ssl=1 ;;
      table=*) table=${f#table=} ;;
      publication=*) pub=${f#publication=} ;;
      dead-letter|avro|delete|replay) feats+=("$f") ;;
      *) fail "pg_relay_role: unknown feature $f" ;;
    esac
  done
  case $mode in poll|logical) ;; *) fail "pg_relay_role: mode must be poll or logical" ;; esac
  local schema=${table%%.*} rel=${table#*.}
  local q="\"$schema\".\"$rel\""
  RELAY_ROLE_PASSWORD=$(random_secret "rolepw-")
  secret_add "$RELAY_ROLE_PASSWORD"
  local repl=""
  [ "$mode" = poll ] || repl=" REPLICATION"
  grants="CREATE ROLE \"$name\" LOGIN PASSWORD '$RELAY_ROLE_PASSWORD'$repl;
    REVOKE ALL ON DATABASE \"$PG_DB\" FROM PUBLIC;
    REVOKE ALL ON SCHEMA \"$schema\" FROM PUBLIC;
    GRANT CONNECT ON DATABASE \"$PG_DB\" TO \"$name\";
    GRANT USAGE ON SCHEMA \"$schema\" TO \"$name\";"
  if [ "$mode" = poll ]; then
    grants="$grants GRANT SELECT, UPDATE (published_at) ON $q TO \"$name\";"
  else
    grants="$grants GRANT SELECT, INSERT, UPDATE ON \"$schema\".outbox_relay_slots TO \"$name\";"
  fi
  for f in ${feats[@]+"${feats[@]}"}; do
    case $f in
      dead-letter) grants="$grants GRANT SELECT, INSERT, UPDATE ON \"$schema\".\"${rel}_dead_letters\" TO \"$name\";" ;;
      avro) grants="$grants GRANT SELECT ON \"$schema\".\"${rel}_schemas\" TO \"$name\";" ;;
      delete) grants="$grants GRANT DELETE ON $q TO \"$name\";" ;;
      replay) grants="$grants GRANT SELECT, INSERT, UPDATE ON \"$schema\".\"${rel}_replays\" TO \"$name\";" ;;
    esac
  done
  # the password is given through psql's stdin, never on a command line
  printf '%s\n' "$grants" | pg_admin_sql_stdin "$PG_DB" || fail "pg_relay_role: grants for $name failed"
  if [ "$mode" = logical ]; then
    # the publication is the owner's to create (CREATE PUBLICATION ... FOR TABLE needs
    # ownership of the table); the relay finds it and only creates its slot
    [ -n "$pub" ] || fail "pg_relay_role logical: say publication=NAME (the relay's default is the slot's name, outbox_relay_<source>)"
    pg_sql "DO \$\$ BEGIN
              IF NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = '$pub') THEN
                CREATE PUBLICATION \"$pub\" FOR TABLE $q WITH (publish = 'insert');
              END IF; END \$\$" >/dev/null || fail "pg_relay_role: could not create publication $pub"
  fi
  [ "$ssl" -eq 0 ] || method=hostssl
  # only this role: a password is required (and, with ssl, TLS); other roles keep the
  # harness's trust lines
  # (a logical replication connection matches a database line, not "replication")
  pg_hba_prepend "$method all \"$name\" 127.0.0.1/32 scram-sha-256" \
                 "host all \"$name\" 0.0.0.0/0 reject"
  RELAY_ROLE_BASE_DSN="host=127.0.0.1 port=$PG_PORT dbname=$PG_DB user=$name"
  RELAY_ROLE_DSN="$RELAY_ROLE_BASE_DSN password=$RELAY_ROLE_PASSWORD"
  log "role $name: $mode grants${feats[*]:+ + ${feats[*]}}$([ "$ssl" -eq 0 ] || echo ', TLS only')"
}

# pg_admin_sql_stdin [DBNAME]: runs the SQL on stdin as the superuser postgres.
pg_admin_sql_stdin() {
  "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 \
    "host=127.0.0.1 port=$PG_PORT dbname=${1:-postgres} user=postgres" >/dev/null
}

# pg_as_role NAME PASSWORD SQL [EXTRA_CONNINFO]: runs SQL as NAME with its password (given
# through PGPASSWORD, not the command line).
pg_as_role() {
  PGPASSWORD=$2 "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 \
    "host=127.0.0.1 port=$PG_PORT dbname=$PG_DB user=$1 ${4:-}" -c "$3"
}

# pg_backend_ssl APPNAME: prints "t" when the server has backends with application_name APPNAME
# or APPNAME/... (a poll source's mark session)
# (walsenders included) and every one of them runs over TLS, "f" when one does not, nothing
# when there is none.
pg_backend_ssl() {
  pg_admin_sql "SELECT bool_and(s.ssl) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
                WHERE (a.application_name = '$1' OR a.application_name LIKE '$1/%') HAVING count(*) > 0"
}

# pg_backend_ssl_count APPNAME: the number of TLS backends with application_name APPNAME[/...].
pg_backend_ssl_count() {
  pg_admin_sql "SELECT count(*) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
                WHERE (a.application_name = '$1' OR a.application_name LIKE '$1/%') AND s.ssl"
}

# ---------------------------------------------------------------------------------------------
# Kafka over SASL_SSL

# kafka_secure_prepare USER PASSWORD [MECHANISM]: before kafka_start. The broker gets a second
# listener, SASL_SSL on 127.0.0.1:$KAFKA_SECURE_PORT, with the certificate $T/tls/kafka.crt
# (key kafka.key) in a PKCS#12 keystore, SCRAM-SHA-256 and SCRAM-SHA-512 enabled, and USER's
# SCRAM credentials for MECHANISM (default SCRAM-SHA-512) written at format time. PLAINTEXT
# stays for the harness's own helpers ($KAFKA_BROKERS); KAFKA_SECURE_BROKERS is for the relay.
kafka_secure_prepare() {
  local user=$1 pw=$2 mech=${3:-SCRAM-SHA-512} kspw
  [ -f "$TLS_DIR/kafka.crt" ] || fail "kafka_secure_prepare: make \$T/tls/kafka.crt first (tls_cert kafka CA SAN)"
  free_port; KAFKA_SECURE_PORT=$FREE_PORT
  KAFKA_SECURE_BROKERS=127.0.0.1:$KAFKA_SECURE_PORT
  kspw=$(random_secret "kspw-")
  openssl pkcs12 -export -in "$TLS_DIR/kafka.crt" -inkey "$TLS_DIR/kafka.key" -name kafka \
    -passout "pass:$kspw" -out "$TLS_DIR/kafka.p12" 2>"$TLS_DIR/kafka.p12.log" \
    || { cat "$TLS_DIR/kafka.p12.log" >&2; fail "openssl could not write the broker keystore"; }
  secret_add "$pw"
  KAFKA_EXTRA_LISTENERS=SASL_SSL://127.0.0.1:$KAFKA_SECURE_PORT
  KAFKA_EXTRA_CONFIG="${KAFKA_EXTRA_CONFIG:-}
sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PKCS12
ssl.keystore.location=$TLS_DIR/kafka.p12
ssl.keystore.password=$kspw
ssl.key.password=$kspw
ssl.client.auth=none"
  KAFKA_FORMAT_ARGS=(--add-scram "$mech=[name=$user,password=$pw]")
}

# kcat_secure_conf FILE CA USER PASSWORD [MECHANISM]: writes kcat -F properties for the SASL_SSL
# listener (a .conf file: the password stays out of kcat's command line).
kcat_secure_conf() {
  umask 077
  cat >"$1" <<EOF
security.protocol=SASL_SSL
sasl.mechanisms=${5:-SCRAM-SHA-512}
sasl.username=$3
sasl.password=$4
ssl.ca.location=$2
EOF
  umask 022
}
