package penelopa

import (
	"bytes"
	"math"
	"os"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"

	"xk6-output-penelopa/encoder"
	"xk6-output-penelopa/ingest"
	"xk6-output-penelopa/sender"
	"xk6-output-penelopa/series"
)

// SelfMetric documents one series penelopa sends about itself, so the README and the code agree.
type SelfMetric struct {
	Name string
	Help string
}

// SelfMetrics lists penelopa's own series, sent with every flush (labels: pod, testid and the
// static labels; no k6 tags).
func SelfMetrics() []SelfMetric {
	return []SelfMetric{
		{"penelopa_samples_sent_total", "samples acknowledged by the receiver"},
		{"penelopa_samples_dropped_total", "samples given up, by `reason`: queue_full, rejected, gave_up, shutdown, protocol"},
		{"penelopa_requests_total", "remote-write attempts answered, by `status_class`: 2xx, 4xx, 5xx, other"},
		{"penelopa_network_errors_total", "attempts that got no answer (refused, reset, timed out)"},
		{"penelopa_request_failures_total", "attempts that failed (network error, timeout, non-2xx)"},
		{"penelopa_retries_total", "attempts repeated after a failure"},
		{"penelopa_bytes_sent_total", "compressed request bytes acknowledged"},
		{"penelopa_queue_bytes", "compressed bytes of the requests waiting to be sent"},
		{"penelopa_flushes_total", "flushes made"},
		{"penelopa_flush_duration_seconds", "time the last flush took to snapshot, encode, compress and queue"},
		{"penelopa_stream_lines_total", "lines read from k6's stream"},
		{"penelopa_stream_malformed_total", "lines of k6's stream skipped as malformed"},
		{"penelopa_series_live", "k6 series in the series table"},
		{"penelopa_go_memory_bytes", "memory the penelopa process has mapped from the OS (Go runtime)"},
		{"penelopa_go_heap_bytes", "live heap objects of the penelopa process"},
		{"penelopa_k6_rss_bytes", "resident memory of the k6 process"},
	}
}

// selfSeries is one pre-encoded self-metric series and where its value comes from.
type selfSeries struct {
	labels []byte
	value  func(v *statsView) float64
	meta   *series.Meta // its family's type, help and unit, as k6's series carry theirs
}

// statsView is what the self-metrics read, gathered once per flush.
type statsView struct {
	snd     sender.Stats
	in      ingest.Stats
	flushes uint64
	live    int
	// queued is the sender's QueueBytes before the flush queued its own requests: the backlog
	// from earlier flushes, which is what the gauge is for.
	queued uint64
	// again marks the values sent once more after the final flush (Output.finishSelf): never
	// a start, even when the final flush was the first.
	again bool
}

// selfMetrics produces penelopa's own samples at each flush without allocating.
type selfMetrics struct {
	series   []selfSeries
	metas    []series.Meta // one per family, for 1.0's MetricMetadata
	rt       []metrics.Sample
	k6PID    atomic.Int64
	statBuf  []byte
	lastRSS  float64
	lastTook atomic.Int64 // nanoseconds of the last flush
}

func newSelfMetrics(constLabels []series.Label) *selfMetrics {
	sm := &selfMetrics{
		rt: []metrics.Sample{
			{Name: "/memory/classes/total:bytes"},
			{Name: "/memory/classes/heap/objects:bytes"},
		},
		statBuf: make([]byte, 0, 4096),
	}
	st := func(f func(s *statsView) uint64) func(*statsView) float64 {
		return func(v *statsView) float64 { return float64(f(v)) }
	}
	metas := map[string]*series.Meta{}
	for _, m := range SelfMetrics() {
		metas[m.Name] = selfMeta(m)
		sm.metas = append(sm.metas, *metas[m.Name])
	}
	add := func(name string, extra []series.Label, v func(*statsView) float64) {
		sm.series = append(sm.series, selfSeries{labels: encodeSelfLabels(name, constLabels, extra), value: v, meta: metas[name]})
	}
	add("penelopa_samples_sent_total", nil, st(func(s *statsView) uint64 { return s.snd.SamplesSent }))
	for _, r := range []struct {
		reason string
		f      func(s *statsView) uint64
	}{
		{"queue_full", func(s *statsView) uint64 { return s.snd.DroppedQueueFull }},
		{"rejected", func(s *statsView) uint64 { return s.snd.DroppedRejected }},
		{"gave_up", func(s *statsView) uint64 { return s.snd.DroppedGaveUp }},
		{"shutdown", func(s *statsView) uint64 { return s.snd.DroppedShutdown }},
		{"protocol", func(s *statsView) uint64 { return s.snd.DroppedProtocol }},
	} {
		add("penelopa_samples_dropped_total", []series.Label{{Name: "reason", Value: r.reason}}, st(r.f))
	}
	for _, c := range []struct {
		class string
		f     func(s *statsView) uint64
	}{
		{"2xx", func(s *statsView) uint64 { return s.snd.Status2xx }},
		{"4xx", func(s *statsView) uint64 { return s.snd.Status4xx }},
		{"5xx", func(s *statsView) uint64 { return s.snd.Status5xx }},
		{"other", func(s *statsView) uint64 { return s.snd.StatusOther }},
	} {
		add("penelopa_requests_total", []series.Label{{Name: "status_class", Value: c.class}}, st(c.f))
	}
	add("penelopa_network_errors_total", nil, st(func(s *statsView) uint64 { return s.snd.NetworkErrors }))
	add("penelopa_request_failures_total", nil, st(func(s *statsView) uint64 { return s.snd.Failures }))
	add("penelopa_retries_total", nil, st(func(s *statsView) uint64 { return s.snd.Retries }))
	add("penelopa_bytes_sent_total", nil, st(func(s *statsView) uint64 { return s.snd.BytesSent }))
	add("penelopa_queue_bytes", nil, st(func(s *statsView) uint64 { return s.queued }))
	add("penelopa_flushes_total", nil, st(func(s *statsView) uint64 { return s.flushes }))
	add("penelopa_flush_duration_seconds", nil, func(*statsView) float64 { return float64(sm.lastTook.Load()) / 1e9 })
	add("penelopa_stream_lines_total", nil, st(func(s *statsView) uint64 { return s.in.Lines }))
	add("penelopa_stream_malformed_total", nil, st(func(s *statsView) uint64 { return s.in.Malformed }))
	add("penelopa_series_live", nil, func(v *statsView) float64 { return float64(v.live) })
	add("penelopa_go_memory_bytes", nil, func(*statsView) float64 { return sm.runtimeValue(0) })
	add("penelopa_go_heap_bytes", nil, func(*statsView) float64 { return sm.runtimeValue(1) })
	add("penelopa_k6_rss_bytes", nil, func(*statsView) float64 { return sm.k6RSS() })
	return sm
}

// selfMeta describes a self-metric's family: a counter when its name ends in _total, else a
// gauge; the unit its name ends in; the help of SelfMetrics.
func selfMeta(m SelfMetric) *series.Meta {
	md := &series.Meta{Family: m.Name, Type: encoder.MetricTypeGauge, Help: "penelopa: " + m.Help}
	if strings.HasSuffix(m.Name, "_total") {
		md.Type = encoder.MetricTypeCounter
	}
	switch base := strings.TrimSuffix(m.Name, "_total"); {
	case strings.HasSuffix(base, "_seconds"):
		md.Unit = "seconds"
	case strings.HasSuffix(base, "_bytes"):
		md.Unit = "bytes"
	}
	return md
}

// encodeSelfLabels pre-encodes a self-metric's label block: __name__, the const labels and any
// extra ones, sorted by name as remote write requires.
func encodeSelfLabels(name string, constLabels, extra []series.Label) []byte {
	all := make([]series.Label, 0, len(constLabels)+len(extra)+1)
	all = append(all, series.Label{Name: "__name__", Value: name})
	all = append(all, constLabels...)
	all = append(all, extra...)
	for i := 1; i < len(all); i++ { // insertion sort: a handful of labels
		for j := i; j > 0 && all[j].Name < all[j-1].Name; j-- {
			all[j], all[j-1] = all[j-1], all[j]
		}
	}
	var b []byte
	for _, l := range all {
		if l.Value != "" {
			b = encoder.AppendLabel(b, l.Name, l.Value)
		}
	}
	return b
}

// appendSamples adds one sample per self-metric to dst; the runtime metrics are read once.
func (sm *selfMetrics) appendSamples(dst []series.Sample, v *statsView) []series.Sample {
	metrics.Read(sm.rt)
	for _, s := range sm.series {
		// A counter's first flush starts from 0, as k6's do (series.Sample.Start).
		start := v.flushes == 1 && !v.again && s.meta.Type == encoder.MetricTypeCounter
		dst = append(dst, series.Sample{Labels: encoder.Labels{Head: s.labels}, Value: s.value(v), Meta: s.meta, Start: start})
	}
	return dst
}

// stale appends a staleness marker for every self-metric (end of the run).
func (sm *selfMetrics) stale(dst []series.Sample) []series.Sample {
	nan := math.Float64frombits(encoder.StaleNaN)
	for _, s := range sm.series {
		dst = append(dst, series.Sample{Labels: encoder.Labels{Head: s.labels}, Value: nan, Meta: s.meta})
	}
	return dst
}

func (sm *selfMetrics) runtimeValue(i int) float64 {
	if sm.rt[i].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return float64(sm.rt[i].Value.Uint64())
}

// k6RSS reads VmRSS of the k6 process from /proc; after k6 exits it keeps the last value read.
func (sm *selfMetrics) k6RSS() float64 {
	pid := sm.k6PID.Load()
	if pid <= 0 {
		return 0
	}
	f, err := os.Open("/proc/" + strconv.FormatInt(pid, 10) + "/status")
	if err != nil {
		return sm.lastRSS
	}
	defer f.Close()
	n, _ := f.Read(sm.statBuf[:cap(sm.statBuf)])
	buf := sm.statBuf[:n]
	i := bytes.Index(buf, []byte("VmRSS:"))
	if i < 0 {
		return sm.lastRSS
	}
	line := buf[i+len("VmRSS:"):]
	if j := bytes.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	line = bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(line), []byte("kB")))
	kb, err := strconv.ParseUint(string(line), 10, 64)
	if err != nil {
		return sm.lastRSS
	}
	sm.lastRSS = float64(kb) * 1024
	return sm.lastRSS
}
