-- Ledgerly schema 1: journal entries and the worker's heartbeat.
CREATE TABLE entries (
    id           bigserial PRIMARY KEY,
    memo         text        NOT NULL,
    amount_cents bigint      NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE worker_heartbeat (
    worker  text        PRIMARY KEY,
    build   text        NOT NULL,
    beats   bigint      NOT NULL DEFAULT 1,
    beat_at timestamptz NOT NULL DEFAULT now()
);
