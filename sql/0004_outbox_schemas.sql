-- 0004_outbox_schemas.sql: the Avro schema catalog {{schema}}.{{table}}_schemas
-- and the dead-letter record {{schema}}.{{table}}_dead_letters
--
-- A template like 0001_outbox_table.sql: outbox-relay fills in the schema and
-- table names when it applies or prints it. Idempotent, no BEGIN/COMMIT of
-- its own.

-- The schema catalog: one Avro schema per (event_type, schema_version).
--
-- A source with format = "avro" encodes each event's payload against the
-- schema of the event's event_type and schema_version, found here. An event
-- whose version is not in the catalog is handled by the source's on_error
-- policy, never published unencoded.
--
-- Add versions with `outbox-relay schema add`, which refuses a version that
-- breaks the source's compatibility rule (backward by default) and fills in
-- the fingerprint. Apps that ship their schemas with their own migrations may
-- INSERT rows here directly; `outbox-relay schema check` then verifies the
-- whole catalog (every schema valid, every version compatible with the ones
-- before it), and the relay computes missing fingerprints itself.
--
-- Rows are never changed once events use them: a different schema is a new
-- version. The relay caches what it has read.
CREATE TABLE IF NOT EXISTS "{{schema}}"."{{table}}_schemas" (
    event_type     text        NOT NULL,
    schema_version int         NOT NULL CHECK (schema_version > 0),
    -- The .avsc text, verbatim: what is registered with a schema registry
    -- and, in Parsing Canonical Form, fingerprinted.
    schema         text        NOT NULL,
    -- CRC-64-AVRO fingerprint of the schema's Parsing Canonical Form, as a
    -- signed 64-bit number (the 8 bytes after C3 01 in single-object
    -- encoding, read little-endian). Informational.
    fingerprint    bigint,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_type, schema_version)
);

COMMENT ON TABLE "{{schema}}"."{{table}}_schemas" IS
    'Avro schemas of the events of {{schema}}.{{table}}, by event_type and schema_version (outbox-relay schema add|list|check)';

-- Events the relay could not publish and sent to the dead-letter topic
-- instead (on_error = "dead-letter"): the event as it was captured, why, and
-- where it went. Written before the dead letter is sent; an event sent
-- twice (after a restart) keeps one row, keyed by event_id.
--
-- recovered_at is set once the event has been re-sent successfully after its
-- cause was fixed (`outbox-relay replay --dead-lettered`).
CREATE TABLE IF NOT EXISTS "{{schema}}"."{{table}}_dead_letters" (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id         text        UNIQUE,
    -- the outbox row's id (poll mode), or NULL
    outbox_id        bigint,
    -- where the event is in the write-ahead log (logical mode), or NULL
    wal_lsn          pg_lsn,
    aggregate_type   text,
    aggregate_id     text,
    event_type       text,
    schema_version   text,
    -- the original payload and headers, as text
    payload          text,
    headers          text,
    created_at       timestamptz,
    error            text        NOT NULL,
    topic            text        NOT NULL,
    dead_lettered_at timestamptz NOT NULL DEFAULT now(),
    recovered_at     timestamptz
);

CREATE INDEX IF NOT EXISTS "{{table}}_dead_letters_open_idx"
    ON "{{schema}}"."{{table}}_dead_letters" (dead_lettered_at)
    WHERE recovered_at IS NULL;

COMMENT ON TABLE "{{schema}}"."{{table}}_dead_letters" IS
    'Events of {{schema}}.{{table}} that outbox-relay sent to the dead-letter topic, and why';
