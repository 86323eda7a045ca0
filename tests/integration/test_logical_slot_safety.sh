#!/usr/bin/env bash
# Logical mode, must-show 6: a slot dropped, recreated or advanced behind the relay's back.
# The relay records the position it confirms in public.outbox_relay_slots before each status
# update; at start it compares the slot with that record.
#
#  1. missing: relay stopped, slot dropped, events written, relay started (create_slot = true):
#     ERROR `slot "..." is missing`; the relay keeps running (retrying) but does not recreate
#     the slot and publishes nothing;
#  2. recreated: then, after more WAL, the slot is created again by hand
#     (pg_create_logical_replication_slot(slot, 'pgoutput')) and more events written: ERROR
#     `... was recreated or advanced`, nothing published, the slot not moved by the relay; then
#     the operator accepts the gap (deletes the slot's row from outbox_relay_slots, as the
#     message says) and the relay publishes exactly the events written after the new slot;
#  3. advanced: a second source with its own slot and topics, stopped, its slot moved with
#     pg_replication_slot_advance(): the same refusal.
# In each case the relay must still stop cleanly (SIGTERM, exit 0).
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"
. "$(dirname "$0")/../lib/logical.sh"

HOLD_S=${HOLD_S:-8}
SOURCE=safety
SLOT=$(logical_slot_name "$SOURCE")

# emit N TAG: N events for aggregate TAG, in one transaction (rows and messages).
emit() {
  pg_sql "BEGIN;
          SELECT count(public.outbox_emit('order', '$2', 'SafetyTest', jsonb_build_object('g', g)))
            FROM generate_series(1, $1 / 2) g;
          SELECT count(public.outbox_emit_message('order', '$2', 'SafetyTest', jsonb_build_object('g', g)))
            FROM generate_series($1 / 2 + 1, $1) g;
          COMMIT;" >/dev/null
}

# kafka_count_is TOPIC N
kafka_count_is() { [ "$(kafka_count "$1")" -eq "$2" ]; }

# nothing_published TOPIC N: the topic still holds N messages and the relay still runs.
nothing_published() { relay_alive && kafka_count_is "$1" "$2"; }

slot_unchanged() { [ "$(pg_slot_lsn "$1")" = "$2" ]; }
slot_missing() { ! pg_slot_exists "$1"; }
slot_inactive() { ! pg_slot_active "$1"; }

# the conditions held while a refusing relay runs
missing_holds() { slot_missing "$SLOT" && nothing_published outbox.event.order 10; }
recreated_holds() { nothing_published outbox.event.order 10 && slot_unchanged "$SLOT" "$recreated"; }
advanced_holds() { nothing_published adv.event.order "$adv_count" && slot_unchanged adv_slot "$advanced"; }

recorded_lsn() {
  pg_sql "SELECT confirmed_lsn FROM public.outbox_relay_slots WHERE slot_name = '$1'"
}

pg_start
kafka_start
pg_migrate

relay_conf -o "$T/relay.conf" -s "$SOURCE" -m logical -x 'retry_backoff_max_ms = 1000;'
relay_start "$T/relay.conf" "$T/relay.log"
wait_for "relay active" 30 log_has "$T/relay.log" "source \"$SOURCE\": active"
emit 10 before
lsn=$(pg_wal_lsn)
wait_for "the first 10 events confirmed" 30 pg_slot_lsn_ge "$SLOT" "$lsn"
relay_stop
wait_for "slot released" 30 slot_inactive "$SLOT"
kafka_count_is outbox.event.order 10 || fail "expected the first 10 events in Kafka"
record=$(recorded_lsn "$SLOT")
[ -n "$record" ] || fail "no row for slot $SLOT in public.outbox_relay_slots"
pg_lsn_ge "$record" "$(pg_slot_lsn "$SLOT")" \
  || fail "the recorded position $record is behind the slot's $(pg_slot_lsn "$SLOT")"
log "recorded $record, slot at $(pg_slot_lsn "$SLOT")"

# 1. the slot is dropped; events written meanwhile are lost to this slot for good
pg_sql "SELECT pg_drop_replication_slot('$SLOT')" >/dev/null
emit 10 while-missing
relay_start "$T/relay.conf" "$T/relay-missing.log"
wait_for "the relay refuses: slot missing" 30 \
  log_has "$T/relay-missing.log" "ERROR: .*slot \"$SLOT\" is missing"
assert_for "no slot created, nothing published ($HOLD_S s)" "$HOLD_S" missing_holds
! log_has "$T/relay-missing.log" "source \"$SOURCE\": active" || fail "the source went active without its slot"
log "missing slot: $(grep -m1 'is missing' "$T/relay-missing.log")"
relay_stop

# 2. the slot is created again behind the relay's back, after more WAL
emit 10 still-missing
pg_sql "CREATE TABLE public.filler AS SELECT g, repeat('y', 500) AS pad FROM generate_series(1, 2000) g"
pg_sql "SELECT pg_create_logical_replication_slot('$SLOT', 'pgoutput')" >/dev/null
emit 10 after-recreate
recreated=$(pg_slot_lsn "$SLOT")
relay_start "$T/relay.conf" "$T/relay-recreated.log"
wait_for "the relay refuses: slot recreated" 30 \
  log_has "$T/relay-recreated.log" "ERROR: .*$SLOT.*was recreated or advanced"
assert_for "nothing published, slot not moved ($HOLD_S s)" "$HOLD_S" recreated_holds
! log_has "$T/relay-recreated.log" "source \"$SOURCE\": active" || fail "the source went active on a recreated slot"
[ "$(recorded_lsn "$SLOT")" = "$record" ] || fail "the relay changed its record to $(recorded_lsn "$SLOT")"
log "recreated slot: $(grep -m1 'was recreated or advanced' "$T/relay-recreated.log")"

# the operator accepts the gap as the message says: deletes the slot's row; the running relay
# adopts the slot and publishes what was written after it was created, nothing older
pg_sql "DELETE FROM public.outbox_relay_slots WHERE slot_name = '$SLOT'" >/dev/null
wait_for "the relay adopts the recreated slot" 30 \
  log_has "$T/relay-recreated.log" "source \"$SOURCE\": active"
wait_for "the 10 events written after the slot was recreated in Kafka" 30 \
  kafka_count_is outbox.event.order 20
keys=$(kafka_consume outbox.event.order '%k\n' | sort | uniq -c | awk '{ printf "%s:%s ", $2, $1 }')
[ "$keys" = "after-recreate:10 before:10 " ] || fail "after accepting the gap, Kafka holds: $keys"
relay_stop

# 3. a slot advanced by hand (another source, own slot and topics)
relay_conf -o "$T/adv.conf" -s adv -m logical \
  -x 'slot = "adv_slot"; publication = "adv_pub"; topic = "adv.event.{aggregate_type}";'
relay_start "$T/adv.conf" "$T/adv.log"
wait_for "second source active" 30 log_has "$T/adv.log" 'source "adv": active'
emit 10 adv
lsn=$(pg_wal_lsn)
wait_for "adv_slot confirmed the new events" 30 pg_slot_lsn_ge adv_slot "$lsn"
relay_stop
wait_for "adv_slot released" 30 slot_inactive adv_slot
adv_count=$(kafka_count adv.event.order)
[ "$adv_count" -ge 10 ] || fail "adv source published $adv_count events"
emit 10 skipped-by-advance
lsn=$(pg_wal_lsn)
wait_for "WAL flushed past the skipped events" 30 pg_wal_flushed_to "$lsn"
pg_sql "SELECT pg_replication_slot_advance('adv_slot', '$lsn')" >/dev/null
pg_slot_lsn_ge adv_slot "$lsn" || fail "pg_replication_slot_advance did not move adv_slot to $lsn"
advanced=$(pg_slot_lsn adv_slot)
relay_start "$T/adv.conf" "$T/adv-advanced.log"
wait_for "the relay refuses: slot advanced" 30 \
  log_has "$T/adv-advanced.log" 'ERROR: .*adv_slot.*was recreated or advanced'
assert_for "nothing published on adv, slot not moved ($HOLD_S s)" "$HOLD_S" advanced_holds
relay_stop
log "slot safety: missing, recreated and advanced slots refused; nothing skipped or replayed"
