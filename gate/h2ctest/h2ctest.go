// Package h2ctest plays both ends of an h2c upgrade (HTTP/2 over
// cleartext, RFC 7540 section 3.2) for the tests that check admit never
// lets one through to an app: an app server that takes the upgrade, and a
// client that speaks HTTP/2 on the connection once it is open.
package h2ctest

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
)

// BufferedConn reads first what a bufio.Reader already took from the
// connection (the bytes after a 101 that http.ReadResponse buffered).
type BufferedConn struct {
	net.Conn
	R *bufio.Reader
}

func (c BufferedConn) Read(p []byte) (int, error) { return c.R.Read(p) }

// Upgrade answers an h2c upgrade with 101 on w's hijacked connection and
// serves HTTP/2 there with h, as an app server that takes the upgrade
// without looking twice does (x/net's h2c wants HTTP2-Settings named in
// Connection, which a proxy drops as hop-by-hop; other servers do not
// ask). It returns once the connection is handed to the server.
func Upgrade(w http.ResponseWriter, h http.Handler) error {
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return err
	}
	_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
	if err := rw.Flush(); err != nil {
		conn.Close()
		return err
	}
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: h, Protocols: &p}
	go func() { _ = srv.Serve(&oneConn{conn: BufferedConn{conn, rw.Reader}}) }()
	return nil
}

// ClientConn speaks HTTP/2 with prior knowledge on conn, an open tunnel.
func ClientConn(ctx context.Context, conn net.Conn) (*http.ClientConn, error) {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{
		Protocols: &p,
		DialContext: func(context.Context, string, string) (net.Conn, error) {
			return conn, nil
		},
	}
	return tr.NewClientConn(ctx, "http", "tunnel:80")
}

// oneConn is a listener that hands out one connection, then ends.
type oneConn struct {
	conn net.Conn
	done bool
}

func (l *oneConn) Accept() (net.Conn, error) {
	if l.done {
		return nil, errors.New("h2ctest: one connection only")
	}
	l.done = true
	return l.conn, nil
}

func (l *oneConn) Close() error   { return nil }
func (l *oneConn) Addr() net.Addr { return l.conn.LocalAddr() }
