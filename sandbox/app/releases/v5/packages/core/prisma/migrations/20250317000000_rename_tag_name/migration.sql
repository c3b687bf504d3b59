-- Tags have labels, not names.
--
-- SANDBOX: a good migration that older code cannot live with - v2's api still reads
-- "Tag"."name" - so a rollback across it needs the database back too (full_rollback).

-- AlterTable
ALTER TABLE "Tag" RENAME COLUMN "name" TO "label";

-- RenameIndex
ALTER INDEX "Tag_name_key" RENAME TO "Tag_label_key";
