-- 0005_outbox_replays.sql: the replay history {{schema}}.{{table}}_replays
--
-- A template like 0001_outbox_table.sql: outbox-relay fills in the schema and
-- table names when it applies or prints it. Idempotent, no BEGIN/COMMIT of
-- its own.
--
-- `outbox-relay replay` re-sends a range of past events of {{schema}}.{{table}}
-- to Kafka (it never changes published_at). Each run is recorded here when it
-- starts and updated when it ends, so that who re-sent what, when, and how it
-- went stays visible (`outbox-relay replay --history`).
CREATE TABLE IF NOT EXISTS "{{schema}}"."{{table}}_replays" (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    -- the database role and the operating-system user and host that ran it
    db_user     text        NOT NULL DEFAULT current_user,
    os_user     text,
    host        text,
    source      text        NOT NULL,
    -- the range and filters as given on the command line
    selection   text        NOT NULL,
    -- the topic the events were sent to instead of their own (--topic), or NULL
    topic       text,
    selected    bigint      NOT NULL DEFAULT 0,
    sent        bigint      NOT NULL DEFAULT 0,
    acked       bigint      NOT NULL DEFAULT 0,
    failed      bigint      NOT NULL DEFAULT 0,
    -- every selected event up to this id was acked: a resumed replay starts after it
    acked_through_id bigint,
    -- running, done, failed (some events were not acked) or interrupted
    status      text        NOT NULL DEFAULT 'running'
);

COMMENT ON TABLE "{{schema}}"."{{table}}_replays" IS
    'Replays of {{schema}}.{{table}} events by outbox-relay replay: who, when, what, how it went';
