-- 0002_outbox_emit.sql: {{schema}}.{{table}}_emit(), write an event in one
-- call
--
-- A template like 0001_outbox_table.sql: outbox-relay fills in the schema and
-- table names when it applies or prints it. Needs PostgreSQL 13 or later.
-- Idempotent (CREATE OR REPLACE), no BEGIN/COMMIT of its own.
--
-- Call it inside the transaction that makes the business change, so the
-- event is committed (or rolled back) together with it:
--
--     BEGIN;
--     UPDATE orders SET state = 'paid' WHERE id = 42;
--     SELECT {{schema}}.{{table}}_emit('order', '42', 'OrderPaid',
--                                      '{"order_id": 42, "amount": "9.90"}',
--                                      '{"trace_id": "4bf92f35"}');
--     COMMIT;
--
-- It returns the new event's event_id. p_headers is a flat JSON object of
-- extra Kafka headers (or NULL); p_schema_version selects the version of the
-- event type's schema, 1 when omitted or NULL.
--
-- The function runs with the caller's rights (not SECURITY DEFINER): the
-- caller needs INSERT on the table and USAGE on its identity sequence, as
-- for a plain INSERT.

CREATE OR REPLACE FUNCTION "{{schema}}"."{{table}}_emit"(
    p_aggregate_type text,
    p_aggregate_id   text,
    p_event_type     text,
    p_payload        jsonb,
    p_headers        jsonb DEFAULT NULL,
    p_schema_version int   DEFAULT 1)
RETURNS uuid
LANGUAGE sql
VOLATILE
AS $$
    INSERT INTO "{{schema}}"."{{table}}"
        (aggregate_type, aggregate_id, event_type, schema_version,
         payload, headers)
    VALUES
        (p_aggregate_type, p_aggregate_id, p_event_type,
         coalesce(p_schema_version, 1), p_payload, p_headers)
    RETURNING event_id
$$;

COMMENT ON FUNCTION "{{schema}}"."{{table}}_emit"(text, text, text, jsonb, jsonb, int) IS
    'Insert an event into the outbox in the current transaction and return its event_id';
