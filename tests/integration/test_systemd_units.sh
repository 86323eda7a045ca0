#!/usr/bin/env bash
# The systemd units as `make install` writes them: `systemd-analyze verify` has nothing to say
# about outbox-relay.service or outbox-relay@.service, `systemd-analyze security` rates each at
# an exposure of 2.0 or lower, and the Debian layout (PREFIX=/usr under a DESTDIR) puts every
# file where it belongs, with the units naming the installed binary and config. No servers.
#
# verify insists that ExecStart='s binary exists, so the units it checks come from a second
# install with PREFIX (and SYSCONFDIR) inside $T: exactly what `make install` writes, pointing
# at a binary that is there. Without systemd-analyze the test installs it (tests/install-deps.sh,
# package systemd) and fails if it still cannot: an unchecked unit is not a passed test.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

MAX_EXPOSURE=2.0

# The binary make install copies is the repo's ./outbox-relay, built by the suite before this
# runs: -o keeps the sub-make from rebuilding it, and the parent make's flags stay out.
[ -x "$REPO/outbox-relay" ] || fail "$REPO/outbox-relay not found: run make"

# make_install ARGS...: make install with ARGS, its output in $T/install.log.
make_install() {
  env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$REPO" -o outbox-relay install "$@" \
    >"$T/install.log" 2>&1 || { cat "$T/install.log" >&2; fail "make install $* failed"; }
}

need_systemd_analyze() {
  command -v systemd-analyze >/dev/null 2>&1 && return 0
  log "systemd-analyze missing: installing it through tests/install-deps.sh"
  bash "$REPO/tests/install-deps.sh" >&2 || true
  command -v systemd-analyze >/dev/null 2>&1 \
    || fail "systemd-analyze not found and tests/install-deps.sh could not install it" \
            "(Debian package systemd): the units cannot be checked"
}

# analyze_verify UNIT_FILE: `systemd-analyze verify` must exit 0 and print nothing at all; every
# line it prints is a warning or an error about the unit.
analyze_verify() {
  local rc=0
  systemd-analyze verify "$1" >"$T/verify.out" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ] || [ -s "$T/verify.out" ]; then
    cat "$T/verify.out" >&2
    fail "systemd-analyze verify $(basename "$1"): exit $rc, $(wc -l <"$T/verify.out") lines"
  fi
  log "ok: systemd-analyze verify $(basename "$1"): clean"
}

# analyze_security UNIT_FILE: the overall exposure figure must be at most MAX_EXPOSURE.
analyze_security() {
  local figure
  systemd-analyze security --offline=yes --no-pager "$1" >"$T/security.out" 2>&1 || true
  figure=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9][0-9.]*\).*/\1/p' \
             "$T/security.out")
  [ -n "$figure" ] || { cat "$T/security.out" >&2; fail "no exposure figure for $1"; }
  if ! awk -v f="$figure" -v max="$MAX_EXPOSURE" 'BEGIN { exit !(f <= max) }'; then
    grep '✗' "$T/security.out" >&2 || true
    fail "$(basename "$1"): exposure $figure, above $MAX_EXPOSURE"
  fi
  log "ok: $(basename "$1"): exposure $figure (at most $MAX_EXPOSURE)"
}

# unit_execs UNIT_FILE: the ExecStartPre= and ExecStart= lines.
unit_execs() { grep -E '^ExecStart(Pre)?=' "$1"; }

# expect_execs UNIT_FILE BINARY CONFIG: both commands run BINARY with -c CONFIG, nothing else
# names a binary, and reload sends SIGHUP.
expect_execs() {
  local unit=$1 bin=$2 conf=$3
  [ "$(unit_execs "$unit")" = "ExecStartPre=$bin check-config -c $conf
ExecStart=$bin run -c $conf" ] || { unit_execs "$unit" >&2; fail "$unit: unexpected Exec lines"; }
  [ "$(grep '^ExecReload=' "$unit")" = 'ExecReload=/bin/kill -HUP $MAINPID' ] \
    || fail "$unit: ExecReload= is not SIGHUP to the main process"
}

need_systemd_analyze
log "$(systemd-analyze --version | head -n 1)"

# --- Debian layout: PREFIX=/usr under a DESTDIR ---------------------------------------------
R=$T/root
make_install DESTDIR="$R" PREFIX=/usr
for f in usr/bin/outbox-relay \
         usr/lib/systemd/system/outbox-relay.service \
         usr/lib/systemd/system/outbox-relay@.service \
         usr/lib/sysusers.d/outbox-relay.conf \
         usr/share/doc/outbox-relay/README.md usr/share/doc/outbox-relay/CHANGELOG.md \
         etc/outbox-relay/outbox-relay.conf.example; do
  [ -f "$R/$f" ] || fail "make install DESTDIR PREFIX=/usr: /$f missing"
done
[ -x "$R/usr/bin/outbox-relay" ] || fail "/usr/bin/outbox-relay is not executable"
for sql in "$REPO"/sql/[0-9]*.sql; do
  cmp -s "$sql" "$R/usr/share/outbox-relay/sql/$(basename "$sql")" \
    || fail "/usr/share/outbox-relay/sql/$(basename "$sql") missing or different"
done
expect_execs "$R/usr/lib/systemd/system/outbox-relay.service" \
  /usr/bin/outbox-relay /etc/outbox-relay/outbox-relay.conf
expect_execs "$R/usr/lib/systemd/system/outbox-relay@.service" \
  /usr/bin/outbox-relay '/etc/outbox-relay/%i.conf'
grep -qx 'u outbox-relay - "outbox-relay" /nonexistent' "$R/usr/lib/sysusers.d/outbox-relay.conf" \
  || fail "sysusers.d/outbox-relay.conf does not declare the outbox-relay user"
if command -v systemd-sysusers >/dev/null 2>&1; then
  systemd-sysusers --root="$R" --dry-run >"$T/sysusers.out" 2>&1 \
    || { cat "$T/sysusers.out" >&2; fail "systemd-sysusers rejects sysusers.d/outbox-relay.conf"; }
  grep -q 'outbox-relay' "$T/sysusers.out" \
    || { cat "$T/sysusers.out" >&2; fail "systemd-sysusers would not create outbox-relay"; }
fi
[ -z "$(find "$R" -path "$R/usr" -prune -o -path "$R/etc" -prune -o -print | grep -vx "$R")" ] \
  || fail "make install wrote outside DESTDIR/usr and DESTDIR/etc: $(ls "$R")"
log "ok: Debian layout under DESTDIR, units run /usr/bin/outbox-relay"

# --- PREFIX and SYSCONFDIR elsewhere: the units follow; verify and security on them ----------
P=$T/prefix
make_install PREFIX="$P/usr" SYSCONFDIR="$P/etc"
for u in outbox-relay.service outbox-relay@.service; do
  unit=$P/usr/lib/systemd/system/$u
  if [ "$u" = outbox-relay.service ]; then
    conf=$P/etc/outbox-relay/outbox-relay.conf
  else
    conf="$P/etc/outbox-relay/%i.conf"
  fi
  expect_execs "$unit" "$P/usr/bin/outbox-relay" "$conf"
  # every path of ours, comments included (LoadCredential=, the check-config hint)
  stale='/usr/bin/outbox-relay\|/etc/outbox-relay/\|/usr/share/doc'
  if grep -v -- "$P" "$unit" | grep -q "$stale"; then
    grep -v -- "$P" "$unit" | grep "$stale" >&2
    fail "$u: a path not rewritten for PREFIX=$P/usr SYSCONFDIR=$P/etc"
  fi
  analyze_verify "$unit"
  analyze_security "$unit"
done
log "ok: both units verify clean and stay at or below exposure $MAX_EXPOSURE"
