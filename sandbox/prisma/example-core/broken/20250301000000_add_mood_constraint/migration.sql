-- Release 3 migration that FAILS HALF-WAY (sandbox fixture for the runbook's
-- "migration failed mid-way" procedure).
--
-- Prisma sends a migration file to PostgreSQL as one multi-statement query,
-- which runs in ONE implicit transaction: a plain failing file leaves nothing
-- behind. The explicit COMMIT below ends that implicit transaction, so the
-- first statement stays applied when the second one fails -- the partial
-- change an operator has to reverse by hand before
-- `prisma migrate resolve --rolled-back 20250301000000_add_mood_constraint`.

-- Step 1 (succeeds and is committed): new column.
ALTER TABLE "Entry" ADD COLUMN "mood_note" TEXT;
COMMIT;

-- Step 2 (fails: column "mood_score" does not exist -> 42703).
ALTER TABLE "Entry" ADD CONSTRAINT "Entry_mood_range" CHECK ("mood_score" BETWEEN 1 AND 5);
