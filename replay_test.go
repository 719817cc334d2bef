package penelopa

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/easyproto"
	"github.com/klauspost/compress/s2"

	"xk6-output-penelopa/encoder"
)

// rwSample is one sample as a test receiver decoded it: the series' labels as "name=value,...",
// its __name__ separately, and the sample.
type rwSample struct {
	name, labels string
	value        float64
	ts           int64
}

// rwReceiver is a remote-write 1.0 endpoint on 127.0.0.1 that decodes every request with
// easyproto (independently of our encoder) and keeps the samples.
type rwReceiver struct {
	t        *testing.T
	url      string
	status   int           // answer; 204 when 0
	delay    time.Duration // before answering
	mu       sync.Mutex
	samples  []rwSample
	requests int
	families map[string]uint64 // 1.0 MetricMetadata: family name -> type
}

func newReceiver(t *testing.T, status int, delay time.Duration) *rwReceiver {
	rr := &rwReceiver{t: t, status: status, delay: delay}
	srv := httptest.NewServer(http.HandlerFunc(rr.serve))
	t.Cleanup(srv.Close)
	rr.url = srv.URL + "/api/v1/write"
	return rr
}

func (rr *rwReceiver) serve(w http.ResponseWriter, req *http.Request) {
	time.Sleep(rr.delay)
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if rr.status != 0 {
		http.Error(w, "out of bounds", rr.status) // what Prometheus answers for a sample too old
		return
	}
	raw, err := s2.Decode(nil, body) // s2 reads the snappy block format
	if err != nil {
		rr.t.Errorf("request is not snappy: %v", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	got, err := decodeWriteRequest(raw)
	if err != nil {
		rr.t.Errorf("request does not decode: %v", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rr.mu.Lock()
	rr.samples = append(rr.samples, got...)
	rr.requests++
	if rr.families == nil {
		rr.families = map[string]uint64{}
	}
	if err := decodeMetadata(raw, rr.families); err != nil {
		rr.t.Errorf("metadata does not decode: %v", err)
	}
	rr.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (rr *rwReceiver) received() []rwSample {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	return append([]rwSample(nil), rr.samples...)
}

// decodeWriteRequest reads WriteRequest{timeseries=1{labels=1{name=1,value=2}, samples=2{value=1,
// timestamp=2}}}, skipping metadata (3) and histograms.
func decodeWriteRequest(src []byte) ([]rwSample, error) {
	var out []rwSample
	var fc easyproto.FieldContext
	for len(src) > 0 {
		var err error
		if src, err = fc.NextField(src); err != nil {
			return nil, err
		}
		if fc.FieldNum != 1 {
			continue
		}
		ts, _ := fc.MessageData()
		var labels []string
		var name string
		var samples []rwSample
		var sc easyproto.FieldContext
		for len(ts) > 0 {
			if ts, err = sc.NextField(ts); err != nil {
				return nil, err
			}
			body, ok := sc.MessageData()
			if !ok {
				return nil, fmt.Errorf("timeseries field %d is not a message", sc.FieldNum)
			}
			var f easyproto.FieldContext
			switch sc.FieldNum {
			case 1:
				var n, v string
				for len(body) > 0 {
					if body, err = f.NextField(body); err != nil {
						return nil, err
					}
					s, _ := f.String()
					if f.FieldNum == 1 {
						n = s
					} else {
						v = s
					}
				}
				if n == "__name__" {
					name = v
				} else {
					labels = append(labels, n+"="+v)
				}
			case 2:
				var s rwSample
				for len(body) > 0 {
					if body, err = f.NextField(body); err != nil {
						return nil, err
					}
					if f.FieldNum == 1 {
						s.value, _ = f.Double()
					} else {
						s.ts, _ = f.Int64()
					}
				}
				samples = append(samples, s)
			}
		}
		for _, s := range samples {
			s.name, s.labels = name, strings.Join(labels, ",")
			out = append(out, s)
		}
	}
	return out, nil
}

// decodeMetadata adds the family name and type of every WriteRequest.metadata (field 3:
// MetricMetadata, type 1, metric_family_name 2) of a 1.0 request to families.
func decodeMetadata(src []byte, families map[string]uint64) error {
	var fc easyproto.FieldContext
	for len(src) > 0 {
		var err error
		if src, err = fc.NextField(src); err != nil {
			return err
		}
		if fc.FieldNum != 3 {
			continue
		}
		md, _ := fc.MessageData()
		var name string
		var typ uint64
		var f easyproto.FieldContext
		for len(md) > 0 {
			if md, err = f.NextField(md); err != nil {
				return err
			}
			switch f.FieldNum {
			case 1:
				typ, _ = f.Uint64()
			case 2:
				name, _ = f.String()
			}
		}
		families[name] = typ
	}
	return nil
}

// The synthetic stream: 60 s of a k6 run starting at streamStart, with a counter point every
// 250 ms on series a="x", one every second on a="y" from 20 s on, a gauge and a time trend,
// and one point written late (out of order), as k6 does.
var streamStart = time.Date(2026, 11, 25, 12, 0, 0, 123_456_789, time.UTC)

type streamPoint struct {
	metric, tags string
	value        float64
	at           time.Duration // after streamStart
}

func syntheticStream() (string, []streamPoint) {
	var pts []streamPoint
	for at := time.Duration(0); at < 60*time.Second; at += 250 * time.Millisecond {
		pts = append(pts, streamPoint{"reqs", `{"a":"x","group":""}`, 1, at})
		if at >= 20*time.Second && at%time.Second == 0 {
			pts = append(pts, streamPoint{"reqs", `{"a":"y"}`, 2, at})
		}
		if at%(5*time.Second) == 0 {
			pts = append(pts, streamPoint{"vus", `{}`, float64(at / time.Second), at})
			pts = append(pts, streamPoint{"dur", `{"a":"x"}`, 100, at})
		}
	}
	// Late: stamped before the 10 s boundary, written after the first point past it.
	late := streamPoint{"reqs", `{"a":"x","group":""}`, 1, 9990 * time.Millisecond}
	for i, p := range pts {
		if p.at > 10100*time.Millisecond {
			pts = append(pts[:i+1], append([]streamPoint{late}, pts[i+1:]...)...)
			break
		}
	}
	var b strings.Builder
	b.WriteString(`{"type":"Metric","data":{"name":"reqs","type":"counter","contains":"default","thresholds":[],"submetrics":null},"metric":"reqs"}` + "\n")
	b.WriteString(`{"type":"Metric","data":{"name":"vus","type":"gauge","contains":"default","thresholds":[],"submetrics":null},"metric":"vus"}` + "\n")
	b.WriteString(`{"type":"Metric","data":{"name":"dur","type":"trend","contains":"time","thresholds":[],"submetrics":null},"metric":"dur"}` + "\n")
	for _, p := range pts {
		ts := streamStart.Add(p.at).Format(time.RFC3339Nano)
		fmt.Fprintf(&b, `{"metric":%q,"type":"Point","data":{"time":%q,"value":%v,"tags":%s,"metadata":{"vu":"1"}}}`+"\n", p.metric, ts, p.value, p.tags)
	}
	return b.String(), pts
}

// ceilMs is a time in unix milliseconds rounded up, as the stream clock keeps it.
func ceilMs(t time.Time) int64 { return (t.UnixNano() + 999_999) / 1_000_000 }

func gz(t *testing.T, s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := io.WriteString(w, s); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// replayed is what one whole replay gave.
type replayed struct {
	res  Result
	logs string
	err  error // from Run
}

// replay runs a whole replay of input into rr with the given --out argument (after the URL).
func replay(t *testing.T, rr *rwReceiver, arg string, input io.Reader) replayed {
	t.Helper()
	var stderr syncBuffer
	rp, err := NewReplay(Params{
		Argument: "url=" + rr.url + "," + arg,
		Env:      func(string) (string, bool) { return "", false },
		Hostname: "test-host",
		Stderr:   &stderr,
		Version:  "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	runErr := rp.Run(ctx, input)
	res := rp.Stop(ctx)
	return replayed{res: res, logs: stderr.String(), err: runErr}
}

// syncBuffer is a bytes.Buffer safe for the sender's and the test's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestReplayStreamClock(t *testing.T) {
	input, pts := syntheticStream()
	start := ceilMs(streamStart)
	end := int64(0)
	var sumX, sumY float64
	for _, p := range pts {
		end = max(end, ceilMs(streamStart.Add(p.at)))
		if p.metric == "reqs" && strings.Contains(p.tags, `"x"`) {
			sumX += p.value
		} else if p.metric == "reqs" {
			sumY += p.value
		}
	}
	// want is the flush rule, stated directly: the flush stamped b holds every point written
	// before the first point later than b.
	want := func(b int64, metric, tag string) (v float64, seen bool) {
		for _, p := range pts {
			if ceilMs(streamStart.Add(p.at)) > b {
				break
			}
			if p.metric == metric && strings.Contains(p.tags, tag) {
				v += p.value
				seen = true
			}
		}
		return v, seen
	}
	var boundaries []int64
	for b := start + 5000; b < end; b += 5000 {
		boundaries = append(boundaries, b)
	}
	if len(boundaries) != 11 {
		t.Fatalf("fixture: %d boundaries", len(boundaries))
	}

	for _, tc := range []struct {
		name  string
		input func() io.Reader
	}{
		{"plain", func() io.Reader { return strings.NewReader(input) }},
		{"gzip", func() io.Reader { return bytes.NewReader(gz(t, input)) }},
		{"gzip in two members", func() io.Reader {
			return io.MultiReader(bytes.NewReader(gz(t, input[:1000])), bytes.NewReader(gz(t, input[1000:])))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rr := newReceiver(t, 0, 0)
			out := replay(t, rr, "push_interval=5s,trend_stats=count,testid=t1,dashboard_url=https://grafana.example/d/penelopa", tc.input())
			if out.err != nil {
				t.Fatal(out.err)
			}
			if out.res.Dropped != 0 || out.res.Malformed != 0 {
				t.Errorf("result %+v\n%s", out.res, out.logs)
			}
			got := map[string]map[int64]float64{} // series -> ts -> value
			for _, s := range rr.received() {
				if strings.HasPrefix(s.name, "penelopa_") {
					t.Errorf("a replay sent self-metric %s", s.name)
				}
				key := s.name + "{" + s.labels + "}"
				if got[key] == nil {
					got[key] = map[int64]float64{}
				}
				if _, dup := got[key][s.ts]; dup {
					t.Errorf("%s: two samples at %d", key, s.ts)
				}
				got[key][s.ts] = s.value
			}
			for _, sr := range []struct {
				key, metric, tag string
			}{
				{"k6_reqs_total{a=x,pod=test-host,testid=t1}", "reqs", `"x"`},
				{"k6_reqs_total{a=y,pod=test-host,testid=t1}", "reqs", `"y"`},
				{"k6_vus{pod=test-host,testid=t1}", "vus", `{}`},
				{"k6_dur_count{a=x,pod=test-host,testid=t1}", "dur", `"x"`},
			} {
				series := got[sr.key]
				if series == nil {
					t.Errorf("%s missing; got %v", sr.key, keys(got))
					continue
				}
				var stamps []int64
				for ts := range series {
					stamps = append(stamps, ts)
				}
				sort.Slice(stamps, func(i, j int) bool { return stamps[i] < stamps[j] })
				var wantStamps []int64
				for _, b := range boundaries {
					if _, seen := want(b, sr.metric, sr.tag); seen {
						wantStamps = append(wantStamps, b)
					}
				}
				if sr.metric == "reqs" && len(wantStamps) > 0 {
					// A counter's first flush is preceded by its 0, a millisecond before.
					wantStamps = append([]int64{wantStamps[0] - 1}, wantStamps...)
				}
				wantStamps = append(wantStamps, end, end+1)
				if fmt.Sprint(stamps) != fmt.Sprint(wantStamps) {
					t.Errorf("%s stamped\n %v\nwant\n %v", sr.key, stamps, wantStamps)
				}
				for _, b := range boundaries {
					v, seen := want(b, sr.metric, sr.tag)
					if sr.metric == "vus" {
						v = float64((b - start) / 5000 * 5) // the gauge's last value
					} else if sr.metric == "dur" {
						v /= 100 // count of points of value 100
					}
					if g, ok := series[b]; seen && (!ok || g != v) {
						t.Errorf("%s at +%dms = %v (present %v), want %v", sr.key, b-start, g, ok, v)
					}
				}
				if last := series[end+1]; math.Float64bits(last) != encoder.StaleNaN {
					t.Errorf("%s: no staleness marker at the last stream time + 1 ms: %v", sr.key, last)
				}
			}
			// The late point (9.99 s) is read after the point at 10.25 s closed the 10 s flush:
			// it is counted from the 15 s flush on.
			if g := got["k6_reqs_total{a=x,pod=test-host,testid=t1}"][start+10000]; g != 41 {
				t.Errorf("a=x at +10 s = %v, want the 41 points up to 10 s, without the late one", g)
			}
			if g := got["k6_reqs_total{a=x,pod=test-host,testid=t1}"][start+15000]; g != 62 {
				t.Errorf("a=x at +15 s = %v, want 61 points up to 15 s and the late one", g)
			}
			if g := got["k6_reqs_total{a=x,pod=test-host,testid=t1}"][end]; g != sumX {
				t.Errorf("final a=x total %v, want the file's sum %v", g, sumX)
			}
			if g := got["k6_reqs_total{a=y,pod=test-host,testid=t1}"][end]; g != sumY {
				t.Errorf("final a=y total %v, want the file's sum %v", g, sumY)
			}
			if !strings.Contains(out.res.Summary, "; 0 dropped") || !strings.Contains(out.res.Summary, fmt.Sprintf("%d points", len(pts))) {
				t.Errorf("summary: %s", out.res.Summary)
			}
			// The dashboard link spans the stream's own time, a push interval either side.
			wantLink := fmt.Sprintf("https://grafana.example/d/penelopa?from=%d&to=%d&var-testid=t1", start-5000, end+5000)
			if out.res.Link != wantLink {
				t.Errorf("link %s, want %s", out.res.Link, wantLink)
			}
		})
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestReplayGap: a stretch without points is flushed boundary by boundary until series_ttl
// evicts every series, and the rest of the stretch is skipped.
func TestReplayGap(t *testing.T) {
	decl := `{"type":"Metric","data":{"name":"reqs","type":"counter","contains":"default"},"metric":"reqs"}` + "\n"
	line := func(at time.Duration) string {
		return fmt.Sprintf(`{"metric":"reqs","type":"Point","data":{"time":%q,"value":1,"tags":{"a":"x"}}}`+"\n", streamStart.Add(at).Format(time.RFC3339Nano))
	}
	input := decl + line(0) + line(time.Second) + line(time.Hour) // an hour of silence
	rr := newReceiver(t, 0, 0)
	out := replay(t, rr, "push_interval=1s,series_ttl=3s", strings.NewReader(input))
	if out.err != nil {
		t.Fatal(out.err)
	}
	start := ceilMs(streamStart)
	var stamps []string
	for _, s := range rr.received() {
		v := fmt.Sprint(s.value)
		if math.Float64bits(s.value) == encoder.StaleNaN {
			v = "stale"
		}
		stamps = append(stamps, fmt.Sprintf("+%d=%s", s.ts-start, v))
	}
	// Flushes at +1 s .. +3 s hold the series (2 points by +1 s), its 0 a millisecond before
	// the first; the one at +4 s finds it idle for its TTL and marks it stale; the rest of the
	// hour is skipped; the point at +1 h starts the series again from 0 (sent just before, so
	// increase() counts its 1), flushed finally at +1 h and marked stale 1 ms later.
	want := "[+999=0 +1000=2 +2000=2 +3000=2 +4000=stale +3599999=0 +3600000=1 +3600001=stale]"
	if fmt.Sprint(stamps) != want {
		t.Errorf("samples\n %v\nwant\n %s\n%s", stamps, want, out.logs)
	}
	if !strings.Contains(out.res.Summary, "; 0 dropped") {
		t.Errorf("summary: %s", out.res.Summary)
	}
}

// TestReplayBackPressure: a slow receiver and a one-request queue lose nothing, where a live
// run flushing that fast would drop the oldest requests.
func TestReplayBackPressure(t *testing.T) {
	decl := `{"type":"Metric","data":{"name":"reqs","type":"counter","contains":"default"},"metric":"reqs"}` + "\n"
	var b strings.Builder
	b.WriteString(decl)
	const n = 60
	for i := range n { // one point per push interval: one flush per point
		fmt.Fprintf(&b, `{"metric":"reqs","type":"Point","data":{"time":%q,"value":1,"tags":{"i":"%d"}}}`+"\n", streamStart.Add(time.Duration(i)*time.Second).Format(time.RFC3339Nano), i%7)
	}
	rr := newReceiver(t, 0, 5*time.Millisecond)
	out := replay(t, rr, "push_interval=1s,queue_size=2,concurrency=1", strings.NewReader(b.String()))
	if out.err != nil {
		t.Fatal(out.err)
	}
	if out.res.Dropped != 0 {
		t.Fatalf("dropped %d: %s\n%s", out.res.Dropped, out.res.Summary, out.logs)
	}
	totals := map[int64]float64{} // flush stamp -> sum of the counters
	last := int64(0)
	for _, s := range rr.received() {
		if math.Float64bits(s.value) != encoder.StaleNaN && s.value != 0 { // not a counter's starting 0
			totals[s.ts] += s.value
			last = max(last, s.ts)
		}
	}
	if len(totals) != n-1 || totals[last] != n {
		t.Errorf("%d flushes, the last one's counters sum to %v; want %d flushes and %d", len(totals), totals[last], n-1, n)
	}
}

// TestReplayRejected: a receiver refusing old samples (HTTP 400) gets them counted as dropped,
// rejected, with an explanation.
func TestReplayRejected(t *testing.T) {
	input, _ := syntheticStream()
	rr := newReceiver(t, http.StatusBadRequest, 0)
	out := replay(t, rr, "push_interval=5s", strings.NewReader(input))
	if out.err != nil {
		t.Fatal(out.err)
	}
	if out.res.Dropped == 0 || !strings.Contains(out.res.Summary, "rejected by receiver") {
		t.Errorf("summary: %s", out.res.Summary)
	}
	if !strings.Contains(out.logs, "out_of_order_time_window") || !strings.Contains(out.logs, "out of bounds") {
		t.Errorf("no explanation of the refusal in the log:\n%s", out.logs)
	}
}

func TestReplayBadInput(t *testing.T) {
	good, _ := syntheticStream()
	zipped := gz(t, good)
	for _, tc := range []struct {
		name    string
		input   io.Reader
		wantErr string
		sent    bool // what was read before the error is still sent
	}{
		{"empty", strings.NewReader(""), "none of the 0 lines", false},
		{"declarations only", strings.NewReader(`{"type":"Metric","data":{"name":"x","type":"counter","contains":"default"},"metric":"x"}` + "\n"), "none of the 1 lines", false},
		{"not k6 json", strings.NewReader("time,metric,value\n1,2,3\n"), "none of the 2 lines", false},
		{"gzip magic, bad header", bytes.NewReader([]byte{0x1f, 0x8b, 0, 0, 0}), "not readable gzip", false},
		{"truncated gzip", bytes.NewReader(zipped[:len(zipped)/2]), "unexpected EOF", true},
		{"corrupt gzip", bytes.NewReader(append(append([]byte(nil), zipped[:len(zipped)-8]...), 1, 2, 3, 4, 5, 6, 7, 8)), "gzip", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rr := newReceiver(t, 0, 0)
			out := replay(t, rr, "push_interval=5s", tc.input)
			if err := out.err; tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("error %v, want one containing %q", err, tc.wantErr)
			}
			if sent := len(rr.received()) > 0; sent != tc.sent {
				t.Errorf("sent something: %v, want %v\n%s\n%s", sent, tc.sent, out.res.Summary, out.logs)
			}
		})
	}
}

func TestReplayInterrupted(t *testing.T) {
	input, _ := syntheticStream()
	rr := newReceiver(t, 0, 0)
	rp, err := NewReplay(Params{Argument: "url=" + rr.url + ",push_interval=5s", Hostname: "h", Stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	go func() {
		_, _ = io.WriteString(pw, input[:len(input)/2])
		for rp.Progress().Points == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
		_, _ = io.WriteString(pw, "\n") // wakes the blocked read; Run sees ctx done before the next
	}()
	if err := rp.Run(ctx, pr); err != context.Canceled {
		t.Errorf("Run after cancel: %v", err)
	}
	_ = pr.CloseWithError(io.ErrClosedPipe) // unblocks the wake-up write if Run returned before reading it
	res := rp.Stop(context.Background())
	p := rp.Progress()
	if p.Points == 0 || res.Dropped != 0 || p.StreamTime.IsZero() || p.Flushed != p.StreamTime {
		t.Errorf("progress %+v, result %+v", p, res)
	}
	if len(rr.received()) == 0 {
		t.Errorf("what was read before the interruption was not sent")
	}
}

// closedURL returns a remote-write URL on 127.0.0.1 where nothing listens.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return "http://" + ln.Addr().String() + "/api/v1/write"
}

// TestReplayEndpointDown: a replay stops with an error after two flushes lost to exhausted
// retries, rather than spending the retry budget on every flush of the file.
func TestReplayEndpointDown(t *testing.T) {
	closed := closedURL(t)
	input, _ := syntheticStream()
	rp, err := NewReplay(Params{Argument: "url=" + closed + ",push_interval=5s,max_retries=0,stop_timeout=1s", Hostname: "h", Stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	err = rp.Run(context.Background(), strings.NewReader(input))
	if err == nil || !strings.Contains(err.Error(), "gave up after 2 flushes") {
		t.Errorf("Run: %v, want it to give up", err)
	}
	res := rp.Stop(context.Background())
	// Two flushes lost, then only the final one (the rest of the block already read).
	if !strings.Contains(res.Summary, "; 3 flushes") || !strings.Contains(res.Summary, "retries exhausted") {
		t.Errorf("summary %s", res.Summary)
	}
}

// TestReplayShortEndpointDown: a stream too short for two lost flushes still ends with the
// endpoint reported unreachable, once its final flush could not be delivered.
func TestReplayShortEndpointDown(t *testing.T) {
	closed := closedURL(t)
	input := `{"type":"Metric","data":{"name":"reqs","type":"counter","contains":"default"},"metric":"reqs"}
{"metric":"reqs","type":"Point","data":{"time":"2026-12-02T12:00:00Z","value":1,"tags":{}}}
`
	rp, err := NewReplay(Params{Argument: "url=" + closed + ",push_interval=5s,max_retries=0,stop_timeout=1s", Hostname: "h", Stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if err := rp.Run(context.Background(), strings.NewReader(input)); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res := rp.Stop(context.Background()); !strings.Contains(res.Unreachable, "nothing could be delivered") {
		t.Errorf("Unreachable %q, want it reported; summary %s", res.Unreachable, res.Summary)
	}
}

// TestSelfMetricsAtTheEnd: penelopa's own series are sent once more after the final flush was
// delivered, so their last penelopa_samples_sent_total counts every k6 sample (the final
// flush and its staleness markers included), and they carry their metadata.
func TestSelfMetricsAtTheEnd(t *testing.T) {
	rr := newReceiver(t, 0, 0)
	input, _ := syntheticStream()
	o, err := New(Params{Argument: "url=" + rr.url + ",push_interval=1h", Hostname: "h", Stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Run(context.Background(), strings.NewReader(input)); err != nil {
		t.Fatal(err)
	}
	o.Stop(context.Background())
	var k6Samples int
	var lastSent float64
	var lastTS int64
	for _, s := range rr.received() {
		switch {
		case strings.HasPrefix(s.name, "k6_"):
			k6Samples++
		case s.name == "penelopa_samples_sent_total" && math.Float64bits(s.value) != encoder.StaleNaN && s.ts > lastTS:
			lastSent, lastTS = s.value, s.ts
		}
	}
	// A self counter never goes down (its starting 0 comes once, first).
	var sent []rwSample
	for _, s := range rr.received() {
		if s.name == "penelopa_samples_sent_total" && math.Float64bits(s.value) != encoder.StaleNaN {
			sent = append(sent, s)
		}
	}
	slices.SortFunc(sent, func(a, b rwSample) int { return cmp.Compare(a.ts, b.ts) })
	for i := 1; i < len(sent); i++ {
		if sent[i].value < sent[i-1].value || sent[i].ts == sent[i-1].ts {
			t.Errorf("penelopa_samples_sent_total goes %v at %d, then %v at %d", sent[i-1].value, sent[i-1].ts, sent[i].value, sent[i].ts)
		}
	}
	if k6Samples == 0 || lastSent < float64(k6Samples) {
		t.Errorf("the last penelopa_samples_sent_total is %v, below the %d k6 samples delivered", lastSent, k6Samples)
	}
	rr.mu.Lock()
	defer rr.mu.Unlock()
	for name, want := range map[string]uint64{"penelopa_samples_sent_total": 1, "penelopa_queue_bytes": 2} { // 1.0's COUNTER, GAUGE
		if typ, ok := rr.families[name]; !ok || typ != want {
			t.Errorf("%s metadata: type %d (present %v), want %d", name, typ, ok, want)
		}
	}
}
