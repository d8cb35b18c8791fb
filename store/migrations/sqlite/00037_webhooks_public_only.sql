-- +goose Up
-- A webhook its account's owners chose (in the console or the API) reaches
-- public addresses only: ADMIT_OUTBOUND_ALLOW lets the operators' own
-- endpoints into private networks, not every account owner's.
ALTER TABLE webhooks ADD COLUMN public_only INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE webhooks DROP COLUMN public_only;
