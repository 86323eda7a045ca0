#!/usr/bin/env bash
# Adopting an existing outbox table: a Debezium-style table with its own column names and
# without event_id, schema_version, headers, created_at or txid, mapped through `columns`;
# and on_publish = "delete", which removes rows once the broker acked them.
set -euo pipefail
. "$(dirname "$0")/../lib/harness.sh"

pg_start
kafka_start
pg_sql "CREATE TABLE legacy_outbox (
          seq bigserial PRIMARY KEY, aggregatetype varchar(255) NOT NULL,
          aggregateid varchar(255) NOT NULL, type varchar(255) NOT NULL,
          body jsonb, sent_at timestamptz)"
pg_sql "INSERT INTO legacy_outbox (aggregatetype, aggregateid, type, body)
        SELECT 'invoice', 'inv-' || (g % 7), 'InvoiceIssued', jsonb_build_object('n', g)
        FROM generate_series(1, 300) g"
relay_conf -o "$T/relay.conf" -s legacy -t public.legacy_outbox -x '
    columns = { id = "seq"; aggregate_type = "aggregatetype"; aggregate_id = "aggregateid";
                event_type = "type"; payload = "body"; published_at = "sent_at";
                event_id = ""; schema_version = ""; headers = ""; created_at = ""; txid = ""; };'
relay_start "$T/relay.conf" "$T/relay.log"
all_sent() { [ "$(pg_sql "SELECT count(*) FROM legacy_outbox WHERE sent_at IS NULL")" -eq 0 ]; }
wait_for "all 300 mapped rows marked in sent_at" 60 all_sent
relay_stop
! log_has "$T/relay.log" 'WARNING' || fail "columns mapped to \"\" must not be warned about"

kafka_consume outbox.event.invoice '%k\t%h\t%s\n' >"$T/invoice.tsv"
[ "$(wc -l <"$T/invoice.tsv")" -eq 300 ] || fail "expected 300 records, got $(wc -l <"$T/invoice.tsv")"
pg_sql "SELECT aggregateid || E'\t' || 'event_type=InvoiceIssued,aggregate_type=invoice,content-type=application/json' ||
               E'\t' || body::text FROM legacy_outbox ORDER BY seq" | sort >"$T/expected.tsv"
sort "$T/invoice.tsv" | diff - "$T/expected.tsv" >"$T/diff.txt" \
  || { head "$T/diff.txt" >&2; fail "records differ from the mapped rows"; }
log "mapped columns: 300 records with the table's key, type and body"

# a required column that the table lacks is named at start
relay_conf -o "$T/bad.conf" -s legacy -t public.legacy_outbox -x '
    columns = { id = "seq"; aggregate_type = "aggregatetype"; aggregate_id = "aggregate_ref";
                event_type = "type"; payload = "body"; published_at = "sent_at"; };'
relay_start "$T/bad.conf" "$T/bad.log"
wait_for "missing mapped column named" 30 \
  log_has "$T/bad.log" 'has no column "aggregate_ref" \(mapped from columns.aggregate_id\)'
relay_stop

# an id that is not an integer is refused with a reason
pg_sql "CREATE TABLE uuid_outbox (id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
          aggregate_type text, aggregate_id text, payload jsonb, published_at timestamptz)"
relay_conf -o "$T/uuid.conf" -s uuids -t public.uuid_outbox
relay_start "$T/uuid.conf" "$T/uuid.log"
wait_for "non-integer id refused" 30 \
  log_has "$T/uuid.log" 'column "id" of public.uuid_outbox \(columns.id\) is uuid; it must be an integer'
relay_stop

# on_publish = "delete": acked rows disappear, every event still arrives once
pg_migrate --table ephemeral
pg_sql "INSERT INTO ephemeral (aggregate_type, aggregate_id, event_type, payload)
        SELECT 'shipment', 's-' || (g % 9), 'Shipped', '{}' FROM generate_series(1, 500) g"
pg_sql "CREATE TABLE expected AS SELECT event_id FROM ephemeral"
relay_conf -o "$T/delete.conf" -s shipments -t public.ephemeral -x 'on_publish = "delete";'
relay_start "$T/delete.conf" "$T/delete.log"
table_empty() { [ "$(pg_sql "SELECT count(*) FROM ephemeral")" -eq 0 ]; }
wait_for "acked rows deleted" 60 table_empty
relay_stop
kafka_consume outbox.event.shipment '%h\n' | grep -o 'event_id=[0-9a-f-]*' | cut -d= -f2 \
  | sort >"$T/got.txt"
pg_sql "SELECT event_id FROM expected ORDER BY 1" | sort >"$T/want.txt"
diff "$T/got.txt" "$T/want.txt" >/dev/null || fail "deleted rows and delivered events differ"
log "on_publish = delete: 500 events delivered once, rows removed"
