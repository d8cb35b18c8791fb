-- +goose Up
-- Domains are now claimed and then verified (DNS TXT challenge, or an
-- operator vouching). Several accounts may claim a domain while it is
-- pending; at most one may hold it verified, and only verified domains
-- count for single sign-on, home realm discovery and who answers for a
-- person (DESIGN rule 10).
CREATE TABLE domains (
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    domain TEXT NOT NULL,
    -- challenge is the value of the TXT record that proves control; it is
    -- published in DNS by design, so it is kept as it is.
    challenge TEXT NOT NULL,
    verified_at TIMESTAMP,
    verified_by TEXT NOT NULL DEFAULT '', -- dns or operator
    created_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (account_id, domain)
);
CREATE UNIQUE INDEX domains_verified ON domains (domain) WHERE verified_at IS NOT NULL;

-- Domains set before verification existed were set by an operator: they
-- stay the account's, as vouched for.
INSERT INTO domains (account_id, domain, challenge, verified_at, verified_by, created_at)
SELECT d.account_id, d.domain, '', a.created_at, 'operator', a.created_at
FROM account_domains d JOIN accounts a ON a.id = d.account_id;
DROP TABLE account_domains;

-- +goose Down
CREATE TABLE account_domains (
    domain TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE
);
CREATE INDEX account_domains_account ON account_domains (account_id);
INSERT INTO account_domains (domain, account_id) SELECT domain, account_id FROM domains WHERE verified_at IS NOT NULL;
DROP TABLE domains;
