-- 0003_outbox_logical.sql: for logical decoding mode, the tableless helper
-- {{schema}}.{{table}}_emit_message() and the relay's slot record
-- {{schema}}.outbox_relay_slots
--
-- A template like 0001_outbox_table.sql: outbox-relay fills in the schema and
-- table names when it applies or prints it. Needs PostgreSQL 13 or later.
-- Idempotent (CREATE OR REPLACE, CREATE TABLE IF NOT EXISTS), no
-- BEGIN/COMMIT of its own. Harmless for sources in poll mode, which use
-- neither object.
--
-- In logical mode (mode = "logical" in the relay's configuration) the relay
-- reads events from the write-ahead log instead of polling the table. An app
-- can then emit an event in three ways, inside the transaction that makes
-- the business change:
--
--   1. INSERT into {{schema}}.{{table}} (or {{schema}}.{{table}}_emit()),
--      as in poll mode; the row stays in the table;
--   2. INSERT the row and DELETE it again before COMMIT: the event is in the
--      log and the table stays empty (the DELETE is not an event);
--   3. call {{schema}}.{{table}}_emit_message() below: no table at all, the
--      event is a transactional logical decoding message.
--
-- All three are committed or rolled back with the transaction, reach Kafka
-- in commit order, and are routed, keyed and given headers the same way.

-- {{schema}}.{{table}}_emit_message(): emit an event without a table row.
--
--     BEGIN;
--     UPDATE orders SET state = 'paid' WHERE id = 42;
--     SELECT {{schema}}.{{table}}_emit_message('order', '42', 'OrderPaid',
--                                              '{"order_id": 42, "amount": "9.90"}',
--                                              '{"trace_id": "4bf92f35"}');
--     COMMIT;
--
-- It writes pg_logical_emit_message(true, p_prefix, <envelope>), where the
-- envelope is the JSON text
--
--     {"event_id": "<new uuid>", "aggregate_type": "order",
--      "aggregate_id": "42", "event_type": "OrderPaid", "schema_version": 1,
--      "payload": <p_payload>, "headers": <p_headers>}
--
-- and returns the new event_id (the Kafka header event_id, consumers'
-- idempotency key). "headers" is left out when p_headers is NULL; otherwise
-- it must be a flat JSON object of strings, numbers or booleans, as in the
-- table's headers column. A NULL p_payload gives a tombstone (no record
-- value). p_schema_version is 1 when omitted or NULL.
--
-- p_prefix must be the relay's message_prefix for this source ("outbox"
-- unless configured otherwise); the relay ignores messages with any other
-- prefix, so other tools may use logical messages of their own.
--
-- The message is transactional: it is decoded only if the transaction
-- commits, at the transaction's place in commit order. Nothing is stored in
-- a table, so in logical mode it is the relay's replication slot that keeps
-- the event until the relay has confirmed it; in poll mode such messages
-- are never read (use {{schema}}.{{table}}_emit() there).
--
-- The function runs with the caller's rights (not SECURITY DEFINER).
CREATE OR REPLACE FUNCTION "{{schema}}"."{{table}}_emit_message"(
    p_aggregate_type text,
    p_aggregate_id   text,
    p_event_type     text,
    p_payload        jsonb,
    p_headers        jsonb DEFAULT NULL,
    p_schema_version int   DEFAULT 1,
    p_prefix         text  DEFAULT 'outbox')
RETURNS uuid
LANGUAGE plpgsql
VOLATILE
AS $$
DECLARE
    v_event_id uuid := gen_random_uuid();
    v_envelope jsonb;
BEGIN
    -- The same NOT NULL rules as the table's columns: an event the relay
    -- could not route must fail here, in the app's transaction, not later.
    IF p_aggregate_type IS NULL OR p_aggregate_id IS NULL
       OR p_event_type IS NULL THEN
        RAISE EXCEPTION
            'aggregate_type, aggregate_id and event_type must not be NULL'
            USING ERRCODE = 'not_null_violation';
    END IF;
    IF p_headers IS NOT NULL AND jsonb_typeof(p_headers) <> 'object' THEN
        RAISE EXCEPTION 'headers must be a JSON object, not %',
            jsonb_typeof(p_headers)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_envelope := jsonb_build_object(
        'event_id',       v_event_id,
        'aggregate_type', p_aggregate_type,
        'aggregate_id',   p_aggregate_id,
        'event_type',     p_event_type,
        'schema_version', coalesce(p_schema_version, 1),
        'payload',        p_payload);
    IF p_headers IS NOT NULL THEN
        v_envelope := v_envelope || jsonb_build_object('headers', p_headers);
    END IF;
    PERFORM pg_logical_emit_message(true, coalesce(p_prefix, 'outbox'),
                                    v_envelope::text);
    RETURN v_event_id;
END
$$;

COMMENT ON FUNCTION "{{schema}}"."{{table}}_emit_message"(text, text, text, jsonb, jsonb, int, text) IS
    'Emit an event as a transactional logical decoding message (no table row) and return its event_id; logical mode only';

-- {{schema}}.outbox_relay_slots: the relay's own record of each replication
-- slot it reads, one row per slot, shared by every outbox table of the
-- schema (hence IF NOT EXISTS rather than one per table).
--
-- Before telling PostgreSQL that the slot may move to an LSN, the relay
-- writes that LSN here. At start it compares the slot with this row: a slot
-- that is missing, or whose confirmed_flush_lsn is ahead of confirmed_lsn
-- (dropped and created again, or advanced by hand), would silently skip
-- events, so the relay refuses to start that source and says why instead.
-- Do not edit the rows while a relay runs. After a deliberate reset (events
-- lost or replayed by other means), delete the slot's row, and the relay
-- starts again from wherever the slot is.
CREATE TABLE IF NOT EXISTS "{{schema}}".outbox_relay_slots (
    -- The replication slot's name (config key slot).
    slot_name     text        PRIMARY KEY,
    -- The last LSN the relay confirmed to this slot: every event before it
    -- had been acknowledged by Kafka.
    confirmed_lsn pg_lsn      NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE "{{schema}}".outbox_relay_slots IS
    'outbox-relay logical mode: last LSN confirmed to each replication slot, to detect a slot dropped, recreated or advanced behind the relay';
