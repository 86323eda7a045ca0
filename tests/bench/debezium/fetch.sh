#!/usr/bin/env bash
# Fetches Debezium Server, the baseline that outbox-relay's benchmark (tests/bench/run.sh) runs
# beside the relay, from Maven Central and unpacks it into tests/bench/debezium/dist/ (git
# ignores it). See README.md beside this file for the set-up the benchmark gives it.
#
#   bash tests/bench/debezium/fetch.sh          # idempotent: does nothing when dist/ is complete
#
# What it does:
#   1. If dist/debezium-server/.version names DEBEZIUM_VERSION and the jars the benchmark needs
#      are there (the runner jar, the PostgreSQL connector with its JDBC driver, the Kafka sink
#      and Kafka client, the Outbox Event Router in debezium-core), it says so and stops.
#   2. Downloads io.debezium:debezium-server-dist:$DEBEZIUM_VERSION:tar.gz (~450 MB) from
#      $MAVEN_REPO with curl (with Maven's `dependency:copy` when there is no curl), or takes
#      the file DEBEZIUM_TARBALL names instead, and checks its SHA-256 against the one pinned
#      below.
#   3. Unpacks it without the connectors it does not use (Cassandra's connectors/ and the
#      optional scripting jars lib_opt/), checks the jars of step 1 and that the `java` on
#      PATH can load the server's classes (3.x is built for Java 21, 2.7 for Java 11), and only
#      then moves it to dist/debezium-server (a failed or interrupted fetch leaves no
#      half-unpacked tree behind). The tarball is deleted afterwards.
#   4. Compiles OutboxEngine.java (the engine runner, DEBEZIUM_RUNTIME=engine; README.md)
#      against dist/debezium-server/lib/* into dist/engine-classes with `javac --release 17`,
#      also when step 1 found the tree complete; it recompiles only when OutboxEngine.java is
#      newer than its class.
# Exits non-zero with a message on stderr when any step fails. A lock (flock on dist/.lock)
# keeps two concurrent callers from unpacking over each other.
#
# Environment: DEBEZIUM_DIST (default: dist/ beside this script), MAVEN_REPO (default Maven
# Central), DEBEZIUM_TARBALL (a local copy of the tar.gz; its checksum is still checked).
set -euo pipefail

# The release, and the sha256 of its tar.gz as Maven Central serves it: change both together.
# 2.7.3.Final: 3.x's Debezium Server does not run on Java 17 (README.md).
DEBEZIUM_VERSION=2.7.3.Final
# sha256 of debezium-server-dist-2.7.3.Final.tar.gz as Maven Central serves it
DEBEZIUM_SHA256=f55af1c3532a922fcfd067f48e6c94b7af86e776739ec4679973a79066f38796

HERE=$(cd "$(dirname "$0")" && pwd)
DIST=${DEBEZIUM_DIST:-$HERE/dist}
MAVEN_REPO=${MAVEN_REPO:-https://repo1.maven.org/maven2}
HOME_DIR=$DIST/debezium-server
ARTIFACT=debezium-server-dist-$DEBEZIUM_VERSION.tar.gz
URL=$MAVEN_REPO/io/debezium/debezium-server-dist/$DEBEZIUM_VERSION/$ARTIFACT

ENGINE_SRC=$HERE/OutboxEngine.java
ENGINE_CLASSES=$DIST/engine-classes

say() { printf 'debezium fetch: %s\n' "$*" >&2; }
die() { say "FAILED: $*"; exit 1; }

# missing_parts DIR: prints what the benchmark needs and DIR lacks, one item a line.
missing_parts() {
  local d=$1 v=$DEBEZIUM_VERSION
  [ -f "$d/debezium-server-dist-$v-runner.jar" ] || echo "runner jar"
  [ -f "$d/lib/debezium-connector-postgres-$v.jar" ] \
    || echo "postgres connector (lib/debezium-connector-postgres-$v.jar)"
  compgen -G "$d/lib/postgresql-*.jar" >/dev/null || echo "JDBC driver (lib/postgresql-*.jar)"
  [ -f "$d/lib/debezium-server-kafka-$v.jar" ] \
    || echo "Kafka sink (lib/debezium-server-kafka-$v.jar)"
  compgen -G "$d/lib/kafka-clients-*.jar" >/dev/null || echo "Kafka client (lib/kafka-clients-*)"
  [ -f "$d/lib/debezium-storage-file-$v.jar" ] \
    || echo "file offset store (lib/debezium-storage-file-$v.jar)"
  # a jar's central directory holds its entry names uncompressed
  if [ ! -f "$d/lib/debezium-core-$v.jar" ] \
     || ! grep -qaF 'io/debezium/transforms/outbox/EventRouter.class' "$d/lib/debezium-core-$v.jar"
  then
    echo "Outbox Event Router (io.debezium.transforms.outbox.EventRouter, debezium-core-$v.jar)"
  fi
}

# java_fits DIR: the java on PATH can load Debezium Server's main class (Debezium Server 3.x
# is built for Java 21, 2.7 for Java 11): compares the class file's major version with the
# JVM's feature version. Prints the mismatch and fails; passes when either cannot be read.
java_fits() {
  local jar cls major feature
  jar=$(compgen -G "$1/lib/debezium-server-core-*.jar" | head -n 1) || return 0
  command -v unzip >/dev/null && command -v java >/dev/null || return 0
  cls=$(unzip -p "$jar" io/debezium/server/Main.class 2>/dev/null | od -An -tu1 -j6 -N2) || return 0
  read -r _ major <<<"$cls"
  [ -n "$major" ] || return 0
  feature=$(java -XshowSettings:properties -version 2>&1 \
              | sed -n 's/^ *java.specification.version = \(1\.\)\{0,1\}//p')
  [ -n "$feature" ] || return 0
  if [ $(( major - 44 )) -gt "$feature" ]; then
    echo "Debezium Server $DEBEZIUM_VERSION needs Java $(( major - 44 )); java on PATH is $feature"
    return 1
  fi
}

complete() {
  [ -f "$HOME_DIR/.version" ] && [ "$(cat "$HOME_DIR/.version")" = "$DEBEZIUM_VERSION" ] \
    && [ -z "$(missing_parts "$HOME_DIR")" ]
}

download() {  # download FILE
  local out=$1
  if command -v curl >/dev/null; then
    say "downloading $URL"
    curl -fsS --retry 3 --retry-delay 2 --connect-timeout 30 -o "$out" "$URL" \
      || die "could not download $URL"
  elif command -v mvn >/dev/null; then
    say "downloading io.debezium:debezium-server-dist:$DEBEZIUM_VERSION:tar.gz with maven"
    local mvn_log=$DIST/.download/mvn.log
    mvn -B -q dependency:copy \
        -Dartifact="io.debezium:debezium-server-dist:$DEBEZIUM_VERSION:tar.gz" \
        -DoutputDirectory="$DIST/.download" -Dmdep.overWriteReleases=true >"$mvn_log" 2>&1 \
      || { cat "$mvn_log" >&2; die "maven could not fetch debezium-server-dist:$DEBEZIUM_VERSION"; }
    [ "$DIST/.download/$ARTIFACT" = "$out" ] || mv "$DIST/.download/$ARTIFACT" "$out"
  else
    die "neither curl nor mvn is installed (tests/install-deps.sh installs both)"
  fi
}

# compile_engine: OutboxEngine.java -> dist/engine-classes, unless the class is newer.
compile_engine() {
  local out=$ENGINE_CLASSES/OutboxEngine.class javac_log
  [ -f "$out" ] && [ "$out" -nt "$ENGINE_SRC" ] && return 0
  command -v javac >/dev/null || die "no javac on PATH: cannot compile $ENGINE_SRC (a JDK 17 is needed)"
  say "compiling $(basename "$ENGINE_SRC") into $ENGINE_CLASSES"
  rm -rf "$ENGINE_CLASSES.new"; mkdir -p "$ENGINE_CLASSES.new"
  # sun.misc.Signal (for exit status 0 on SIGTERM) draws "internal proprietary API" warnings:
  # the output is shown only when javac fails
  if ! javac_log=$(javac --release 17 -nowarn -cp "$HOME_DIR/lib/*" -d "$ENGINE_CLASSES.new" \
                     "$ENGINE_SRC" 2>&1); then
    printf '%s\n' "$javac_log" >&2
    rm -rf "$ENGINE_CLASSES.new"
    die "javac could not compile $ENGINE_SRC against $HOME_DIR/lib"
  fi
  rm -rf "$ENGINE_CLASSES"
  mv "$ENGINE_CLASSES.new" "$ENGINE_CLASSES" || die "cannot move the classes to $ENGINE_CLASSES"
}

command -v java >/dev/null || say "warning: no java on PATH; Debezium Server needs Java 17 or later"
mkdir -p "$DIST" || die "cannot create $DIST"
exec 9>"$DIST/.lock"
flock 9 || die "cannot lock $DIST/.lock"

if complete; then
  say "Debezium Server $DEBEZIUM_VERSION already in $HOME_DIR"
  compile_engine
  exit 0
fi

rm -rf "$DIST/.download" "$DIST/.unpack"
mkdir -p "$DIST/.download" "$DIST/.unpack"
trap 'rm -rf "$DIST/.download" "$DIST/.unpack"' EXIT

tarball=$DIST/.download/$ARTIFACT
if [ -n "${DEBEZIUM_TARBALL:-}" ]; then
  say "using $DEBEZIUM_TARBALL instead of downloading"
  cp "$DEBEZIUM_TARBALL" "$tarball" || die "cannot read $DEBEZIUM_TARBALL"
else
  download "$tarball"
fi

say "checking sha256"
sum=$(sha256sum "$tarball" | cut -d' ' -f1)
[ "$sum" = "$DEBEZIUM_SHA256" ] \
  || die "$ARTIFACT has sha256 $sum, expected $DEBEZIUM_SHA256 (corrupt or not the pinned release)"

say "unpacking into $HOME_DIR (without connectors/ and lib_opt/)"
tar -xzf "$tarball" -C "$DIST/.unpack" --no-same-owner \
    --exclude='debezium-server/connectors' --exclude='debezium-server/lib_opt' \
  || die "cannot unpack $ARTIFACT"
rm -f "$tarball"
missing=$(missing_parts "$DIST/.unpack/debezium-server")
[ -z "$missing" ] \
  || die "the release lacks what the benchmark needs: $(echo "$missing" | paste -sd ';' -)"
why=$(java_fits "$DIST/.unpack/debezium-server") || die "$why"
echo "$DEBEZIUM_VERSION" >"$DIST/.unpack/debezium-server/.version"
rm -rf "$HOME_DIR"
mv "$DIST/.unpack/debezium-server" "$HOME_DIR" || die "cannot move the unpacked tree to $HOME_DIR"
say "Debezium Server $DEBEZIUM_VERSION ready in $HOME_DIR ($(du -sh "$HOME_DIR" | cut -f1)," \
    "$(compgen -G "$HOME_DIR/lib/*.jar" | wc -l) jars)"
compile_engine
