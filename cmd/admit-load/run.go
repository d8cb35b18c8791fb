package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lib/pq"

	"github.com/admit-dev/admit/store/pgtest"
)

// run makes a fresh database, starts admit on it, drives it and the bare
// database, and returns the figures. Progress goes to logw.
func run(ctx context.Context, c config, logw io.Writer) (*report, error) {
	if c.timeout == 0 {
		c.timeout = 30 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	admitPath, err := filepath.Abs(c.admit)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(admitPath); err != nil {
		return nil, fmt.Errorf("the admit binary: %w (make build, or -admit PATH)", err)
	}
	var cluster *pgtest.Cluster
	if c.restartFor > 0 {
		// The fault run stops its database: never the shared server.
		if cluster, err = pgtest.Start(ctx); err != nil {
			return nil, fmt.Errorf("a PostgreSQL cluster of the run's own: %w", err)
		}
		defer cluster.Remove()
		c.postgres = cluster.URL("postgres")
	}
	dbURL, drop, err := freshDatabase(ctx, c.postgres)
	if err != nil {
		return nil, err
	}
	if c.keep {
		fmt.Fprintln(logw, "database:", dbURL)
	} else {
		defer drop()
	}
	dir, err := os.MkdirTemp("", "admit-load-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	secret := "ADMIT_SECRET_KEY=" + randomKey()
	env := append(adminEnv(), "ADMIT_DATABASE_URL="+dbURL, secret, "ADMIT_METRICS_ADDR=off")
	cli := func(args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, admitPath, args...)
		cmd.Env, cmd.Dir = env, dir
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("admit %s: %v: %s", strings.Join(args, " "), err, stderr.String())
		}
		return out, nil
	}
	if _, err := cli("account", "create", "--slug", "load", "--name", "Load", "--domain", "load.example"); err != nil {
		return nil, err
	}
	out, err := cli("scim-token", "create", "--account", "load", "--name", "load driver", "--json")
	if err != nil {
		return nil, err
	}
	var tok struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(out, &tok); err != nil || tok.Token == "" {
		return nil, fmt.Errorf("scim-token create printed no token: %s", out)
	}

	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	serveEnv := append(slices.Clone(env), "ADMIT_ADDR="+addr, "ADMIT_BASE_URL=http://"+addr)
	if c.pprof != "" {
		serveEnv = append(serveEnv, "ADMIT_PPROF_ADDR="+c.pprof)
	}
	stopAdmit, err := startAdmit(ctx, admitPath, dir, serveEnv, addr, logw)
	if err != nil {
		return nil, err
	}
	defer stopAdmit()

	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: c.clients, MaxIdleConns: c.clients}}
	d := &driver{base: "http://" + addr + "/scim/v2", token: tok.Token, clients: c.clients, http: client}
	if cluster != nil {
		o, err := d.withOutage(ctx, cluster, dbURL, "http://"+addr+"/readyz", c.restartFor, logw)
		if err != nil {
			return nil, err
		}
		return &report{users: c.users, clients: c.clients, outage: o}, nil
	}

	// A second admit reaches the same database through a counter of round
	// trips, for the census: one client, one request at a time, before the
	// load so that no backlog of outbox work adds to the count.
	cnt, countedURL, err := newCounter(dbURL)
	if err != nil {
		return nil, err
	}
	defer cnt.Close()
	addr2, err := freeAddr()
	if err != nil {
		return nil, err
	}
	countedEnv := append(adminEnv(), "ADMIT_DATABASE_URL="+countedURL, secret, "ADMIT_METRICS_ADDR=off", "ADMIT_ADDR="+addr2, "ADMIT_BASE_URL=http://"+addr2)
	stopCounted, err := startAdmit(ctx, admitPath, dir, countedEnv, addr2, logw)
	if err != nil {
		return nil, err
	}
	counted := &driver{base: "http://" + addr2 + "/scim/v2", token: tok.Token, clients: 1, http: client}
	trips, err := counted.census(ctx, cnt, logw)
	stopCounted()
	if err != nil {
		return nil, fmt.Errorf("census: %w", err)
	}
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	db.SetMaxOpenConns(c.clients)
	db.SetMaxIdleConns(c.clients)
	rep, err := d.measure(ctx, db, c.users, logw)
	if err != nil {
		return nil, err
	}
	rep.census = trips
	return rep, nil
}

// adminEnv is this process's environment without ADMIT_ settings, so that
// the run's own settings are the only ones admit sees.
func adminEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ADMIT_") {
			env = append(env, kv)
		}
	}
	return env
}

func randomKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// freshDatabase creates an empty database on the server at serverURL and
// returns its URL and a function that drops it.
func freshDatabase(ctx context.Context, serverURL string) (string, func(), error) {
	u, err := url.Parse(serverURL)
	if err != nil || u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return "", nil, fmt.Errorf("-postgres %q: want a postgres:// URL", serverURL)
	}
	admin, err := sql.Open("postgres", serverURL)
	if err != nil {
		return "", nil, err
	}
	name := "admit_load_" + randomHex(6)
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(name)); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("create the run's database: %w", err)
	}
	u.Path = "/" + name
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+pq.QuoteIdentifier(name)+" WITH (FORCE)")
		admin.Close()
	}
	return u.String(), drop, nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startAdmit runs admit serve and waits until /readyz answers 200.
func startAdmit(ctx context.Context, path, dir string, env []string, addr string, logw io.Writer) (func(), error) {
	cmd := exec.Command(path, "serve")
	cmd.Env, cmd.Dir = env, dir
	logs := &tail{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				fmt.Fprintln(logw, "admit is serving on", addr)
				return stop, nil
			}
		}
		select {
		case <-exited:
			return nil, fmt.Errorf("admit serve exited: %s", logs)
		case <-ctx.Done():
			stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("admit serve is not ready after a minute: %s", logs)
		}
	}
}

// tail keeps the last 8 KiB admit wrote, for an error message.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 8<<10 {
		t.buf = t.buf[len(t.buf)-8<<10:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// driver sends SCIM requests to one admit.
type driver struct {
	base    string
	token   string
	clients int
	http    *http.Client
}

// call sends one request and returns the body of an answer with status
// want; any other answer is an error.
func (d *driver) call(ctx context.Context, method, path, body string, want int) ([]byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, d.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+d.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	resp, err := d.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != want {
		if len(raw) > 300 {
			raw = raw[:300]
		}
		return nil, fmt.Errorf("%s %s: %d (want %d): %s", method, path, resp.StatusCode, want, raw)
	}
	return raw, nil
}

// stats are the figures of one kind of work.
type stats struct {
	n       int
	elapsed time.Duration
	p50     time.Duration
	p99     time.Duration
}

func (s stats) rate() float64 { return float64(s.n) / s.elapsed.Seconds() }

// drive runs fn(0..n-1) on d.clients goroutines and times each call.
func drive(ctx context.Context, clients, n int, fn func(ctx context.Context, i int) error) (stats, error) {
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				t := time.Now()
				if err := fn(ctx, i); err != nil {
					once.Do(func() { firstErr = err; cancel() })
					return
				}
				lat[i] = time.Since(t)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return stats{}, firstErr
	}
	if err := ctx.Err(); err != nil {
		return stats{}, err
	}
	slices.Sort(lat)
	return stats{n: n, elapsed: elapsed, p50: lat[n/2], p99: lat[min(n-1, n*99/100)]}, nil
}

const (
	userSchema  = "urn:ietf:params:scim:schemas:core:2.0:User"
	entSchema   = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	groupSchema = "urn:ietf:params:scim:schemas:core:2.0:Group"
	patchSchema = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
)

func userName(i int) string { return fmt.Sprintf("user%06d@load.example", i) }

// createBody is the user as Entra ID (even i) or Okta (odd i) creates it.
func createBody(i int) string {
	name := userName(i)
	if i%2 == 0 {
		return fmt.Sprintf(`{"schemas":[%q,%q],"externalId":"%08x-8d2a-4f8e-bf98-7363c4aed4ef","userName":%q,"active":true,
"emails":[{"primary":true,"type":"work","value":%q}],"meta":{"resourceType":"User"},
"name":{"formatted":"Given%d Family%d","familyName":"Family%d","givenName":"Given%d"},"roles":[],
%q:{"department":"Load","employeeNumber":"%d"}}`, userSchema, entSchema, i, name, name, i, i, i, i, entSchema, i)
	}
	return fmt.Sprintf(`{"schemas":[%q],"userName":%q,"name":{"givenName":"Given%d","familyName":"Family%d"},
"emails":[{"primary":true,"value":%q,"type":"work"}],"displayName":"Given%d Family%d","locale":"en-US",
"externalId":"00u%08x","groups":[],"password":"x-Okta-sends-one-when-sync-is-on","active":true}`, userSchema, name, i, i, name, i, i, i)
}

// memberPatch adds one member as Entra ID (even i) or Okta (odd i) does.
func memberPatch(i int, id string) string {
	if i%2 == 0 {
		return fmt.Sprintf(`{"schemas":[%q],"Operations":[{"op":"Add","path":"members","value":[{"$ref":null,"value":%q}]}]}`, patchSchema, id)
	}
	return fmt.Sprintf(`{"schemas":[%q],"Operations":[{"op":"add","path":"members","value":[{"value":%q,"display":%q}]}]}`, patchSchema, id, userName(i))
}

// measure runs every kind of work in turn: the bare database's just
// before the admit work it is compared with.
func (d *driver) measure(ctx context.Context, db *sql.DB, users int, logw io.Writer) (*report, error) {
	rep := &report{users: users, clients: d.clients}
	extra := max(users/10, 1) // users added to groups one PATCH at a time
	total := users + extra
	step := func(name string, s stats, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		fmt.Fprintf(logw, "%-34s %7d in %6.2fs  %8.0f/s  p50 %-9v p99 %v\n", name, s.n, s.elapsed.Seconds(), s.rate(), s.p50.Round(10*time.Microsecond), s.p99.Round(10*time.Microsecond))
		return nil
	}

	// The bare database: a SCIM-like row, one INSERT per statement.
	if _, err := db.ExecContext(ctx, `CREATE TABLE load_bare (id text PRIMARY KEY, account_id text NOT NULL, user_name text NOT NULL,
		external_id text, attributes jsonb NOT NULL, active boolean NOT NULL, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL);
		CREATE UNIQUE INDEX load_bare_user_name ON load_bare (account_id, lower(user_name))`); err != nil {
		return nil, err
	}
	account := randomHex(16)
	var err error
	rep.bareInsert, err = drive(ctx, d.clients, total, func(ctx context.Context, i int) error {
		now := time.Now()
		_, err := db.ExecContext(ctx, `INSERT INTO load_bare (id, account_id, user_name, external_id, attributes, active, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, true, $6, $6)`, randomHex(16), account, userName(i), fmt.Sprintf("00u%08x", i), createBody(i), now)
		return err
	})
	if err := step("bare INSERT", rep.bareInsert, err); err != nil {
		return nil, err
	}

	ids := make([]string, total)
	rep.create, err = drive(ctx, d.clients, total, func(ctx context.Context, i int) error {
		raw, err := d.call(ctx, "POST", "/Users", createBody(i), http.StatusCreated)
		if err != nil {
			return err
		}
		var res struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(raw, &res); err != nil || res.ID == "" {
			return fmt.Errorf("create answered no id: %s", raw)
		}
		ids[i] = res.ID
		return nil
	})
	if err := step("create POST /Users", rep.create, err); err != nil {
		return nil, err
	}

	rep.bareSelect, err = drive(ctx, d.clients, users, func(ctx context.Context, i int) error {
		var id string
		return db.QueryRowContext(ctx, `SELECT id FROM load_bare WHERE account_id = $1 AND lower(user_name) = lower($2)`, account, userName((i*7919)%users)).Scan(&id)
	})
	if err := step("bare point SELECT", rep.bareSelect, err); err != nil {
		return nil, err
	}
	rep.filter, err = drive(ctx, d.clients, users, func(ctx context.Context, i int) error {
		raw, err := d.call(ctx, "GET", "/Users?filter="+url.QueryEscape(fmt.Sprintf("userName eq %q", userName((i*7919)%users))), "", http.StatusOK)
		if err == nil && !bytes.Contains(raw, []byte(`"totalResults":1`)) {
			err = fmt.Errorf("filter found not one user: %.300s", raw)
		}
		return err
	})
	if err := step("filter userName eq", rep.filter, err); err != nil {
		return nil, err
	}

	pages := max(users/20, 20)
	page := func(start int) func(ctx context.Context, i int) error {
		return func(ctx context.Context, i int) error {
			_, err := d.call(ctx, "GET", fmt.Sprintf("/Users?startIndex=%d&count=100", start), "", http.StatusOK)
			return err
		}
	}
	rep.pageFirst, err = drive(ctx, d.clients, pages, page(1))
	if err := step("paging, first 100", rep.pageFirst, err); err != nil {
		return nil, err
	}
	rep.pageLast, err = drive(ctx, d.clients, pages, page(max(total-99, 1)))
	if err := step(fmt.Sprintf("paging, 100 from %d", max(total-99, 1)), rep.pageLast, err); err != nil {
		return nil, err
	}

	start := time.Now()
	members := make([]string, users)
	for i := range users {
		members[i] = fmt.Sprintf(`{"value":%q}`, ids[i])
	}
	raw, err := d.call(ctx, "POST", "/Groups", fmt.Sprintf(`{"schemas":[%q],"displayName":"Everyone","members":[%s]}`, groupSchema, strings.Join(members, ",")), http.StatusCreated)
	rep.groupBuild = time.Since(start)
	if err != nil {
		return nil, fmt.Errorf("group of %d: %w", users, err)
	}
	fmt.Fprintf(logw, "%-34s %7d members in %.2fs\n", "group POST", users, rep.groupBuild.Seconds())
	var big struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(raw, &big); err != nil || big.ID == "" {
		return nil, fmt.Errorf("group create answered no id: %.300s", raw)
	}
	raw, err = d.call(ctx, "POST", "/Groups", fmt.Sprintf(`{"schemas":[%q],"displayName":"Few"}`, groupSchema), http.StatusCreated)
	if err != nil {
		return nil, err
	}
	var small struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(raw, &small); err != nil || small.ID == "" {
		return nil, fmt.Errorf("group create answered no id: %.300s", raw)
	}
	addTo := func(group string) func(ctx context.Context, i int) error {
		return func(ctx context.Context, i int) error {
			_, err := d.call(ctx, "PATCH", "/Groups/"+group, memberPatch(i, ids[users+i]), http.StatusNoContent)
			return err
		}
	}
	rep.memberSmall, err = drive(ctx, d.clients, extra, addTo(small.ID))
	if err := step("member PATCH, group of 0.."+fmt.Sprint(extra), rep.memberSmall, err); err != nil {
		return nil, err
	}
	rep.memberBig, err = drive(ctx, d.clients, extra, addTo(big.ID))
	if err := step(fmt.Sprintf("member PATCH, group of %d", users), rep.memberBig, err); err != nil {
		return nil, err
	}

	rep.deactivate, err = drive(ctx, d.clients, users, func(ctx context.Context, i int) error {
		_, err := d.call(ctx, "PATCH", "/Users/"+ids[i], fmt.Sprintf(`{"schemas":[%q],"Operations":[{"op":"Replace","path":"active","value":"False"}]}`, patchSchema), http.StatusOK)
		return err
	})
	if err := step("Entra Replace active=false", rep.deactivate, err); err != nil {
		return nil, err
	}
	raw, err = d.call(ctx, "GET", "/Users?count=1&filter="+url.QueryEscape("active eq true"), "", http.StatusOK)
	if err != nil {
		return nil, err
	}
	if want := fmt.Sprintf(`"totalResults":%d`, extra); !bytes.Contains(raw, []byte(want)) {
		return nil, errors.New("after deactivating every user of the big group, the active ones are not the others: " + string(raw[:min(len(raw), 300)]))
	}
	return rep, nil
}
