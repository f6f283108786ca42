package server_test

import (
	"encoding/json"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	dto "github.com/prometheus/client_model/go"

	"github.com/openkms/kms/internal/server"
)

// dashboardFile is the Grafana dashboard shipped for the admin
// listener's metrics.
const dashboardFile = "../../deploy/grafana/openkms-dashboard.json"

type dashboard struct {
	Inputs []struct {
		Name, Type, PluginID string
	} `json:"__inputs"`
	Title      string
	UID        string
	Panels     []dashboardPanel
	Templating struct {
		List []struct {
			Name, Type string
			Query      json.RawMessage // a string, or an object for the query editor
			Definition string
		}
	}
}

type dashboardPanel struct {
	ID         int
	Type       string
	Title      string
	Datasource *struct{ Type, UID string }
	Targets    []struct {
		Expr         string
		LegendFormat string
		RefID        string
		Datasource   *struct{ Type, UID string }
	}
	Panels []dashboardPanel // a collapsed row's
}

// dsInput is the data source the dashboard asks for when imported, and
// its variable when provisioned from a file.
const dsInput = "DS_PROMETHEUS"

// TestDashboard: the Grafana dashboard parses, every panel has a title
// and a query on the Prometheus input, and every metric, label and label
// value its queries name is one a real server exports. A metric renamed
// or a label dropped fails here rather than leaving a blank panel.
func TestDashboard(t *testing.T) {
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.Title == "" || d.UID == "" {
		t.Errorf("dashboard title %q, uid %q: want both", d.Title, d.UID)
	}
	if len(d.Inputs) != 1 || d.Inputs[0].Name != dsInput || d.Inputs[0].Type != "datasource" || d.Inputs[0].PluginID != "prometheus" {
		t.Errorf("__inputs = %+v, want one Prometheus data source %s", d.Inputs, dsInput)
	}
	dsVar := false
	for _, v := range d.Templating.List {
		dsVar = dsVar || v.Name == dsInput && v.Type == "datasource"
	}
	if !dsVar {
		t.Errorf("no data source variable %s: a dashboard provisioned from a file (not imported) would find no data source", dsInput)
	}

	// Every query, by where it is, and what the queries use.
	exprs := map[string]string{}
	var panels []dashboardPanel
	var walk func([]dashboardPanel)
	walk = func(ps []dashboardPanel) {
		for _, p := range ps {
			panels = append(panels, p)
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	ids, titles := map[int]bool{}, map[string]bool{}
	for _, p := range panels {
		if ids[p.ID] {
			t.Errorf("panel id %d twice", p.ID)
		}
		ids[p.ID] = true
		if p.Title == "" {
			t.Errorf("panel %d (%s) has no title", p.ID, p.Type)
		}
		if p.Type == "row" {
			continue
		}
		if titles[p.Title] {
			t.Errorf("two panels titled %q", p.Title)
		}
		titles[p.Title] = true
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no target", p.Title)
		}
		if p.Datasource == nil || p.Datasource.UID != "${"+dsInput+"}" {
			t.Errorf("panel %q data source %+v, want ${%s}", p.Title, p.Datasource, dsInput)
		}
		for _, tg := range p.Targets {
			where := p.Title + " " + tg.RefID
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("%s: no expr", where)
				continue
			}
			if tg.Datasource != nil && tg.Datasource.UID != "${"+dsInput+"}" {
				t.Errorf("%s: data source %+v, want ${%s}", where, tg.Datasource, dsInput)
			}
			exprs[where] = tg.Expr
			q := parsePromQL(tg.Expr)
			for _, l := range legendLabels.FindAllStringSubmatch(tg.LegendFormat, -1) {
				if !q.mayHaveLabel(l[1]) {
					t.Errorf("%s: legend {{%s}}, a label its query does not keep", where, l[1])
				}
			}
		}
	}
	// A variable's label_values(metric, label) names a metric and a label.
	varQueries := map[string][2]string{}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		m := labelValues.FindStringSubmatch(v.Definition)
		if m == nil {
			t.Errorf("variable %s: query %q is not label_values(metric, label)", v.Name, v.Definition)
			continue
		}
		varQueries[v.Name] = [2]string{m[1], m[2]}
	}
	if len(exprs) < 20 {
		t.Fatalf("%d queries in the dashboard, want at least 20: were panels lost?", len(exprs))
	}

	// The metrics of a server that has served a few requests, one of
	// them throttled, and those of a cluster node, which has the change
	// feed's too.
	embedded := dashboardScrape(t)
	onPostgres = true
	defer func() { onPostgres = false }()
	cluster := dashboardScrape(t)

	isCluster := func(name string) bool { return strings.HasPrefix(name, "kms_cluster_") }
	for _, where := range slices.Sorted(maps.Keys(exprs)) {
		expr := exprs[where]
		q := parsePromQL(expr)
		if len(q.metrics) == 0 {
			t.Errorf("%s: no metric in %q", where, expr)
		}
		if err := checkQuery(cluster, q, func(string) bool { return false }); err != "" {
			t.Errorf("%s: %s on a cluster node (query %s)", where, err, expr)
		}
		// The change feed's metrics are a cluster node's only.
		if err := checkQuery(embedded, q, isCluster); err != "" {
			t.Errorf("%s: %s on a server on the embedded store (query %s)", where, err, expr)
		}
	}
	for name, mv := range varQueries {
		if mf := cluster[mv[0]]; mf == nil {
			t.Errorf("variable %s: no metric %s", name, mv[0])
		} else if !promLabels[mv[1]] && !hasLabel(mf, mv[1]) {
			t.Errorf("variable %s: %s has no label %s", name, mv[0], mv[1])
		}
	}
}

// dashboardScrape starts a server with quotas on a frozen clock, makes
// requests that fill every family the dashboard shows (a key, uses, an
// error, a throttled CreateKey) and returns its /metrics.
func dashboardScrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	quotas, err := server.ParseQuotaConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	clock := newFrozenClock()
	ts, admin := startAdmin(t, server.Config{Quotas: quotas, Now: clock.now})
	c := ts.client(testRegion)
	k := must[*awskms.CreateKeyOutput](t)(c.CreateKey(ctx, &awskms.CreateKeyInput{}))
	must[*awskms.EncryptOutput](t)(c.Encrypt(ctx, &awskms.EncryptInput{KeyId: k.KeyMetadata.KeyId, Plaintext: []byte("x")}))
	_, err = c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: []byte("not a ciphertext blob at all, too short?")})
	wantCode(t, err, "InvalidCiphertextException")
	// AWS's default CreateKey quota is 5 a second; the clock does not move.
	if err := createKeys(c, 4); err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateKey(ctx, &awskms.CreateKeyInput{})
	wantCode(t, err, "ThrottlingException")
	mfs := scrape(t, admin)
	ts.stop()
	return mfs
}

// promLabels are the labels Prometheus adds to every series it scrapes:
// /metrics does not have them.
var promLabels = map[string]bool{"instance": true, "job": true}

var (
	legendLabels = regexp.MustCompile(`\{\{\s*([a-zA-Z_]\w*)\s*\}\}`)
	labelValues  = regexp.MustCompile(`^label_values\(\s*([a-zA-Z_:][\w:]*)\s*,\s*([a-zA-Z_]\w*)\s*\)$`)
)

// family finds the family of a metric name in mfs: a histogram's or a
// summary's for its _bucket, _sum or _count series, else its own (nil if
// there is none); and the suffix.
func family(mfs map[string]*dto.MetricFamily, name string) (*dto.MetricFamily, string) {
	for _, s := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, s)
		if mf := mfs[base]; ok && mf != nil && (mf.GetType() == dto.MetricType_HISTOGRAM || mf.GetType() == dto.MetricType_SUMMARY) {
			return mf, s
		}
	}
	return mfs[name], ""
}

// checkQuery returns what is wrong with a query's use of the metrics in
// mfs, "" if nothing: each metric (a histogram's or summary's family, for
// a _bucket, _sum or _count series) must be there, a _bucket must be a
// histogram's, a matcher must name a label of its metric and, with = or
// !=, a value one of its series has; a grouping must name a label of one
// of the query's metrics. skip says which metrics not to look for.
func checkQuery(mfs map[string]*dto.MetricFamily, q promQuery, skip func(name string) bool) string {
	var used []*dto.MetricFamily
	for _, name := range q.metrics {
		if skip(name) {
			continue
		}
		mf, suffix := family(mfs, name)
		switch {
		case mf == nil:
			return "no metric " + name
		case suffix == "_bucket" && mf.GetType() != dto.MetricType_HISTOGRAM:
			return name + " is not a histogram's bucket (" + mf.GetType().String() + ")"
		case suffix == "" && (mf.GetType() == dto.MetricType_HISTOGRAM || mf.GetType() == dto.MetricType_SUMMARY):
			return name + " is a " + mf.GetType().String() + ": query its _bucket, _sum or _count"
		}
		used = append(used, mf)
		for _, m := range q.matchers[name] {
			if promLabels[m.label] || m.label == "__name__" {
				continue
			}
			if !hasLabel(mf, m.label) {
				return name + " has no label " + m.label
			}
			if (m.op == "=" || m.op == "!=") && !strings.Contains(m.value, "$") && !hasLabelValue(mf, m.label, m.value) {
				return name + " has no series with " + m.label + "=" + m.value
			}
		}
	}
	if len(used) == 0 {
		return ""
	}
	for _, l := range q.grouping {
		ok := promLabels[l] || l == "le" && q.hasBuckets()
		for _, mf := range used {
			ok = ok || hasLabel(mf, l)
		}
		if !ok {
			return "grouping by " + l + ", a label of none of its metrics"
		}
	}
	return ""
}

func hasLabel(mf *dto.MetricFamily, label string) bool {
	for _, m := range mf.Metric {
		for _, l := range m.Label {
			if l.GetName() == label {
				return true
			}
		}
	}
	return false
}

func hasLabelValue(mf *dto.MetricFamily, label, value string) bool {
	for _, m := range mf.Metric {
		for _, l := range m.Label {
			if l.GetName() == label && l.GetValue() == value {
				return true
			}
		}
	}
	return false
}

// promQuery is what parsePromQL finds in a query.
type promQuery struct {
	metrics  []string                 // metric names, as written (with _bucket etc.)
	matchers map[string][]promMatcher // by metric name ("" for a selector without one)
	grouping []string                 // labels of by, without, on, ignoring, group_left/right
}

type promMatcher struct{ label, op, value string }

func (q promQuery) hasBuckets() bool {
	return slices.ContainsFunc(q.metrics, func(m string) bool { return strings.HasSuffix(m, "_bucket") })
}

// mayHaveLabel says whether a series of the query's result can have the
// label: one it groups by, or any when it does not group.
func (q promQuery) mayHaveLabel(l string) bool {
	return promLabels[l] || len(q.grouping) == 0 || slices.Contains(q.grouping, l)
}

var (
	// A selector's braces, with what they hold; strings may hold braces.
	promSelector = regexp.MustCompile(`([a-zA-Z_:][\w:]*)?\s*\{((?:[^}"']|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')*)\}`)
	promMatch    = regexp.MustCompile(`\s*([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')\s*,?`)
	promRange    = regexp.MustCompile(`\[[^\]]*\]|\boffset\s+-?[\w$]+`)
	promGrouping = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)`)
	// Numbers first, so that the e of 1e3 is not an identifier.
	promToken    = regexp.MustCompile(`(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+)|([a-zA-Z_:][\w:]*)(\s*\()?`)
	promKeywords = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "inf": true, "nan": true,
		"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true, "offset": true}
)

// parsePromQL finds the metric names, matchers and grouping labels of a
// PromQL query: enough for the queries of a dashboard (no strings outside
// selectors, no metric selected by {__name__=...} alone).
func parsePromQL(expr string) promQuery {
	q := promQuery{matchers: map[string][]promMatcher{}}
	expr = promSelector.ReplaceAllStringFunc(expr, func(s string) string {
		m := promSelector.FindStringSubmatch(s)
		for _, mm := range promMatch.FindAllStringSubmatch(m[2], -1) {
			q.matchers[m[1]] = append(q.matchers[m[1]], promMatcher{mm[1], mm[2], unquote(mm[3])})
		}
		return " " + m[1] + " "
	})
	expr = promRange.ReplaceAllString(expr, " ")
	expr = promGrouping.ReplaceAllStringFunc(expr, func(s string) string {
		for _, l := range strings.Split(promGrouping.FindStringSubmatch(s)[1], ",") {
			if l = strings.TrimSpace(l); l != "" && !slices.Contains(q.grouping, l) {
				q.grouping = append(q.grouping, l)
			}
		}
		return " "
	})
	for _, m := range promToken.FindAllStringSubmatch(expr, -1) {
		// A function or an aggregation is followed by its parenthesis.
		if m[1] == "" || m[2] != "" || promKeywords[strings.ToLower(m[1])] {
			continue
		}
		if !slices.Contains(q.metrics, m[1]) {
			q.metrics = append(q.metrics, m[1])
		}
	}
	return q
}

func unquote(s string) string {
	s = s[1 : len(s)-1]
	return strings.NewReplacer(`\"`, `"`, `\'`, `'`, `\\`, `\`).Replace(s)
}

// TestParsePromQL: the little parser TestDashboard relies on.
func TestParsePromQL(t *testing.T) {
	q := parsePromQL(`histogram_quantile(0.99, sum by (le, operation) (rate(kms_request_duration_seconds_bucket{instance=~"$instance", code!="a}b"}[$__rate_interval] offset 5m))) / on() group_left sum(kms_x_total) and 1e3 > bool 2`)
	if want := []string{"kms_request_duration_seconds_bucket", "kms_x_total"}; !slices.Equal(q.metrics, want) {
		t.Errorf("metrics %v, want %v", q.metrics, want)
	}
	if want := []string{"le", "operation"}; !slices.Equal(q.grouping, want) {
		t.Errorf("grouping %v, want %v", q.grouping, want)
	}
	want := []promMatcher{{"instance", "=~", "$instance"}, {"code", "!=", "a}b"}}
	if got := q.matchers["kms_request_duration_seconds_bucket"]; !slices.Equal(got, want) {
		t.Errorf("matchers %v, want %v", got, want)
	}
}
