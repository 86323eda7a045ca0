#!/usr/bin/env bash
# Bad input on the command line and in the config file, no servers needed: each case gives the
# documented exit status (64 usage, 78 config) and a message naming the file and line or the
# offending key/option; a good file passes check-config; --help and --version work.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

relay_require
CASES=0

# expect RC PATTERN -- ARGS...: runs the relay with ARGS (5 s at most); requires exit status RC
# and the extended regex PATTERN in its combined output.
expect() {
  local want_rc=$1 pattern=$2 rc=0
  shift 3
  timeout 5 "$OUTBOX_RELAY" "$@" >"$T/out" 2>&1 || rc=$?
  if [ "$rc" -ne "$want_rc" ]; then
    cat "$T/out" >&2
    fail "outbox-relay $*: exit $rc, expected $want_rc"
  fi
  grep -Eq -- "$pattern" "$T/out" || { cat "$T/out" >&2; fail "outbox-relay $*: output lacks /$pattern/"; }
  CASES=$(( CASES + 1 ))
  log "ok: outbox-relay $* -> $rc: $(head -n 1 "$T/out")"
}

# conf NAME TEXT: writes $T/NAME.conf (printf format) and prints its path.
conf() {
  printf "$2" >"$T/$1.conf"
  echo "$T/$1.conf"
}

KAFKA='kafka = { brokers = "127.0.0.1:1"; };\n'
SOURCE_START='sources = (\n  {\n    name = "orders";\n    dsn = "host=127.0.0.1 port=1 dbname=app";\n'

good=$(conf good "${KAFKA}log = { level = \"info\"; };\n${SOURCE_START}    mode = \"poll\";\n    table = \"public.outbox\";\n    topic = \"outbox.event.{aggregate_type}\";\n    on_error = \"dead-letter\";\n    batch_size = 500;\n  }\n);\n")
syntax=$(conf syntax "${KAFKA}${SOURCE_START}    batch_size = ;\n  }\n);\n")        # line 6
unknown=$(conf unknown "${KAFKA}${SOURCE_START}    colour = \"blue\";\n  }\n);\n")      # line 6
badenum=$(conf badenum "${KAFKA}${SOURCE_START}    on_error = \"explode\";\n  }\n);\n") # line 6
badtype=$(conf badtype "${KAFKA}${SOURCE_START}    batch_size = \"many\";\n  }\n);\n")  # line 6
nodsn=$(conf nodsn "${KAFKA}sources = (\n  {\n    name = \"orders\";\n  }\n);\n")
badprop=$(conf badprop "kafka = {\n  brokers = \"127.0.0.1:1\";\n  no_such_property = 1;\n};\n${SOURCE_START}  }\n);\n")

expect 0  "ok"                              -- check-config -c "$good"
expect 0  "[Uu]sage"                        -- --help
expect 0  "librdkafka [0-9]"                -- --version
expect 78 "$T/missing.conf"                 -- check-config -c "$T/missing.conf"
expect 78 "$T/missing.conf"                 -- run -c "$T/missing.conf"
expect 78 "$syntax:6:"                      -- check-config -c "$syntax"
expect 78 "$syntax:6:"                      -- run -c "$syntax"
expect 78 "$unknown:6:.*colour"             -- check-config -c "$unknown"
expect 78 "$badenum:6:.*on_error"           -- check-config -c "$badenum"
expect 78 "$badtype:6:.*batch_size"         -- check-config -c "$badtype"
expect 78 "$nodsn:[0-9]+:.*dsn"             -- check-config -c "$nodsn"
expect 78 "$badprop:[0-9]+:.*no.such.property" -- check-config -c "$badprop"
expect 64 "bogus"                           -- --bogus
expect 64 "bogus"                           -- run --bogus -c "$good"
expect 64 "frobnicate"                      -- frobnicate
expect 64 "dsn"                             -- migrate
log "$CASES command-line and config cases behave"
