package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
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

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/testutil"
)

// The monitoring files in deploy/ against a real 3-agent cluster whose
// /metrics asks for a token (issue 16): promtool accepts every node's
// exposition, the scrape config and the rules; the real Prometheus, run with
// deploy/prometheus/prometheus.yml pointed at the cluster, scrapes a VM's
// series with the node names as instances and evaluates every rule without
// error; and every query of the Grafana dashboard names only metrics the
// agents export and returns data.
func TestE2E_PrometheusScrapesTheCluster(t *testing.T) {
	requireBinary(t)
	prometheus, promtool := requirePrometheus(t)
	t.Parallel()
	dir := t.TempDir()
	metricsToken := randomToken(t)
	tokenFile := filepath.Join(dir, "metrics-token")
	if err := os.WriteFile(tokenFile, []byte(metricsToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := startCluster(t, 3, func(_ int, cfg *agentConfig) {
		cfg.extra = append(cfg.extra, "--metrics-interval", "1s", "--metrics-token-file", tokenFile)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	api := c.leader().client(c.token)
	vm, err := api.CreateVM(ctx, client.VMRequest{Name: "scraped", VCPUs: 1, MemoryMiB: 128, DiskGiB: 1})
	if err != nil {
		t.Fatal(err)
	}
	var host string
	testutil.Eventually(t, 30*time.Second, "the VM running", func() error {
		v, err := api.VM(ctx, vm.ID)
		if err != nil {
			return err
		}
		if v.State != "running" {
			return fmt.Errorf("vm is %s", v.State)
		}
		host = v.NodeName
		return nil
	})

	// Every node's exposition passes promtool's lint; the names on them are
	// what the dashboard and the rules may use.
	if code := statusWithoutToken(t, c.agents[0]); code != http.StatusUnauthorized {
		t.Fatalf("GET /metrics without the metrics token: %d, want 401", code)
	}
	exported := map[string]bool{}
	testutil.Eventually(t, 30*time.Second, host+"'s /metrics showing the VM", func() error {
		if body := scrapeWithToken(t, c.byName(host), metricsToken); !strings.Contains(body, `novacron_vm_cpu_seconds_total{vm="scraped"`) {
			return fmt.Errorf("no novacron_vm_cpu_seconds_total of the VM yet")
		}
		return nil
	})
	for _, a := range c.agents {
		body := scrapeWithToken(t, a, metricsToken)
		if res := testutil.RunCLIWithStdin(t, promtool, os.Environ(), body, "check", "metrics"); res.Code != 0 {
			t.Errorf("promtool check metrics on %s's /metrics: %s", a.name, res)
		}
		for name := range seriesNames(body) {
			exported[name] = true
		}
	}

	// promtool accepts the deployed config as it is, its paths pointed at
	// files that exist, and the rules.
	deployConfig := readFile(t, "../deploy/prometheus/prometheus.yml")
	rulesFile, err := filepath.Abs("../deploy/prometheus/novacron-rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	checked := strings.NewReplacer("/etc/prometheus/novacron-rules.yml", rulesFile,
		"/etc/prometheus/novacron-ca.pem", testCAFile(t),
		"/etc/prometheus/novacron-metrics-token", tokenFile).Replace(deployConfig)
	checkedPath := filepath.Join(dir, "deploy-prometheus.yml")
	if err := os.WriteFile(checkedPath, []byte(checked), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"check", "config", checkedPath}, {"check", "rules", rulesFile}} {
		if res := testutil.RunCLI(t, promtool, os.Environ(), args...); res.Code != 0 {
			t.Fatalf("promtool %s", res)
		}
	}
	rules := ruleExprs(t, rulesFile)
	dashboard := dashboardExprs(t, "../deploy/grafana/novacron-dashboard.json")
	for _, expr := range append(slices.Clone(rules), dashboard...) {
		for _, name := range metricName.FindAllString(expr, -1) {
			if !exported[name] {
				t.Errorf("%s is on no node's /metrics; used in %s", name, expr)
			}
		}
	}

	// The real Prometheus, with the deployed config's job scraping the
	// cluster every second.
	prom := startPrometheus(t, prometheus, dir, testScrapeConfig(t, deployConfig, c, rulesFile, tokenFile))
	testutil.Eventually(t, time.Minute, "Prometheus holding the VM's CPU series", func() error {
		res, err := prom.query(`novacron_vm_cpu_seconds_total{vm="scraped"}`)
		if err != nil {
			return err
		}
		if len(res) != 1 {
			return fmt.Errorf("%d series: %v", len(res), res)
		}
		m := res[0].Metric
		if m["vm_id"] != vm.ID || m["node"] != host || m["instance"] != host || m["project"] != "default" || m["job"] != "novacron" {
			return fmt.Errorf("labels %v, want vm_id %s and node and instance %s", m, vm.ID, host)
		}
		return nil
	})
	testutil.Eventually(t, 30*time.Second, "every node scraped, named by instance", func() error {
		res, err := prom.query(`up{job="novacron"} == 1`)
		if err != nil {
			return err
		}
		var names []string
		for _, r := range res {
			names = append(names, r.Metric["instance"])
		}
		slices.Sort(names)
		if !slices.Equal(names, []string{"n1", "n2", "n3"}) {
			return fmt.Errorf("up: %v", names)
		}
		return nil
	})
	testutil.Eventually(t, 30*time.Second, "every rule evaluated without error", prom.rulesHealthy(len(rules)))
	// Every panel has data (a rate needs two scrapes in its window).
	testutil.Eventually(t, 30*time.Second, "every dashboard query answering with data", func() error {
		for _, expr := range dashboard {
			res, err := prom.query(grafanaVars.Replace(expr))
			if err != nil {
				return fmt.Errorf("%s: %w", expr, err)
			}
			if len(res) == 0 {
				return fmt.Errorf("%s: no data", expr)
			}
		}
		return nil
	})
}

// requirePrometheus finds prometheus and promtool (the Debian package
// prometheus, which deploy/test-deps.sh installs). Without them the test is
// skipped, except in CI, where it fails.
func requirePrometheus(t *testing.T) (prometheus, promtool string) {
	t.Helper()
	var missing []string
	paths := map[string]string{}
	for _, name := range []string{"prometheus", "promtool"} {
		p, err := exec.LookPath(name)
		if err != nil {
			missing = append(missing, name)
		}
		paths[name] = p
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("%s not installed: install the Debian package prometheus (deploy/test-deps.sh as root)", strings.Join(missing, " and "))
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return paths["prometheus"], paths["promtool"]
}

// statusWithoutToken is the status of GET /metrics on a without a token.
func statusWithoutToken(t *testing.T, a *agent) int {
	t.Helper()
	resp, err := testHTTPClient(t).Get(a.addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// scrapeWithToken reads a's /metrics with the metrics token.
func scrapeWithToken(t *testing.T, a *agent, token string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, a.addr()+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := testHTTPClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/metrics: %d %v", a.name, resp.StatusCode, err)
	}
	return string(b)
}

// seriesNames are the names of the samples in a text exposition.
func seriesNames(body string) map[string]bool {
	names := map[string]bool{}
	for _, line := range strings.Split(body, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	return names
}

// metricName finds the NovaCron metric names in a query.
var metricName = regexp.MustCompile(`novacron_[a-z_]+`)

// grafanaVars gives the dashboard's variables the values of "All" (and a
// rate window a young Prometheus has two scrapes in).
var grafanaVars = strings.NewReplacer("$__rate_interval", "1m", "$job", "novacron",
	"$node", ".*", "$project", ".*", "$vm", ".*")

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// ruleExprs are the expressions of the rules in a rules file.
func ruleExprs(t *testing.T, path string) []string {
	t.Helper()
	var f struct {
		Groups []struct {
			Rules []struct{ Expr string }
		}
	}
	if err := yaml.Unmarshal([]byte(readFile(t, path)), &f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []string
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			out = append(out, r.Expr)
		}
	}
	return out
}

// dashboardExprs are the queries of a Grafana dashboard: its panels'
// targets (rows' too) and its query variables, label_values(q, label) as q.
func dashboardExprs(t *testing.T, path string) []string {
	t.Helper()
	type panel struct {
		Targets []struct{ Expr string }
		Panels  []json.RawMessage
	}
	var d struct {
		SchemaVersion int
		Panels        []json.RawMessage
		Templating    struct {
			List []struct {
				Name, Type, Definition string
				Query                  json.RawMessage
			}
		}
	}
	if err := json.Unmarshal([]byte(readFile(t, path)), &d); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if d.SchemaVersion < 36 {
		t.Errorf("%s: schemaVersion %d, want 36 or later", path, d.SchemaVersion)
	}
	var out []string
	var walk func([]json.RawMessage)
	walk = func(raw []json.RawMessage) {
		for _, r := range raw {
			var p panel
			if err := json.Unmarshal(r, &p); err != nil {
				t.Fatalf("%s: a panel: %v", path, err)
			}
			for _, tg := range p.Targets {
				out = append(out, tg.Expr)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	labelValues := regexp.MustCompile(`^label_values\((.+),\s*\w+\)$`)
	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
		if v.Type != "query" {
			continue
		}
		var q struct{ Query string }
		if err := json.Unmarshal(v.Query, &q); err != nil {
			t.Fatalf("%s: variable %s: %v", path, v.Name, err)
		}
		m := labelValues.FindStringSubmatch(q.Query)
		if q.Query != v.Definition {
			t.Errorf("%s: variable %s: query %q, definition (what Grafana shows) %q", path, v.Name, q.Query, v.Definition)
		}
		if m == nil {
			t.Fatalf("%s: variable %s: %q is not label_values(query, label)", path, v.Name, q.Query)
		}
		out = append(out, m[1])
	}
	for _, want := range []string{"DS_PROMETHEUS", "node", "project", "vm"} {
		if !vars[want] {
			t.Errorf("%s: no variable %s", path, want)
		}
	}
	if len(out) < 10 {
		t.Fatalf("%s: %d queries found", path, len(out))
	}
	return out
}

// testScrapeConfig is the deployed prometheus.yml pointed at c: its job
// with c's agents as targets (named as the deployed file names its nodes),
// the e2e CA, the metrics token and the rules, scraping and evaluating
// every second.
func testScrapeConfig(t *testing.T, deployed string, c *testCluster, rulesFile, tokenFile string) []byte {
	t.Helper()
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(deployed), &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["global"] = map[string]any{"scrape_interval": "1s", "evaluation_interval": "1s"}
	cfg["rule_files"] = []string{rulesFile}
	jobs, _ := cfg["scrape_configs"].([]any)
	if len(jobs) != 1 {
		t.Fatalf("deploy/prometheus/prometheus.yml: %d scrape configs, want the one of job novacron", len(jobs))
	}
	job := jobs[0].(map[string]any)
	if job["job_name"] != "novacron" {
		t.Fatalf("deploy/prometheus/prometheus.yml: job %v, want novacron (the rules select it)", job["job_name"])
	}
	job["tls_config"].(map[string]any)["ca_file"] = testCAFile(t)
	job["authorization"].(map[string]any)["credentials_file"] = tokenFile
	var targets []any
	for _, a := range c.agents {
		targets = append(targets, map[string]any{
			"targets": []string{"127.0.0.1:" + strconv.Itoa(a.httpPort)},
			"labels":  map[string]string{"instance": a.name},
		})
	}
	job["static_configs"] = targets
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// promServer is a Prometheus server the test runs.
type promServer struct {
	base string
}

// promClient reaches the test's Prometheus.
var promClient = &http.Client{Timeout: 10 * time.Second}

// startPrometheus runs prometheus with config on a free port, its data in
// dir, and waits until it is ready. It is killed when the test ends.
func startPrometheus(t *testing.T, bin, dir string, config []byte) *promServer {
	t.Helper()
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, config, 0o600); err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(testutil.FreePort(t))
	logPath := filepath.Join(dir, "prometheus.log")
	log, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd := exec.Command(bin, "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("---- tail of prometheus's log ----\n%s", testutil.LogTail(logPath, 30))
		}
	})
	p := &promServer{base: "http://" + addr}
	testutil.Eventually(t, 30*time.Second, "Prometheus ready at "+addr, func() error {
		select {
		case <-done:
			return fmt.Errorf("prometheus exited: %s", testutil.LogTail(logPath, 10))
		default:
		}
		resp, err := promClient.Get(p.base + "/-/ready")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/-/ready: %s", resp.Status)
		}
		return nil
	})
	return p
}

// promSample is one series of an instant query's answer.
type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  []any             `json:"value"`
}

// query runs an instant query; a query Prometheus refuses is an error.
func (p *promServer) query(q string) ([]promSample, error) {
	var data struct {
		ResultType string       `json:"resultType"`
		Result     []promSample `json:"result"`
	}
	if err := p.get("/api/v1/query?query="+url.QueryEscape(q), &data); err != nil {
		return nil, err
	}
	return data.Result, nil
}

// rulesHealthy checks that Prometheus loaded want rules and evaluated each
// of them without an error.
func (p *promServer) rulesHealthy(want int) func() error {
	return func() error {
		var data struct {
			Groups []struct {
				Rules []struct {
					Name, Health, LastError string
				}
			}
		}
		if err := p.get("/api/v1/rules", &data); err != nil {
			return err
		}
		n := 0
		for _, g := range data.Groups {
			for _, r := range g.Rules {
				n++
				if r.Health != "ok" {
					return fmt.Errorf("rule %s: health %q %s", r.Name, r.Health, r.LastError)
				}
			}
		}
		if n != want {
			return fmt.Errorf("%d rules loaded, want %d", n, want)
		}
		return nil
	}
}

// get reads a Prometheus API answer's data into out.
func (p *promServer) get(path string, out any) error {
	resp, err := promClient.Get(p.base + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var env struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		return fmt.Errorf("%s: %s: %w", path, resp.Status, err)
	}
	if env.Status != "success" {
		return fmt.Errorf("%s: %s: %s", path, resp.Status, env.Error)
	}
	return json.Unmarshal(env.Data, out)
}
