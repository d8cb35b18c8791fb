package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// counter is a TCP relay between admit and PostgreSQL that counts round
// trips: each Sync (extended query protocol) or Query (simple protocol)
// message a client sends is one wait for the server's answer. lib/pq sends
// a query with arguments as two of them (prepare, then execute).
type counter struct {
	l      net.Listener
	target string
	trips  atomic.Int64
}

// newCounter relays to the server of dbURL and returns the URL that
// reaches the same database through the relay.
func newCounter(dbURL string) (*counter, string, error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return nil, "", err
	}
	if q := u.Query(); q.Get("sslmode") != "disable" {
		// The relay reads the protocol: it must not be encrypted.
		q.Set("sslmode", "disable")
		u.RawQuery = q.Encode()
	}
	target := u.Host
	if u.Port() == "" {
		target = net.JoinHostPort(u.Hostname(), "5432")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	c := &counter{l: l, target: target}
	u.Host = l.Addr().String()
	go c.accept()
	return c, u.String(), nil
}

func (c *counter) Close() error { return c.l.Close() }

func (c *counter) accept() {
	for {
		conn, err := c.l.Accept()
		if err != nil {
			return
		}
		go c.relay(conn)
	}
}

func (c *counter) relay(client net.Conn) {
	defer client.Close()
	server, err := net.Dial("tcp", c.target)
	if err != nil {
		return
	}
	defer server.Close()
	go func() {
		_, _ = io.Copy(client, server)
		client.Close()
	}()
	// The startup message has a length and no type byte; every later
	// message has a type byte, then a length that counts itself.
	var head [5]byte
	if _, err := io.ReadFull(client, head[:4]); err != nil {
		return
	}
	n := binary.BigEndian.Uint32(head[:4])
	if n < 4 || n > 1<<20 {
		return
	}
	if _, err := server.Write(head[:4]); err != nil {
		return
	}
	if _, err := io.CopyN(server, client, int64(n-4)); err != nil {
		return
	}
	for {
		if _, err := io.ReadFull(client, head[:]); err != nil {
			return
		}
		if head[0] == 'S' || head[0] == 'Q' {
			c.trips.Add(1)
		}
		n := binary.BigEndian.Uint32(head[1:])
		if n < 4 {
			return
		}
		if _, err := server.Write(head[:]); err != nil {
			return
		}
		if _, err := io.CopyN(server, client, int64(n-4)); err != nil {
			return
		}
	}
}

// census is the round trips per request of each kind of work, measured on
// a second admit that reaches the database through a counter.
type census []struct {
	work  string
	trips float64
}

func (c census) String() string {
	s := ""
	for _, e := range c {
		s += fmt.Sprintf("%-34s %5.1f\n", e.work, e.trips)
	}
	return s
}

// censusRequests is how many requests of each kind the census averages.
const censusRequests = 20

// census sends each kind of work censusRequests times, one at a time, and
// divides the round trips counted by the requests sent. Background work
// (the outbox worker) adds a little; the idle line shows how much.
func (d *driver) census(ctx context.Context, c *counter, logw io.Writer) (census, error) {
	var out census
	measure := func(work string, per int, fn func(i int) error) error {
		before := c.trips.Load()
		for i := range censusRequests {
			if err := fn(i); err != nil {
				return fmt.Errorf("%s: %w", work, err)
			}
		}
		out = append(out, struct {
			work  string
			trips float64
		}{work, float64(c.trips.Load()-before) / float64(censusRequests*per)})
		return nil
	}
	var ids []string
	create := func(i int) error {
		raw, err := d.call(ctx, "POST", "/Users", createBody(1_000_000+i), http.StatusCreated)
		if err != nil {
			return err
		}
		var res struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(raw, &res); err != nil {
			return err
		}
		ids = append(ids, res.ID)
		return nil
	}
	if err := measure("idle (per request's time)", 1, func(int) error { time.Sleep(5 * time.Millisecond); return nil }); err != nil {
		return nil, err
	}
	if err := measure("create POST /Users", 1, create); err != nil {
		return nil, err
	}
	if err := measure("filter userName eq", 1, func(i int) error {
		_, err := d.call(ctx, "GET", "/Users?filter="+url.QueryEscape(fmt.Sprintf("userName eq %q", userName(1_000_000+i))), "", http.StatusOK)
		return err
	}); err != nil {
		return nil, err
	}
	if err := measure("paging, 100 a page", 1, func(i int) error {
		_, err := d.call(ctx, "GET", "/Users?startIndex=1&count=100", "", http.StatusOK)
		return err
	}); err != nil {
		return nil, err
	}
	raw, err := d.call(ctx, "POST", "/Groups", fmt.Sprintf(`{"schemas":[%q],"displayName":"Census"}`, groupSchema), http.StatusCreated)
	if err != nil {
		return nil, err
	}
	var g struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		return nil, err
	}
	if err := measure("member PATCH (one member)", 1, func(i int) error {
		_, err := d.call(ctx, "PATCH", "/Groups/"+g.ID, memberPatch(i, ids[i]), http.StatusNoContent)
		return err
	}); err != nil {
		return nil, err
	}
	members := make([]string, len(ids))
	for i, id := range ids {
		members[i] = fmt.Sprintf(`{"value":%q}`, id)
	}
	if err := measure("group POST, per member", len(ids), func(i int) error {
		_, err := d.call(ctx, "POST", "/Groups", fmt.Sprintf(`{"schemas":[%q],"displayName":"Census %d","members":[%s]}`, groupSchema, i, strings.Join(members, ",")), http.StatusCreated)
		return err
	}); err != nil {
		return nil, err
	}
	if err := measure("Entra Replace active=false", 1, func(i int) error {
		_, err := d.call(ctx, "PATCH", "/Users/"+ids[i], fmt.Sprintf(`{"schemas":[%q],"Operations":[{"op":"Replace","path":"active","value":"False"}]}`, patchSchema), http.StatusOK)
		return err
	}); err != nil {
		return nil, err
	}
	fmt.Fprint(logw, "database round trips per request:\n", out)
	return out, nil
}
