// Package daemontest runs the servers that tests set beside admit, from
// Debian's packages (nginx, Caddy, Apache httpd with mod_auth_openidc):
// in the foreground, in the test's own folder, on a loopback port, until
// the test ends. It leaves each server's configuration to its test.
package daemontest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Run starts cmd, a server the test runs beside admit, with its output in
// the file out: a file, not a pipe, since nginx's worker would hold a pipe
// open after its master exits, and Wait with it. When the test ends it is
// stopped with SIGTERM (the fast shutdown of each, which stops their
// workers too), killed if it has not exited within 10 s; a failed test
// shows out and the files logs. It returns once addr accepts connections,
// and fails the test if the server exits first or 20 s pass.
func Run(t testing.TB, name string, cmd *exec.Cmd, out, addr string, logs ...string) {
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

// Debian's Apache httpd and mod_auth_openidc (.ci/run installs them).
const (
	apacheBinary  = "/usr/sbin/apache2"
	apacheModules = "/usr/lib/apache2/modules"
)

// FindApache returns Debian's apache2 when it is there with
// mod_auth_openidc. Without them the test skips and says so loudly; with
// ADMIT_TEST_REQUIRE_APACHE=1 (as .ci/run sets) it fails.
func FindApache(t testing.TB) string {
	t.Helper()
	_, errBin := os.Stat(apacheBinary)
	_, errMod := os.Stat(filepath.Join(apacheModules, "mod_auth_openidc.so"))
	if errBin == nil && errMod == nil {
		return apacheBinary
	}
	if os.Getenv("ADMIT_TEST_REQUIRE_APACHE") == "1" {
		t.Fatal("Apache with mod_auth_openidc is required (ADMIT_TEST_REQUIRE_APACHE=1) but not installed: apt-get install apache2-bin libapache2-mod-auth-openidc")
	}
	fmt.Fprintln(os.Stderr, "\n!!! SKIPPING a mod_auth_openidc test: apache2-bin or libapache2-mod-auth-openidc is not installed (apt-get install apache2-bin libapache2-mod-auth-openidc; .ci/run installs them)")
	t.Skip("apache2 with mod_auth_openidc not installed")
	return ""
}

// apacheServer is what a test's own Apache is started with: its own
// folder and loopback port, and the modules it loads from Debian's paths.
const apacheServer = `ServerRoot {{dir}}
ServerName localhost
Listen 127.0.0.1:{{port}}
PidFile {{dir}}/apache2.pid
DefaultRuntimeDir {{dir}}
ErrorLog {{dir}}/error.log
LogLevel warn
{{user}}
LoadModule mpm_event_module {{modules}}/mod_mpm_event.so
LoadModule authz_core_module {{modules}}/mod_authz_core.so
LoadModule authn_core_module {{modules}}/mod_authn_core.so
LoadModule authz_user_module {{modules}}/mod_authz_user.so
LoadModule auth_openidc_module {{modules}}/mod_auth_openidc.so
LoadModule proxy_module {{modules}}/mod_proxy.so
LoadModule proxy_http_module {{modules}}/mod_proxy_http.so
`

// StartApache runs Debian's apache2 with mod_auth_openidc in the
// foreground in dir, listening on 127.0.0.1:port, configured with site
// (mod_auth_openidc's directives, locations, proxying) after the server's
// own lines, until the test ends.
func StartApache(t testing.TB, dir, port, site string) {
	t.Helper()
	bin := FindApache(t)
	user := ""
	if os.Geteuid() == 0 {
		// Run by root, Apache's process gives up root for the User
		// (without one it cannot tell whose rights to take).
		user = "User #65534\nGroup #65534"
	}
	conf := strings.NewReplacer("{{dir}}", dir, "{{port}}", port, "{{modules}}", apacheModules, "{{user}}", user).Replace(apacheServer) + site
	confPath := filepath.Join(dir, "apache2.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	// -X: one process, in the foreground; its own ServerRoot and
	// configuration, none of the machine's, and none of the test's
	// environment.
	cmd := exec.Command(bin, "-X", "-d", dir, "-f", confPath)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	Run(t, "apache2", cmd, filepath.Join(dir, "output.log"), "127.0.0.1:"+port, filepath.Join(dir, "error.log"))
}
