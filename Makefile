# admit: run `make help` for the targets.
GO ?= go
BENCHTIME ?= 2s

.PHONY: help run demo test bench bench-load lint check build docs

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

run: ## start admit on http://localhost:8080 with embedded SQLite in ./admit-data
	$(GO) run ./cmd/admit serve

demo: ## run the whole story on this machine: admit, demo SAML and OIDC identity providers, an intranet portal and two apps (see the printed URLs)
	$(GO) build -o bin/admit ./cmd/admit
	$(GO) build -o bin/go-app ./examples/apps/go
	$(GO) run ./examples/demo -admit bin/admit -go-app bin/go-app

# GOGC=800: the tests are short-lived and their heaps small, and the race
# detector makes every collection dearer; on two cores, CPU is what make
# test waits for (800 instead of 400: 14 min 37 s instead of 15 min 5 s,
# under 3 GB of memory in use at the most).
#
# The race detector watches admit's code and every library but the
# transpiled C of SQLite (modernc.org/...): instrumented, its every memory
# access made each SQLite statement about three times slower, and its
# races would be SQLite's own, not admit's (database/sql, which admit's
# goroutines share, is still watched).
test: ## run every test with the race detector, on SQLite and PostgreSQL
	GOGC=800 $(GO) test -race -gcflags='modernc.org/...=-race=false' -count=1 -timeout 30m -parallel 4 ./...

bench: ## run the benchmarks on both databases: manual add, sign-in, listing, SCIM create/filter/patch/paging, group members, SAML ACS, the console's Users page, webhook delivery, forward-auth on PostgreSQL beside the bare point-select rate, bulk import of 10,000 and 100,000 rows
	$(GO) test -run '^$$' -bench . -benchmem -benchtime=$(BENCHTIME) ./directory/ ./store/ ./scim/ ./sso/ ./admin/ ./events/ ./gate/ ./bulk/

bench-load: build ## drive a built admit over SCIM on a fresh PostgreSQL database at 16 clients, 10,000 users, beside the bare database (ADMIT_TEST_POSTGRES_URL); RESTART=10s instead stops a PostgreSQL of its own under the load and checks every answer
	$(GO) run ./cmd/admit-load -admit bin/admit $(if $(RESTART),-restart-for $(RESTART))

lint: ## gofmt, go vet and staticcheck
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "not gofmt'ed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

check: lint ## lint, and make sure go.mod and go.sum are tidy
	$(GO) mod tidy -diff

build: ## build bin/admit
	$(GO) build -o bin/admit ./cmd/admit

docs: ## regenerate docs/cli.md and docs/configuration.md from the code
	$(GO) run ./cmd/admit help --markdown > docs/cli.md
	$(GO) run ./cmd/admit help config --markdown > docs/configuration.md
