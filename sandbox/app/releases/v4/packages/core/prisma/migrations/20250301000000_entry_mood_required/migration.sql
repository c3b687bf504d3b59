-- Make "mood" required and add a free-text note to go with it.
--
-- SANDBOX: this migration is broken on purpose; it fails half-way, leaving "mood_note"
-- added and the rest undone (the runbook's "migration failed mid-way" case).
-- Prisma sends a migration file to PostgreSQL as one script, which PostgreSQL runs in
-- one implicit transaction: a plain failing file would leave no partial changes at all.
-- The explicit COMMIT ends that transaction, so the first part is durable before the
-- UPDATE fails on every database (column "mod" does not exist: a typo for "mood").

-- AlterTable
ALTER TABLE "Entry" ADD COLUMN     "mood_note" TEXT;

COMMIT;

-- Backfill: entries written before moods existed get a neutral 3.
UPDATE "Entry" SET "mood" = 3 WHERE "mod" IS NULL;

-- AlterTable
ALTER TABLE "Entry" ALTER COLUMN "mood" SET NOT NULL;
