package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// The deployment examples in examples/deploy are checked here as far as a
// machine without a container runtime or a cluster can: they parse, they
// name only settings admit has with values admit accepts, and they keep
// the promises the examples make (two replicas, probes, the key from a
// Secret, a sandboxed unit, a shell-less non-root image).

const deployDir = "../../examples/deploy"

// knownSettings are the variables of the settings table.
func knownSettings() map[string]bool {
	known := map[string]bool{}
	for _, s := range settings {
		known[s.env] = true
	}
	return known
}

// checkSettings fails for an ADMIT_ variable admit does not read, and for
// values that admit's own check refuses.
func checkSettings(t *testing.T, where string, env map[string]string) {
	t.Helper()
	known := knownSettings()
	for name := range env {
		if strings.HasPrefix(name, "ADMIT_") && !known[name] {
			t.Errorf("%s sets %s, which admit does not read", where, name)
		}
	}
	cfg := configFromEnv(func(k string) string { return env[k] })
	if err := cfg.Validate(); err != nil {
		t.Errorf("%s: admit refuses these settings: %v", where, err)
	}
}

// composeVar replaces ${VAR}, ${VAR:-default} and ${VAR:?message} as
// compose does, with the test's own values for the ones that must be set.
var composeVar = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?([-?])([^}]*))?\}`)

func interpolate(s string, given map[string]string) string {
	return composeVar.ReplaceAllStringFunc(s, func(m string) string {
		p := composeVar.FindStringSubmatch(m)
		if v, ok := given[p[1]]; ok {
			return v
		}
		if p[2] == "-" {
			return p[3]
		}
		return ""
	})
}

func TestComposeExample(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join(deployDir, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	given := map[string]string{"ADMIT_SECRET_KEY": strings.TrimPrefix(testKey, "ADMIT_SECRET_KEY=")}
	var compose struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Build       any               `yaml:"build"`
			Environment map[string]string `yaml:"environment"`
			Ports       []string          `yaml:"ports"`
			Volumes     []string          `yaml:"volumes"`
			ReadOnly    bool              `yaml:"read_only"`
		} `yaml:"services"`
	}
	// The anchor of the replicas' settings is merged into each replica
	// as compose merges it.
	if err := yaml.Unmarshal([]byte(interpolate(string(raw), given)), &compose); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	var replicas, proxies, databases int
	for name, svc := range compose.Services {
		switch {
		case svc.Environment["ADMIT_DATABASE_URL"] != "":
			replicas++
			checkSettings(t, "compose.yaml service "+name, svc.Environment)
			if !strings.HasPrefix(svc.Environment["ADMIT_DATABASE_URL"], "postgres://") {
				t.Errorf("%s: replicas must share PostgreSQL, not %q", name, svc.Environment["ADMIT_DATABASE_URL"])
			}
			if svc.Environment["ADMIT_SECRET_KEY"] != given["ADMIT_SECRET_KEY"] {
				t.Errorf("%s: every replica needs the one ADMIT_SECRET_KEY from the environment", name)
			}
			if len(svc.Ports) > 0 {
				t.Errorf("%s publishes %v: replicas are reached through the proxy only", name, svc.Ports)
			}
			if !svc.ReadOnly {
				t.Errorf("%s: the replica's filesystem should be read-only", name)
			}
		case strings.HasPrefix(svc.Image, "postgres:"):
			databases++
		case strings.HasPrefix(svc.Image, "nginx:"):
			proxies++
			if len(svc.Ports) != 1 {
				t.Errorf("the proxy publishes %v; want one port", svc.Ports)
			}
		}
	}
	if replicas != 2 || proxies != 1 || databases != 1 {
		t.Errorf("compose.yaml has %d admit replicas, %d proxies, %d databases; want 2, 1, 1", replicas, proxies, databases)
	}
	// nginx's upstream names the replicas.
	conf, err := os.ReadFile(filepath.Join(deployDir, "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, upstream := range []string{"server admit-1:8080", "server admit-2:8080"} {
		if !bytes.Contains(conf, []byte(upstream)) {
			t.Errorf("nginx.conf lacks %q", upstream)
		}
	}
}

// k8sObject is what the test reads of a manifest.
type k8sObject struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		Replicas int `yaml:"replicas"`
		Template struct {
			Spec struct {
				SecurityContext struct {
					RunAsNonRoot bool `yaml:"runAsNonRoot"`
				} `yaml:"securityContext"`
				Containers []k8sContainer `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type k8sProbe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
}

type k8sContainer struct {
	Env []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom struct {
			SecretKeyRef struct {
				Name string `yaml:"name"`
				Key  string `yaml:"key"`
			} `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	ReadinessProbe  k8sProbe `yaml:"readinessProbe"`
	LivenessProbe   k8sProbe `yaml:"livenessProbe"`
	SecurityContext struct {
		ReadOnlyRootFilesystem   bool `yaml:"readOnlyRootFilesystem"`
		AllowPrivilegeEscalation bool `yaml:"allowPrivilegeEscalation"`
	} `yaml:"securityContext"`
}

func TestKubernetesExample(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join(deployDir, "kubernetes", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	var deployments []k8sObject
	kinds := map[string]bool{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		for {
			var node yaml.Node
			err := dec.Decode(&node)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			var obj k8sObject
			if err := node.Decode(&obj); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			var head struct {
				APIVersion string `yaml:"apiVersion"`
			}
			_ = node.Decode(&head)
			if obj.Kind == "" || head.APIVersion == "" || obj.Metadata.Name == "" {
				t.Errorf("%s: a document without kind, apiVersion or name", f)
			}
			kinds[obj.Kind] = true
			if obj.Kind == "Deployment" {
				deployments = append(deployments, obj)
			}
		}
	}
	if len(deployments) != 1 || !kinds["Service"] {
		t.Fatalf("want one Deployment and a Service; have %v", kinds)
	}
	d := deployments[0]
	if d.Spec.Replicas != 2 {
		t.Errorf("replicas: %d, want 2", d.Spec.Replicas)
	}
	if !d.Spec.Template.Spec.SecurityContext.RunAsNonRoot {
		t.Errorf("the pod does not insist on a non-root user")
	}
	if len(d.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("want one container")
	}
	c := d.Spec.Template.Spec.Containers[0]
	if c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("probes: readiness %q, liveness %q; want /readyz and /healthz", c.ReadinessProbe.HTTPGet.Path, c.LivenessProbe.HTTPGet.Path)
	}
	if !c.SecurityContext.ReadOnlyRootFilesystem || c.SecurityContext.AllowPrivilegeEscalation {
		t.Errorf("container security context: %+v", c.SecurityContext)
	}
	env := map[string]string{}
	fromSecret := map[string]bool{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom.SecretKeyRef.Name != "":
			fromSecret[e.Name] = true
			// Stand-ins that admit accepts, for the check below.
			env[e.Name] = map[string]string{
				"ADMIT_SECRET_KEY":   strings.TrimPrefix(testKey, "ADMIT_SECRET_KEY="),
				"ADMIT_DATABASE_URL": "postgres://admit@postgres/admit",
			}[e.Name]
		default:
			env[e.Name] = e.Value
		}
	}
	checkSettings(t, "the Deployment", env)
	if !fromSecret["ADMIT_SECRET_KEY"] {
		t.Errorf("ADMIT_SECRET_KEY must come from a Secret")
	}
	if !strings.HasPrefix(env["ADMIT_BASE_URL"], "https://") {
		t.Errorf("ADMIT_BASE_URL = %q; want the public https address", env["ADMIT_BASE_URL"])
	}
}

// TestSystemdUnitExample: the unit names only admit's settings, keeps its
// sandbox, and passes `systemd-analyze verify` (and a low exposure score
// from `systemd-analyze security`) where systemd is installed.
func TestSystemdUnitExample(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join(deployDir, "admit.service"))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	options := map[string]bool{}
	for _, line := range strings.Split(string(raw), "\n") {
		key, value, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		options[key] = true
		if key == "Environment" {
			name, v, _ := strings.Cut(value, "=")
			env[name] = v
		}
	}
	env["ADMIT_SECRET_KEY"] = strings.TrimPrefix(testKey, "ADMIT_SECRET_KEY=") // from admit.env
	checkSettings(t, "admit.service", env)
	for _, want := range []string{"User", "NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp", "CapabilityBoundingSet", "SystemCallFilter", "RestrictAddressFamilies", "StateDirectory"} {
		if !options[want] {
			t.Errorf("admit.service lacks %s=", want)
		}
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed: the unit was checked by reading only")
	}
	// verify insists that ExecStart's program exists: point it at the
	// binary the tests built.
	dir := t.TempDir()
	unit := filepath.Join(dir, "admit.service")
	if err := os.WriteFile(unit, bytes.ReplaceAll(raw, []byte("/usr/local/bin/admit"), []byte(admitBin)), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) {
		cmd := exec.Command(analyze, args...)
		cmd.Dir = dir
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		done := make(chan error, 1)
		if err := cmd.Start(); err != nil {
			return "", err
		}
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			return out.String(), err
		case <-time.After(time.Minute):
			_ = cmd.Process.Kill()
			return out.String(), errors.New("timed out")
		}
	}
	// An unknown or misspelled key is only a warning to verify: fail on
	// any output.
	if out, err := run("verify", unit); err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err := run("security", "--offline=yes", unit)
	m := regexp.MustCompile(`Overall exposure level for admit.service: ([0-9.]+)`).FindStringSubmatch(out)
	if err != nil || m == nil {
		t.Logf("systemd-analyze security --offline gave no score (%v); skipping the exposure check\n%s", err, out)
		return
	}
	if score, _ := strconv.ParseFloat(m[1], 64); score > 2.0 {
		t.Errorf("exposure level %s; the sandbox should keep it at 2.0 or below\n%s", m[1], out)
	}
}

// TestDockerfileExample reads the Dockerfile for what the image promises,
// and builds it when a Docker daemon answers (required with
// ADMIT_TEST_REQUIRE_DOCKER=1).
func TestDockerfileExample(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join(deployDir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	// The final stage: from the last FROM on, continuation lines joined.
	text := strings.ReplaceAll(string(raw), "\\\n", " ")
	var stages [][]string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "FROM ") {
			stages = append(stages, nil)
		}
		if len(stages) > 0 {
			stages[len(stages)-1] = append(stages[len(stages)-1], line)
		}
	}
	if len(stages) < 2 {
		t.Fatalf("want a build stage and a final stage, have %d", len(stages))
	}
	build, final := strings.Join(stages[len(stages)-2], "\n"), stages[len(stages)-1]
	if !strings.Contains(build, "CGO_ENABLED=0") {
		t.Errorf("the build stage does not turn cgo off")
	}
	if base := final[0]; !strings.Contains(base, "distroless/static") && !strings.Contains(base, "scratch") {
		t.Errorf("final stage %q: want a base with no shell (distroless/static or scratch)", base)
	}
	env := map[string]string{}
	var user string
	for _, line := range final[1:] {
		instr, rest, _ := strings.Cut(line, " ")
		switch instr {
		case "RUN", "SHELL":
			t.Errorf("the final stage runs %q: the image has no shell to run it", line)
		case "USER":
			user = rest
		case "ENV":
			for _, kv := range strings.Fields(rest) {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
		case "ENTRYPOINT", "CMD":
			if !strings.HasPrefix(strings.TrimSpace(rest), "[") {
				t.Errorf("%s in shell form needs a shell: %q", instr, line)
			}
		}
	}
	if uid, _, _ := strings.Cut(user, ":"); uid == "" || uid == "0" || uid == "root" {
		t.Errorf("the image runs as %q; want a non-root user", user)
	}
	checkSettings(t, "the Dockerfile", env)
	// The build context is the repository: a local database and its key
	// must stay out of it (and out of the build cache).
	ignore, err := os.ReadFile(filepath.Join(deployDir, "Dockerfile.dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"admit-data", "secret.key", "*.db"} {
		if !slices.Contains(strings.Fields(string(ignore)), want) {
			t.Errorf("Dockerfile.dockerignore does not keep %s out of the build context", want)
		}
	}

	docker, err := exec.LookPath("docker")
	required := os.Getenv("ADMIT_TEST_REQUIRE_DOCKER") == "1"
	if err == nil {
		err = exec.Command(docker, "info").Run()
	}
	if err != nil {
		if required {
			t.Fatalf("ADMIT_TEST_REQUIRE_DOCKER=1 but no Docker daemon answers: %v", err)
		}
		t.Skip("no Docker daemon answers here: the Dockerfile was checked by reading only")
	}
	out, err := exec.Command(docker, "build", "-f", filepath.Join(deployDir, "Dockerfile"), "-t", "admit-test:deploy", "../..").CombinedOutput()
	if err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command(docker, "rmi", "admit-test:deploy").Run() })
	// No shell in the image: running one fails.
	if out, err := exec.Command(docker, "run", "--rm", "--entrypoint", "/bin/sh", "admit-test:deploy", "-c", "true").CombinedOutput(); err == nil {
		t.Errorf("the image runs /bin/sh:\n%s", out)
	}
	if out, err := exec.Command(docker, "run", "--rm", "admit-test:deploy", "help").CombinedOutput(); err != nil || !strings.Contains(string(out), "usage: admit") {
		t.Errorf("admit help in the image: %v\n%s", err, out)
	}
}

// metricNames are the admit_ metrics the code defines.
func metricNames(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	def := regexp.MustCompile(`(?:Name:\s+|NewDesc\(\s*)"(admit_[a-z_]+)"`)
	err := filepath.WalkDir("../..", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) && path != "../.." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range def.FindAllSubmatch(src, -1) {
			names[string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// TestMetricsInDocsExist: every admit_ metric that docs/operations.md and
// the example alerts name is one the code defines (a histogram's _bucket,
// _sum and _count series included).
func TestMetricsInDocsExist(t *testing.T) {
	t.Parallel()
	defined := metricNames(t)
	for _, want := range []string{"admit_http_requests_total", "admit_certificate_not_after_seconds", "admit_sso_logins_total", "admit_mail_deliveries_total"} {
		if !defined[want] {
			t.Errorf("the code defines no %s; found %v", want, defined)
		}
	}
	used := regexp.MustCompile(`\badmit_[a-z_]+`)
	for _, f := range []string{"../../docs/operations.md", deployDir + "/prometheus/alerts.yaml"} {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range used.FindAllString(string(raw), -1) {
			base := name
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if b, ok := strings.CutSuffix(name, suffix); ok && defined[b] {
					base = b
				}
			}
			if !defined[base] {
				t.Errorf("%s names %s, which admit does not export", f, name)
			}
		}
	}
}

// TestPrometheusAlertsExample: the example alerting rules parse as
// PromQL and fire (and stay quiet) as testdata/alerts_test.yaml expects,
// through promtool where it is installed (Debian's prometheus package).
func TestPrometheusAlertsExample(t *testing.T) {
	t.Parallel()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("ADMIT_TEST_REQUIRE_PROMTOOL") == "1" {
			t.Fatal("ADMIT_TEST_REQUIRE_PROMTOOL=1 but promtool is not installed")
		}
		t.Skip("promtool is not installed (apt-get install prometheus): the alert rules were not checked")
	}
	dir := t.TempDir()
	for src, dst := range map[string]string{deployDir + "/prometheus/alerts.yaml": "alerts.yaml", "testdata/alerts_test.yaml": "alerts_test.yaml"} {
		raw, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"check", "rules", "alerts.yaml"}, {"test", "rules", "alerts_test.yaml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestWorkerMetricsServed: the server exports the mail and webhook
// outcomes that the example alerts watch, each from 0, counts a mail
// delivery, and reports no event left unpublished once its worker ran.
func TestWorkerMetricsServed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	settings := []string{"ADMIT_DATABASE_URL=sqlite:" + filepath.Join(dir, "admit.db"), testKey}
	s := startServer(t, dir, settings...)
	metrics := s.metrics(t)
	// Its own key, which the database records.
	if !strings.Contains(metrics, "\nadmit_secret_key_stale 0\n") {
		t.Errorf("/metrics lacks admit_secret_key_stale 0")
	}
	for _, outcome := range []string{"sent", "kept", "retry", "refused", "dropped"} {
		if want := `admit_mail_deliveries_total{outcome="` + outcome + `"} 0`; !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, by := range []string{"operators", "owners"} {
		for _, outcome := range []string{"delivered", "rejected", "unreachable", "not_sent"} {
			if want := `admit_webhook_attempts_total{added_by="` + by + `",outcome="` + outcome + `"} 0`; !strings.Contains(metrics, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
		for _, want := range []string{
			`admit_webhook_delivery_lag_seconds_count{added_by="` + by + `"} 0`,
			`admit_webhooks{added_by="` + by + `",state="disabled"} 0`,
			`admit_webhook_failing_seconds{added_by="` + by + `"} 0`,
		} {
			if !strings.Contains(metrics, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	}
	for _, args := range [][]string{
		{"account", "create", "--slug", "acme", "--name", "Acme", "--domain", "acme.example"},
		{"invite", "create", "--account", "acme", "--email", "bob@acme.example"},
	} {
		if r := runBinary(t, dir, append(cleanEnv(), settings...), "", args...); r.code != 0 {
			t.Fatalf("admit %v: %s", args, r.stderr)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for m := s.metrics(t); !strings.Contains(m, `admit_mail_deliveries_total{outcome="kept"} 1`) || !strings.Contains(m, "\nadmit_events_unpublished_seconds 0\n"); m = s.metrics(t) {
		if time.Now().After(deadline) {
			t.Fatalf("the invitation kept for the dev mailbox was not counted, or its events were not published:\n%s", m)
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.stop(t)
}
