package main

import (
	"net"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// runDaemon starts cmd, a server the test runs beside admit (nginx, Caddy,
// Apache), with its output in the file out: a file, not a pipe, since
// nginx's worker would hold a pipe open after its master exits, and Wait
// with it. When the test ends it is stopped with SIGTERM (the fast
// shutdown of each, which stops their workers too), killed if it has not
// exited within 10 s; a failed test shows out and the files logs. It
// returns once addr accepts connections, and fails the test if the server
// exits first or 20 s pass.
func runDaemon(t *testing.T, name string, cmd *exec.Cmd, out, addr string, logs ...string) {
	t.Helper()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	shown := func() string {
		text := ""
		for _, p := range append([]string{out}, logs...) {
			b, _ := os.ReadFile(p)
			text += "\n" + string(b)
		}
		return text
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s:%s", name, shown())
		}
	})
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-done:
			t.Fatalf("%s exited:%s", name, shown())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is not listening on %s", name, addr)
		}
	}
}
