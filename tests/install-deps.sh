#!/usr/bin/env bash
# Installs everything needed to build outbox-relay and run its unit and integration tests on a
# fresh Debian/Ubuntu machine, then fetches the Apache Kafka broker jars from Maven Central into
# tests/kafka/lib (override with KAFKA_LIB) and the Apicurio schema registry into
# tests/registry/lib (override with REGISTRY_LIB). Idempotent: packages already installed and
# jars already fetched for the current tests/kafka/pom.xml and tests/registry/pom.xml are
# skipped, so a second run takes a second.
#
# clang and libclang-rt-14-dev (its libFuzzer runtime on Debian 12) are for `make fuzz` and the
# short libFuzzer pass of `make fuzz-ci` (tests/fuzz/README.md).
#
# `--bench` (make bench) adds gnuplot for the plots and fetches Debezium Server from Maven
# Central into tests/bench/debezium/dist (tests/bench/debezium/fetch.sh).
#
# systemd is there for systemd-analyze (tests/integration/test_systemd_units.sh checks the units
# with it). Installing the package starts nothing where systemd is not PID 1 (containers, CI),
# and leaves the init system alone where it is.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KAFKA_POM="$REPO/tests/kafka/pom.xml"
KAFKA_LIB=${KAFKA_LIB:-$REPO/tests/kafka/lib}
REGISTRY_POM="$REPO/tests/registry/pom.xml"
REGISTRY_LIB=${REGISTRY_LIB:-$REPO/tests/registry/lib}

PACKAGES=(
  build-essential pkg-config
  librdkafka-dev libavro-dev libconfig-dev libcmocka-dev libjansson-dev
  libcurl4-openssl-dev libsystemd-dev libpq-dev libmicrohttpd-dev
  postgresql kcat openjdk-17-jre-headless maven curl
  systemd
  clang libclang-rt-14-dev
)

say() { printf 'install-deps: %s\n' "$*"; }

# as_root CMD...: runs CMD as root, through sudo when we are not root and sudo exists.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo DEBIAN_FRONTEND=noninteractive "$@"
  else
    say "not root and no sudo: cannot run: $*" >&2
    return 1
  fi
}

# missing_packages: prints the names from PACKAGES that dpkg does not list as installed.
missing_packages() {
  local p status
  for p in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || printf '%s\n' "$p"
  done
}

install_packages() {
  local missing
  mapfile -t missing < <(missing_packages)
  if [ "${#missing[@]}" -eq 0 ]; then
    say "apt packages: all present"
    return 0
  fi
  say "apt packages missing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# pom_stamp: a digest of the pom, so that editing it (new Kafka version) refetches the jars.
pom_stamp() {
  sha256sum "$KAFKA_POM" | cut -d' ' -f1
}

fetch_kafka_jars() {
  local stamp_file="$KAFKA_LIB/.pom.sha256"
  if [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$(pom_stamp)" ] \
     && compgen -G "$KAFKA_LIB/kafka_2.13-*.jar" >/dev/null; then
    say "kafka jars: present in $KAFKA_LIB"
    return 0
  fi
  say "kafka jars: fetching into $KAFKA_LIB"
  rm -rf "$KAFKA_LIB"
  mkdir -p "$KAFKA_LIB"
  # Maven 3.8 prints stray colour resets even with -B -q: keep its output for failures only.
  local mvn_log
  mvn_log=$(mktemp)
  if ! mvn -B -q -f "$KAFKA_POM" dependency:copy-dependencies \
         -DoutputDirectory="$KAFKA_LIB" -DincludeScope=runtime >"$mvn_log" 2>&1; then
    cat "$mvn_log" >&2
    rm -f "$mvn_log"
    say "kafka jars: maven failed" >&2
    return 1
  fi
  rm -f "$mvn_log"
  compgen -G "$KAFKA_LIB/kafka_2.13-*.jar" >/dev/null || {
    say "kafka jars: maven finished but no kafka_2.13 jar in $KAFKA_LIB" >&2
    return 1
  }
  pom_stamp > "$stamp_file"
  say "kafka jars: $(ls "$KAFKA_LIB"/*.jar | wc -l) jars"
}

# fetch_registry: unpacks Apicurio Registry's Quarkus application (runner jar and lib/) into
# REGISTRY_LIB, unless it is there already for the current tests/registry/pom.xml.
fetch_registry() {
  local stamp_file="$REGISTRY_LIB/.pom.sha256" stamp
  stamp=$(sha256sum "$REGISTRY_POM" | cut -d' ' -f1)
  if [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$stamp" ] \
     && compgen -G "$REGISTRY_LIB/apicurio-registry-app-*-runner.jar" >/dev/null; then
    say "schema registry: present in $REGISTRY_LIB"
    return 0
  fi
  say "schema registry: fetching into $REGISTRY_LIB"
  rm -rf "$REGISTRY_LIB"
  mkdir -p "$REGISTRY_LIB"
  local mvn_log jar
  mvn_log=$(mktemp)
  if ! mvn -B -q -f "$REGISTRY_POM" dependency:unpack \
         -Dregistry.lib="$(realpath -m "$REGISTRY_LIB")" >"$mvn_log" 2>&1; then
    cat "$mvn_log" >&2
    rm -f "$mvn_log"
    say "schema registry: maven failed" >&2
    return 1
  fi
  rm -f "$mvn_log"
  jar=$(compgen -G "$REGISTRY_LIB/apicurio-registry-app-*-runner.jar") || {
    say "schema registry: maven finished but no runner jar in $REGISTRY_LIB" >&2
    return 1
  }
  printf '%s\n' "$stamp" >"$stamp_file"
  say "schema registry: $(basename "$jar")"
}

BENCH=0
case "${1:-}" in
  --bench) BENCH=1; PACKAGES+=(gnuplot-nox) ;;
  "") ;;
  *) say "usage: $0 [--bench]" >&2; exit 2 ;;
esac

install_packages
fetch_kafka_jars
fetch_registry
[ "$BENCH" -eq 0 ] || bash "$REPO/tests/bench/debezium/fetch.sh"
say "done"
