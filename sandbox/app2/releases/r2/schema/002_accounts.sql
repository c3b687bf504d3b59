-- Ledgerly schema 2: accounts; an entry may name its account (nullable, so entries
-- from before keep working, and so does release r1 on this schema).
CREATE TABLE accounts (
    id         bigserial PRIMARY KEY,
    name       text        NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE entries ADD COLUMN account_id bigint REFERENCES accounts (id);
