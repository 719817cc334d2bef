package penelopa

import (
	"strings"
	"testing"

	"xk6-output-penelopa/sender"
	"xk6-output-penelopa/series"
)

// TestSelfMetricsCoverEveryDocumentedName checks that every documented self-metric is sent and
// every sent one documented, with its labels sorted and the const labels attached.
func TestSelfMetricsCoverEveryDocumentedName(t *testing.T) {
	sm := newSelfMetrics([]series.Label{{Name: "pod", Value: "p1"}, {Name: "testid", Value: "t1"}})
	v := statsView{snd: sender.Stats{SamplesSent: 7, Status4xx: 2, QueueBytes: 1234}, flushes: 3, live: 5, queued: 99} // the backlog before the flush, not after
	samples := sm.appendSamples(nil, &v)
	documented := map[string]bool{}
	for _, m := range SelfMetrics() {
		documented[m.Name] = false
	}
	values := map[string]float64{}
	for _, s := range samples {
		labels := decodeLabels(t, s.Labels.AppendTo(nil))
		name := labels["__name__"]
		if _, ok := documented[name]; !ok {
			t.Errorf("%s is sent but not documented in SelfMetrics", name)
		}
		documented[name] = true
		if labels["pod"] != "p1" || labels["testid"] != "t1" {
			t.Errorf("%s lacks the const labels: %v", name, labels)
		}
		key := name
		if c := labels["status_class"]; c != "" {
			key += "/" + c
		}
		values[key] = s.Value
	}
	for name, sent := range documented {
		if !sent {
			t.Errorf("%s is documented but not sent", name)
		}
	}
	for key, want := range map[string]float64{
		"penelopa_samples_sent_total": 7, "penelopa_requests_total/4xx": 2,
		"penelopa_queue_bytes": 99, "penelopa_flushes_total": 3, "penelopa_series_live": 5,
	} {
		if values[key] != want {
			t.Errorf("%s = %v, want %v", key, values[key], want)
		}
	}
}

// decodeLabels reads a label block (TimeSeries.labels fields), checking that names are sorted.
func decodeLabels(t *testing.T, b []byte) map[string]string {
	t.Helper()
	out := map[string]string{}
	prev := ""
	for len(b) > 0 {
		// field 1, wire type 2; the blocks here are short, so lengths fit one byte.
		if b[0] != 0x0a || len(b) < 2 || int(b[1]) > len(b)-2 {
			t.Fatalf("not a label field: % x", b)
		}
		msg := b[2 : 2+int(b[1])]
		b = b[2+int(b[1]):]
		var name, value string
		for len(msg) > 0 {
			tag, n := msg[0], int(msg[1])
			s := string(msg[2 : 2+n])
			msg = msg[2+n:]
			if tag == 0x0a {
				name = s
			} else {
				value = s
			}
		}
		if strings.Compare(prev, name) >= 0 {
			t.Errorf("labels not sorted: %q before %q", prev, name)
		}
		prev = name
		out[name] = value
	}
	return out
}
