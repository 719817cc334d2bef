package penelopa

import (
	"net/url"
	"testing"
	"time"
)

func TestDashboardLink(t *testing.T) {
	start := time.UnixMilli(1_700_000_000_000)
	end := start.Add(time.Minute)
	tests := []struct {
		name, dash, testid string
		want               url.Values
	}{
		{"none configured", "", "run-1", nil},
		{"testid and range", "https://grafana.example/d/penelopa/k6?orgId=1", "run-1",
			url.Values{"orgId": {"1"}, "var-testid": {"run-1"}, "from": {"1699999995000"}, "to": {"1700000065000"}}},
		{"no testid", "http://g/d/x", "",
			url.Values{"from": {"1699999995000"}, "to": {"1700000065000"}}},
	}
	for _, tc := range tests {
		o := &Output{cfg: Config{DashboardURL: tc.dash, TestID: tc.testid, PushInterval: 5 * time.Second}, started: start}
		got := o.dashboardLink(end)
		if tc.want == nil {
			if got != "" {
				t.Errorf("%s: got %q, want none", tc.name, got)
			}
			continue
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if u.Query().Encode() != tc.want.Encode() {
			t.Errorf("%s: query %q, want %q", tc.name, u.Query().Encode(), tc.want.Encode())
		}
	}
}

func TestLooksLikeVictoriaMetrics(t *testing.T) {
	tests := map[string]bool{
		"http://127.0.0.1:8428/api/v1/write":                       true,
		"http://vminsert:8480/insert/0/prometheus/api/v1/write":    true,
		"https://victoria.example/api/v1/write":                    true,
		"http://127.0.0.1:9090/api/v1/write":                       false,
		"http://mimir-distributor.monitoring.svc:8080/api/v1/push": false,
		"https://prometheus-prod.grafana.net/api/prom/push":        false,
	}
	for u, want := range tests {
		if got := looksLikeVictoriaMetrics(u); got != want {
			t.Errorf("%s: got %v, want %v", u, got, want)
		}
	}
}
