-- +goose Up
-- Why a pending upload's file was let go before its import started:
-- 'expired' (past its lifetime, directory.ImportUploadLifetime) or
-- 'erasure' (an operator erased a person, who may be in the file). Its
-- data and file name are emptied; the row stays, a few days, so that the
-- console tells the admin which it was instead of only "no longer kept".
ALTER TABLE import_uploads ADD COLUMN discarded text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE import_uploads DROP COLUMN discarded;
