#!/usr/bin/env bash
# The relay is SIGKILLed KILLS (5) times while a 20,000-event backlog drains, and restarted each
# time. After every kill, each row already marked must be in Kafka (ack before mark); at the
# end nothing is lost, and the only duplicates are re-sends carrying the same event_id
# (the verifier counts them and requires every message to match a row's event_id and key).
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

EVENTS=${EVENTS:-20000}
KILLS=${KILLS:-5}

pg_start
kafka_start
pg_migrate
pg_sql "INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload)
        SELECT 'order', 'agg-' || (g % 1000), 'OrderChanged',
               jsonb_build_object('n', g, 'pad', repeat('x', 200))
        FROM generate_series(1, $EVENTS) g"
# a small in-flight window and a long linger slow the drain (to about 200 events per 50 ms)
# so that it can be interrupted several times
relay_conf -o "$T/relay.conf" -s orders -x 'batch_size = 100; max_in_flight = 200;' \
  -k 'linger_ms = 50;'

killed_mid_stream=0
for round in $(seq 1 "$KILLS"); do
  relay_start "$T/relay.conf" "$T/relay-$round.log"
  before=$(pg_marked)
  # kill as soon as this round has marked something: the relay is mid-stream then
  wait_for "round $round: progress past $before marked rows" 60 pg_marked_at_least $(( before + 1 ))
  # not synchronisation: a random 0-90 ms more, so the kills land at different points
  sleep "0.0$(( RANDOM % 10 ))"
  relay_kill
  marked=$(pg_marked)
  log "round $round: killed with $marked of $EVENTS rows marked"
  verify_outbox --partial --allow-duplicates
  [ "$marked" -lt "$EVENTS" ] || break
  killed_mid_stream=$(( killed_mid_stream + 1 ))
done
[ "$killed_mid_stream" -ge 2 ] \
  || fail "only $killed_mid_stream kill(s) mid-stream: the relay drained the backlog too fast"

relay_start "$T/relay.conf" "$T/relay-final.log"
wait_for "all $EVENTS rows marked" 90 pg_all_marked
relay_stop
verify_outbox --allow-duplicates --expect-all-marked
log "SIGKILL x$KILLS ($killed_mid_stream mid-stream): nothing lost, duplicates only re-sends"
