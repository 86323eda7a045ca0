#!/usr/bin/env bash
# Logical mode, must-show 5: an idle slot retains no WAL. After a few events, the database is
# busy for BUSY_S (20) seconds only with a table outside the publication (about 10 MB of WAL);
# the relay has nothing in flight, so it must confirm the WAL end the server reports in its
# keepalives. Then nothing at all is written for a while.
#
# Must show: the slot's confirmed_flush_lsn passes the end of the unpublished writes, and its
# restart_lsn (the WAL PostgreSQL must keep) moves past where the writes began; no event is
# published for the unpublished table; the WAL the relay itself writes while idle is reported.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/logical.sh"

BUSY_S=${BUSY_S:-20}
SOURCE=idle-db
SLOT=$(logical_slot_name "$SOURCE")

# busy_writer: inserts ~50 kB into public.other every 0.05 s until $T/stop-writer exists.
busy_writer() {
  while [ ! -e "$T/stop-writer" ]; do
    pg_sql "INSERT INTO public.other (note) SELECT repeat(md5(g::text), 32) FROM generate_series(1, 50) g" \
      || { touch "$T/writer-failed"; return 1; }
    sleep 0.05
  done
}

slot_restart_past() { pg_lsn_ge "$(pg_slot_restart_lsn "$SLOT")" "$1"; }

pg_start
kafka_start
pg_migrate
pg_sql "CREATE TABLE public.other (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, note text)"

relay_conf -o "$T/relay.conf" -s "$SOURCE" -m logical
relay_start "$T/relay.conf" "$T/relay.log"
wait_for "relay active" 30 log_has "$T/relay.log" "source \"$SOURCE\": active"
[ "$SLOT" = outbox_relay_idle_db ] || fail "unexpected default slot name $SLOT"
pg_slot_exists "$SLOT" || fail "no slot $SLOT (the default name for source $SOURCE)"
pg_sql "SELECT public.outbox_emit('order', 'o-1', 'Created', '{}')" >/dev/null
pg_sql "SELECT public.outbox_emit_message('order', 'o-1', 'Paid', '{}')" >/dev/null
events_end=$(pg_wal_lsn)
wait_for "two events confirmed" 30 pg_slot_lsn_ge "$SLOT" "$events_end"

busy_start=$(pg_wal_lsn)
log "slot before the unpublished writes: confirmed_flush_lsn $(pg_slot_lsn "$SLOT")," \
    "restart_lsn $(pg_slot_restart_lsn "$SLOT"); WAL $busy_start"
busy_writer &
writer=$!
assert_for "the relay runs while only public.other is written ($BUSY_S s)" "$BUSY_S" relay_alive
touch "$T/stop-writer"
wait "$writer" || fail "the writer failed"
busy_end=$(pg_wal_lsn)
log "unpublished writes: $(pg_sql "SELECT pg_size_pretty(pg_wal_lsn_diff('$busy_end', '$busy_start'))") of WAL"

wait_for "confirmed_flush_lsn past the unpublished writes ($busy_end)" 30 pg_slot_lsn_ge "$SLOT" "$busy_end"
# restart_lsn moves when the decoder passes a running-transactions record (the background
# writer logs one every 15 s while there is activity) and the client has confirmed past it
wait_for "restart_lsn past the start of the writes ($busy_start)" 60 slot_restart_past "$busy_start"
log "slot after: confirmed_flush_lsn $(pg_slot_lsn "$SLOT"), restart_lsn $(pg_slot_restart_lsn "$SLOT");" \
    "WAL retained: $(pg_sql "SELECT pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_insert_lsn(), restart_lsn))
                            FROM pg_replication_slots WHERE slot_name = '$SLOT'")"

# quiet: nothing writes but the relay (its slot record) and PostgreSQL's own housekeeping
quiet_start=$(pg_wal_lsn)
assert_for "the relay runs on a quiet database (10 s)" 10 relay_alive
quiet_end=$(pg_wal_lsn)
wait_for "confirmed_flush_lsn follows the quiet WAL end" 30 pg_slot_lsn_ge "$SLOT" "$quiet_end"
log "quiet database: $(pg_sql "SELECT pg_wal_lsn_diff('$quiet_end', '$quiet_start')") bytes of WAL in 10 s;" \
    "slot record: $(pg_sql "SELECT confirmed_lsn || ' at ' || updated_at FROM public.outbox_relay_slots WHERE slot_name = '$SLOT'")"
relay_stop

[ "$(kafka_count outbox.event.order)" -eq 2 ] || fail "expected exactly the 2 events in Kafka"
[ -z "$(kafka_topics | grep -v '^outbox\.event\.order$' | grep -v '^__' || true)" ] \
  || fail "unexpected topics: $(kafka_topics | tr '\n' ' ')"
log "idle slot: confirmed and restart positions follow the WAL; nothing retained for unpublished writes"
