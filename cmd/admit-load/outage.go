package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/admit-dev/admit/store/pgtest"
	"github.com/admit-dev/admit/store/storetest"
)

// outage is what a run with -restart-for saw: SCIM creates at full load
// while PostgreSQL was stopped and started again under them.
type outage struct {
	down     time.Duration
	statuses map[int]int // answers by status
	noRetry  int         // 503s without Retry-After
	failed   int         // requests that got no answer at all
	missing  []string    // users answered 201 but not in the directory afterwards
	half     []string    // what storetest.HalfWritten found
	ready    time.Duration
}

// ok says whether admit kept the promise: every request got its
// 2xx (and the write is there) or a 503 with Retry-After; never a 500,
// never a half-write.
func (o *outage) ok() bool {
	for status := range o.statuses {
		if status >= 500 && status != http.StatusServiceUnavailable {
			return false
		}
	}
	return o.noRetry == 0 && len(o.missing) == 0 && len(o.half) == 0 && o.statuses[http.StatusCreated] > 0
}

func (o *outage) print(w io.Writer) {
	var codes []int
	for c := range o.statuses {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	fmt.Fprintf(w, "PostgreSQL stopped for %v under SCIM creates at full load; answers by status:\n", o.down)
	for _, c := range codes {
		fmt.Fprintf(w, "  %d  %d\n", c, o.statuses[c])
	}
	fmt.Fprintf(w, "  no answer at all: %d; 503 without Retry-After: %d\n", o.failed, o.noRetry)
	fmt.Fprintf(w, "  answered 201 but missing afterwards: %d; half-written: %d\n", len(o.missing), len(o.half))
	for _, h := range o.half {
		fmt.Fprintln(w, "   ", h)
	}
	fmt.Fprintf(w, "  /readyz back to 200 %v after PostgreSQL was started again\n", o.ready.Round(time.Millisecond))
	if o.ok() {
		fmt.Fprintln(w, "every request got its 2xx, with the write present afterwards, or a 503 with Retry-After")
	} else {
		fmt.Fprintln(w, "FAILED: see the figures above")
	}
}

// withOutage drives SCIM creates on d.clients connections for the whole
// outage and a few seconds either side, stops the cluster for down in the
// middle, then checks every write: the 201s are there, nothing is half
// written, and /readyz came back by itself.
func (d *driver) withOutage(ctx context.Context, cluster *pgtest.Cluster, dbURL, readyz string, down time.Duration, logw io.Writer) (*outage, error) {
	o := &outage{down: down, statuses: map[int]int{}}
	var (
		mu      sync.Mutex
		created []string
		next    atomic.Int64
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range d.clients {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1))
				status, retry, err := d.post(ctx, "/Users", createBody(1_000_000+i))
				mu.Lock()
				switch {
				case err != nil && ctx.Err() == nil:
					o.failed++
				case err == nil:
					o.statuses[status]++
					if status == http.StatusServiceUnavailable && retry == "" {
						o.noRetry++
					}
					if status == http.StatusCreated {
						created = append(created, userName(1_000_000+i))
					}
				}
				mu.Unlock()
				if status == http.StatusServiceUnavailable {
					// As Entra ID and Okta do: wait, then go on.
					select {
					case <-ctx.Done():
					case <-time.After(200 * time.Millisecond):
					}
				}
			}
		})
	}
	fmt.Fprintf(logw, "stopping PostgreSQL for %v under load\n", down)
	time.Sleep(3 * time.Second)
	restartErr := cluster.Restart(ctx, down)
	o.ready = waitReady(ctx, readyz) // from when PostgreSQL was started again
	time.Sleep(5 * time.Second)
	cancel()
	wg.Wait()
	if restartErr != nil {
		return nil, fmt.Errorf("restart PostgreSQL: %w", restartErr)
	}
	check := context.Background()
	for _, name := range created {
		body, err := d.call(check, http.MethodGet, "/Users?filter="+url.QueryEscape(fmt.Sprintf("userName eq %q", name)), "", http.StatusOK)
		if err != nil {
			return nil, err
		}
		var list struct {
			Total int `json:"totalResults"`
		}
		if json.Unmarshal(body, &list) != nil || list.Total != 1 {
			o.missing = append(o.missing, name)
		}
	}
	half, err := storetest.HalfWritten(check, dbURL)
	if err != nil {
		return nil, err
	}
	o.half = half
	return o, nil
}

// post sends one SCIM POST and returns its status and Retry-After.
func (d *driver) post(ctx context.Context, path, body string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.base+path, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+d.token)
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := d.http.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After"), nil
}

// waitReady polls /readyz until it answers 200 and says how long that took.
func waitReady(ctx context.Context, readyz string) time.Duration {
	start := time.Now()
	for deadline := start.Add(time.Minute); time.Now().Before(deadline) && ctx.Err() == nil; {
		resp, err := http.Get(readyz)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(start)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}
