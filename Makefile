# admit: run `make help` for the targets.
GO ?= go
BENCHTIME ?= 2s

.PHONY: help run test bench lint check build

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

run: ## start admit on http://localhost:8080 with embedded SQLite in ./admit-data
	$(GO) run ./cmd/admit serve

test: ## run every test with the race detector, on SQLite and PostgreSQL
	$(GO) test -race -count=1 -timeout 30m ./...

bench: ## run the benchmarks on both databases: manual add, sign-in, listing, SCIM create/filter/patch/paging, group members, SAML ACS, the console's Users page, webhook delivery, forward-auth on PostgreSQL beside the bare point-select rate, bulk import of 10,000 and 100,000 rows
	$(GO) test -run '^$$' -bench . -benchmem -benchtime=$(BENCHTIME) ./directory/ ./store/ ./scim/ ./sso/ ./admin/ ./events/ ./gate/ ./bulk/

lint: ## go vet and staticcheck
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

check: lint ## lint, and make sure go.mod and go.sum are tidy
	$(GO) mod tidy -diff

build: ## build bin/admit
	$(GO) build -o bin/admit ./cmd/admit
