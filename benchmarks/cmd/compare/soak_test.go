package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestSampleAt(t *testing.T) {
	const p = 5 * time.Second
	var samples []rssSample
	for i := 1; i <= 24; i++ { // 5 s .. 120 s, the last a little late
		at := time.Duration(i) * p
		if i == 12 {
			at += 40 * time.Millisecond
		}
		samples = append(samples, rssSample{at: at, rootKiB: uint64(i)})
	}
	tests := []struct {
		name   string
		t      time.Duration
		want   uint64
		wantOK bool
	}{
		{name: "exact tick", t: 30 * time.Second, want: 6, wantOK: true},
		{name: "tick a little late still counts", t: time.Minute, want: 12, wantOK: true},
		{name: "between ticks takes the earlier", t: 62 * time.Second, want: 12, wantOK: true},
		{name: "end of run", t: 2 * time.Minute, want: 24, wantOK: true},
		{name: "before the first sample", t: time.Second, wantOK: false},
		{name: "after the process ended", t: 3 * time.Minute, want: 24, wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, ok := sampleAt(samples, tt.t, p)
			if ok != tt.wantOK || (ok && s.rootKiB != tt.want) {
				t.Errorf("sampleAt(%s) = %d, %v; want %d, %v", tt.t, s.rootKiB, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestStatusKiB(t *testing.T) {
	status := []byte("Name:\tk6\nVmHWM:\t   62492 kB\nVmRSS:\t   51200 kB\n")
	tests := []struct {
		key  string
		want uint64
	}{
		{"VmRSS:", 51200},
		{"VmHWM:", 62492},
		{"VmSwap:", 0},
	}
	for _, tt := range tests {
		if got := statusKiB(status, tt.key); got != tt.want {
			t.Errorf("statusKiB(%q) = %d, want %d", tt.key, got, tt.want)
		}
	}
}

func TestReadTreeRSSOfThisProcess(t *testing.T) {
	s, ok := readTreeRSS(os.Getpid())
	if !ok || s.rootKiB == 0 {
		t.Fatalf("readTreeRSS(self) = %+v, %v; want a resident set", s, ok)
	}
}

func TestSoakReportRows(t *testing.T) {
	curve := func(root, others uint64) []rssSample {
		var out []rssSample
		for i := 1; i <= 24; i++ {
			out = append(out, rssSample{at: time.Duration(i) * soakEvery, rootKiB: root * 1024, othersKiB: others * 1024})
		}
		return out
	}
	r := &soakReport{length: 2 * time.Minute, runs: []*soakRun{
		{variant: variantBuiltin, samples: curve(300, 0), wall: 2 * time.Minute},
		{variant: variantPenelopa, samples: curve(40, 100), wall: 2 * time.Minute},
	}}
	out := r.String()
	for _, want := range []string{"AT THE SAME TIME", "300", "100", "40", "140", "Growth of the total from minute 1 to the end: builtin +0 MiB, penelopa +0 MiB (its k6 +0, k6-penelopa +0)"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	var rows []string
	for line := range strings.Lines(out) {
		if f := strings.Fields(line); len(f) == 7 && f[0] != "minute" {
			rows = append(rows, strings.Join(f, " "))
		}
	}
	if want := []string{"1 300 100 40 140 300 140", "2 300 100 40 140 300 140"}; strings.Join(rows, "|") != strings.Join(want, "|") {
		t.Errorf("minute rows = %q, want %q", rows, want)
	}
}
