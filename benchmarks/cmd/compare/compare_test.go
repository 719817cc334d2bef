package main

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	tail := " S 1 2 3 4 5 6 7 8 9 10 %s 0 0 0 0 %s 0 0"
	tests := []struct {
		name, in  string
		comm      string
		cpu, kids uint64
		start     uint64
		wantErr   bool
	}{
		{name: "plain", in: "42 (k6)" + fmtStat(tail, "150 50 7 3", "9999"), comm: "k6", cpu: 200, kids: 10, start: 9999},
		{name: "spaces and parens in comm", in: "7 (a (b) c)" + fmtStat(tail, "1 2 3 4", "5"), comm: "a (b) c", cpu: 3, kids: 7, start: 5},
		{name: "negative child times clamp to 0", in: "7 (x)" + fmtStat(tail, "1 1 -1 -1", "5"), comm: "x", cpu: 2, kids: 0, start: 5},
		{name: "no comm", in: "7 x S 1", wantErr: true},
		{name: "too few fields", in: "7 (x) S 1 2 3", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := parseStat([]byte(tt.in))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("parseStat(%q) = %+v, want an error", tt.in, p)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseStat(%q): %v", tt.in, err)
			}
			if p.comm != tt.comm || p.cpuTicks != tt.cpu || p.childTicks != tt.kids || p.start != tt.start {
				t.Errorf("parseStat(%q) = %+v, want comm %q cpu %d children %d start %d", tt.in, p, tt.comm, tt.cpu, tt.kids, tt.start)
			}
		})
	}
}

// fmtStat fills the stat tail: fields 14-17 (utime stime cutime cstime) and 22 (starttime).
func fmtStat(tail, times, start string) string {
	return strings.Replace(strings.Replace(tail, "%s", times, 1), "%s", start, 1)
}

func TestParseStatOfThisProcess(t *testing.T) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Skip("no /proc:", err)
	}
	p, err := parseStat(b)
	if err != nil {
		t.Fatal(err)
	}
	if p.comm == "" || p.start == 0 {
		t.Errorf("parseStat(own stat) = %+v, want a name and a start time", p)
	}
}

func TestParseVmHWM(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
	}{
		{"Name:\tk6\nVmPeak:\t 9 kB\nVmHWM:\t   62492 kB\nVmRSS:\t 1 kB\n", 62492},
		{"Name:\tzombie\nState:\tZ (zombie)\n", 0},
		{"VmHWM:\n", 0},
	}
	for _, tt := range tests {
		if got := parseVmHWM([]byte(tt.in)); got != tt.want {
			t.Errorf("parseVmHWM(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestCombine(t *testing.T) {
	rusage := func(cpuSec int64, maxrssKiB int64) *syscall.Rusage {
		return &syscall.Rusage{Utime: syscall.Timeval{Sec: cpuSec}, Maxrss: maxrssKiB}
	}
	tests := []struct {
		name       string
		procs      []procSample
		ru         *syscall.Rusage
		wantRSS    uint64
		wantCPU    []float64 // per process, root first
		wantSingle bool
		wantExact  bool
	}{
		{
			name:       "one process: wait4 is exact",
			procs:      []procSample{{pid: 10, comm: "k6", cpuTicks: 390, hwmKiB: 1000}},
			ru:         rusage(4, 1100),
			wantRSS:    1100,
			wantCPU:    []float64{4},
			wantSingle: true,
			wantExact:  true,
		},
		{
			name: "launcher and k6: reaped child time splits the total, peaks add up",
			procs: []procSample{
				{pid: 10, comm: "k6-penelopa", cpuTicks: 100, childTicks: 500, hwmKiB: 300},
				{pid: 11, parent: 10, comm: "k6", cpuTicks: 480, hwmKiB: 1000},
			},
			ru:        rusage(6, 1200), // k6's exact peak was 1200: it grew after its last poll
			wantRSS:   300 + 1200,
			wantCPU:   []float64{1, 5},
			wantExact: true,
		},
		{
			name: "child not seen reaped: its last poll stands in",
			procs: []procSample{
				{pid: 10, comm: "k6-penelopa", cpuTicks: 100, hwmKiB: 2000},
				{pid: 11, parent: 10, comm: "k6", cpuTicks: 400, hwmKiB: 1000},
			},
			ru:      rusage(6, 1900), // below the polled 2000: polled values stay
			wantRSS: 3000,
			wantCPU: []float64{2, 4},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTreeSampler(tt.procs[0].pid)
			for i := range tt.procs {
				p := tt.procs[i]
				s.procs[p.pid] = &p
				s.order = append(s.order, p.pid)
			}
			u := combine(s, tt.procs[0].pid, tt.ru)
			if u.rssKiB != tt.wantRSS {
				t.Errorf("rss = %d KiB, want %d", u.rssKiB, tt.wantRSS)
			}
			if u.single != tt.wantSingle || (len(tt.procs) > 1 && u.splitExact != tt.wantExact) {
				t.Errorf("single %v splitExact %v, want %v %v", u.single, u.splitExact, tt.wantSingle, tt.wantExact)
			}
			if len(u.procs) != len(tt.wantCPU) {
				t.Fatalf("%d processes, want %d", len(u.procs), len(tt.wantCPU))
			}
			for i, want := range tt.wantCPU {
				if math.Abs(u.procs[i].cpu-want) > 1e-9 {
					t.Errorf("process %d (%s) cpu = %g, want %g", i, u.procs[i].name, u.procs[i].cpu, want)
				}
			}
		})
	}
}

// TestRunMeasuredCountsDescendants checks the premise of the CPU measurement: wait4 on a child
// includes the CPU of the grandchild it waited for, and the zombie's stat splits it exactly.
func TestRunMeasuredCountsDescendants(t *testing.T) {
	sh, err := lookProgram("sh", "sh")
	if err != nil {
		t.Skip(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	out, err := os.Create(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	// The trailing "true" keeps the outer shell from exec'ing the inner one: two processes.
	busy := `sh -c 'i=0; while [ $i -lt 400000 ]; do i=$((i+1)); done'; true`
	u, err := runMeasured(ctx, procSpec{
		path: sh, args: []string{"-c", busy}, stdout: out, stderr: out,
		timeout: 20 * time.Second, poll: 10 * time.Millisecond,
	})
	if err != nil || u.exitErr != nil {
		t.Fatalf("runMeasured: %v %v", err, u.exitErr)
	}
	if len(u.procs) != 2 {
		t.Fatalf("saw %d processes (%+v), want the shell and its child", len(u.procs), u.procs)
	}
	child := u.procs[1].cpu
	if child < 0.05 {
		t.Fatalf("child used %.3f s, want a measurable amount (> 0.05 s)", child)
	}
	if u.cpu < child {
		t.Errorf("wait4 total %.3f s < the child's own %.3f s: descendants not included", u.cpu, child)
	}
	if !u.splitExact {
		t.Errorf("split not exact: the zombie's reaped-children time was not read")
	}
	if u.rssKiB == 0 || u.wall <= 0 {
		t.Errorf("usage %+v: want a peak and a wall time", u)
	}
}

func TestRunMeasuredTimeout(t *testing.T) {
	sleep, err := lookProgram("sleep", "sleep")
	if err != nil {
		t.Skip(err)
	}
	start := time.Now()
	_, err = runMeasured(context.Background(), procSpec{path: sleep, args: []string{"30"}, timeout: 200 * time.Millisecond, poll: 50 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("err = %v, want a timeout", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s to give up", d)
	}
}

func TestParsePenelopaSummary(t *testing.T) {
	tests := []struct {
		name string
		line string
		want penelopaSummary
		ok   bool
	}{
		{
			name: "current wording",
			line: `time="x" level=info msg="penelopa: 1764835 samples delivered in 179 requests (13.1 MiB) to http://127.0.0.1:1/api/v1/write; 0 dropped; 0 retries; stream: 242418 lines, 242408 points, 0 malformed; 0 series at the end; 2 flushes" output=penelopa`,
			want: penelopaSummary{delivered: 1764835, requests: 179, points: 242408, flushes: 2},
			ok:   true,
		},
		{
			name: "drops and slow flushes",
			line: `penelopa: 10 samples delivered in 2 requests (1 KiB) to u; 5 dropped (5 queue full); 3 retries; stream: 9 lines, 8 points, 1 malformed; 4 series live; 7 flushes (2 longer than the push interval)`,
			want: penelopaSummary{delivered: 10, requests: 2, dropped: 5, retries: 3, points: 8, malformed: 1, flushes: 7, overruns: 2},
			ok:   true,
		},
		{name: "another line", line: `level=info msg="penelopa: remote write 1.0 to u every 5s"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parsePenelopaSummary(tt.line)
			if ok != tt.ok || got != tt.want {
				t.Errorf("parsePenelopaSummary = %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestRunLogScan(t *testing.T) {
	lines := []string{
		`time="x" level=warning msg="The flush operation took higher than the expected set push interval. If you see this message multiple times then the setup or configuration need to be adjusted to achieve a sustainable rate." output="Prometheus remote write" t=6s`,
		`time="x" level=warning msg="flush of 900000 samples took 6.1s, longer than the push interval 5s" output=penelopa`,
		`time="x" level=warning msg="The test has generated metrics with 100806 unique time series"`,
		`time="x" level=error msg="Failed to send the time series data to the endpoint"`,
		`time="x" level=info msg="penelopa: 5 samples delivered in 1 requests (1 KiB) to u; 0 dropped; 0 retries; stream: 1 lines, 1 points, 0 malformed; 1 flushes (1 longer than the push interval)"`,
	}
	var l runLog
	for _, line := range lines {
		l.scan(line)
	}
	if l.slowFlushes != 2 {
		t.Errorf("slowFlushes = %d, want 2 (the summary line is not a warning)", l.slowFlushes)
	}
	if l.errorLines != 1 || len(l.errors) != 1 {
		t.Errorf("errors = %d %q, want 1", l.errorLines, l.errors)
	}
	if l.summary == nil || l.summary.delivered != 5 || l.summary.overruns != 1 {
		t.Errorf("summary = %+v, want 5 delivered and 1 overrun", l.summary)
	}
}

func TestParseExposition(t *testing.T) {
	body := []byte(`# HELP x
vm_rows_inserted_total{type="promremotewrite"} 72
vm_rows_inserted_total{type="influx"} 5
vm_http_requests_total{path="/api/v1/write", protocol="promremotewrite"} 8
vm_tcplistener_read_bytes_total{name="http", addr="127.0.0.1:1"} 4402
odd{a="x\"y,z", b="2"} 1.5
process_cpu_seconds_total 0.53
broken{a="x"} notanumber
`)
	m := parseExposition(body)
	tests := []struct {
		name, key, value string
		want             float64
	}{
		{"vm_rows_inserted_total", "type", "promremotewrite", 72},
		{"vm_http_requests_total", "path", "/api/v1/write", 8},
		{"vm_tcplistener_read_bytes_total", "name", "http", 4402},
		{"odd", "a", `x"y,z`, 1.5},
		{"odd", "b", "2", 1.5},
		{"process_cpu_seconds_total", "", "", 0.53},
		{"vm_rows_inserted_total", "", "", 77},
		{"broken", "", "", 0},
	}
	for _, tt := range tests {
		if got := m.sum(tt.name, tt.key, tt.value); got != tt.want {
			t.Errorf("sum(%s, %s=%q) = %g, want %g", tt.name, tt.key, tt.value, got, tt.want)
		}
	}
}

func TestStats(t *testing.T) {
	tests := []struct {
		xs         []float64
		wantMedian float64
		wantSpread string
	}{
		{[]float64{3, 1, 2}, 2, "2.0 (1.0-3.0)"},
		{[]float64{4, 1, 2, 3}, 2.5, "2.5 (1.0-4.0)"},
		{[]float64{7}, 7, "7.0"},
		{[]float64{5, 5}, 5, "5.0"},
	}
	for _, tt := range tests {
		if got := median(tt.xs); got != tt.wantMedian {
			t.Errorf("median(%v) = %g, want %g", tt.xs, got, tt.wantMedian)
		}
		if got := spread(tt.xs, "%.1f"); got != tt.wantSpread {
			t.Errorf("spread(%v) = %q, want %q", tt.xs, got, tt.wantSpread)
		}
	}
	if !math.IsNaN(median(nil)) || spread(nil, "%.1f") != "-" {
		t.Error("empty input: want NaN median and a dash")
	}
}

func TestRatio(t *testing.T) {
	tests := []struct {
		pen, builtin, want float64
		ok                 bool
	}{
		{1, 2, 0.5, true},
		{3, 0, 0, false},
		{1, -1, 0, false},
		{-1, 2, -0.5, true},
	}
	for _, tt := range tests {
		got, ok := ratio(tt.pen, tt.builtin)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ratio(%g, %g) = %g, %v; want %g, %v", tt.pen, tt.builtin, got, ok, tt.want, tt.ok)
		}
	}
}

func TestExact(t *testing.T) {
	good := []totalCheck{{series: "k6_x_total", want: 10, got: 10}}
	bad := []totalCheck{{series: "k6_x_total", want: 10, got: 9}}
	tests := []struct {
		name string
		r    runResult
		want bool
	}{
		{"builtin totals match", runResult{variant: variantBuiltin, recv: &receiverCounters{rows: 5}, checks: good}, true},
		{"builtin total short", runResult{variant: variantBuiltin, recv: &receiverCounters{rows: 5}, checks: bad}, false},
		{"penelopa all stored", runResult{variant: variantPenelopa, recv: &receiverCounters{rows: 5}, checks: good, log: runLog{summary: &penelopaSummary{delivered: 5}}}, true},
		{"penelopa stored fewer than delivered", runResult{variant: variantPenelopa, recv: &receiverCounters{rows: 4}, checks: good, log: runLog{summary: &penelopaSummary{delivered: 5}}}, false},
		{"penelopa dropped", runResult{variant: variantPenelopa, recv: &receiverCounters{rows: 5}, checks: good, log: runLog{summary: &penelopaSummary{delivered: 5, dropped: 1}}}, false},
		{"penelopa without its line", runResult{variant: variantPenelopa, recv: &receiverCounters{rows: 5}, checks: good}, false},
		{"nothing checked", runResult{variant: variantBuiltin, recv: &receiverCounters{}}, false},
	}
	for _, tt := range tests {
		if got := tt.r.exact(); got != tt.want {
			t.Errorf("%s: exact() = %v, want %v (%s)", tt.name, got, tt.want, tt.r.mismatch())
		}
	}
}

func TestCleanEnv(t *testing.T) {
	got := cleanEnv([]string{"PATH=/bin", "K6_OUT=json", "PENELOPA_URL=x", "HOME=/root", "XK6_A=1"})
	want := []string{"PATH=/bin", "HOME=/root", "XK6_A=1"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("cleanEnv = %q, want %q", got, want)
	}
}

func TestAdded(t *testing.T) {
	run := func(variant string, cpu float64, rssMiB uint64) runResult {
		return runResult{script: "s", variant: variant, usage: usage{cpu: cpu, rssKiB: rssMiB * 1024}}
	}
	rep := &report{cfg: &config{}, results: []runResult{
		run(variantNone, 5, 100), run(variantPenelopa, 5.5, 120), run(variantBuiltin, 9, 300),
		run(variantNone, 6, 101), run(variantPenelopa, 6.2, 121), run(variantBuiltin, 10, 301),
		run(variantNone, 4, 99), run(variantPenelopa, 5.9, 119), run(variantBuiltin, 11, 299),
		{script: "s", variant: variantBuiltin, err: os.ErrNotExist}, // failed: left out
	}}
	tests := []struct {
		variant            string
		cpu, rss           float64
		cpuNoisy, rssNoisy bool
	}{
		// none: cpu 4..6 (median 5, spread 2), rss 99..101 MiB (median 100, spread 2)
		{variantPenelopa, 0.9, 20, true, false},
		{variantBuiltin, 5, 200, false, false},
	}
	for _, tt := range tests {
		a, ok := rep.added("s", tt.variant)
		if !ok {
			t.Fatalf("%s: no result", tt.variant)
		}
		if math.Abs(a.cpu-tt.cpu) > 1e-9 || math.Abs(a.rss-tt.rss) > 1e-9 || a.cpuNoisy != tt.cpuNoisy || a.rssNoisy != tt.rssNoisy {
			t.Errorf("%s: added = %+v, want cpu %g (noisy %v) rss %g (noisy %v)", tt.variant, a, tt.cpu, tt.cpuNoisy, tt.rss, tt.rssNoisy)
		}
	}
	if _, ok := rep.added("other", variantPenelopa); ok {
		t.Error("a script without runs has an added cost")
	}
}

func TestOthersSince(t *testing.T) {
	before := hostCPU{busy: 1000, known: 110}
	tests := []struct {
		name   string
		after  hostCPU
		runCPU float64
		want   float64
	}{
		{"quiet machine", hostCPU{busy: 1600, known: 210}, 5, 0},
		{"another process busy", hostCPU{busy: 2600, known: 210}, 5, 10},
		{"rounding below zero", hostCPU{busy: 1590, known: 210}, 5, 0},
	}
	for _, tt := range tests {
		if got := tt.after.othersSince(before, tt.runCPU); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("%s: othersSince = %g, want %g", tt.name, got, tt.want)
		}
	}
	// This test process may not have used a whole clock tick yet: only the machine's time is sure.
	if h := readHostCPU(0); h.busy == 0 {
		t.Errorf("readHostCPU: no busy time read from /proc/stat: %+v", h)
	}
}
