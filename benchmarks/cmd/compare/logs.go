package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// penelopaSummary is k6-penelopa's final line: what happened to every sample.
type penelopaSummary struct {
	delivered, requests, dropped, retries uint64
	points, malformed                     uint64
	flushes, overruns                     uint64
}

// The final line reads, e.g., "penelopa: 5120 samples delivered in 6 requests (41.3 KiB) to URL;
// 0 dropped; 0 retries; stream: 2391 lines, 2310 points, 0 malformed; ...; 5 flushes (1 longer
// than the push interval)". Each field is found on its own, so that wording added between them
// does not break the parse.
var (
	summaryHeadRE = regexp.MustCompile(`penelopa: (\d+) samples delivered in (\d+) requests`)
	summaryFields = []struct {
		re    *regexp.Regexp
		field func(*penelopaSummary) *uint64
	}{
		{regexp.MustCompile(`; (\d+) dropped`), func(s *penelopaSummary) *uint64 { return &s.dropped }},
		{regexp.MustCompile(`; (\d+) retries`), func(s *penelopaSummary) *uint64 { return &s.retries }},
		{regexp.MustCompile(`, (\d+) points`), func(s *penelopaSummary) *uint64 { return &s.points }},
		{regexp.MustCompile(`, (\d+) malformed`), func(s *penelopaSummary) *uint64 { return &s.malformed }},
		{regexp.MustCompile(`; (\d+) flushes`), func(s *penelopaSummary) *uint64 { return &s.flushes }},
		{regexp.MustCompile(`\((\d+) longer than the push interval\)`), func(s *penelopaSummary) *uint64 { return &s.overruns }},
	}
)

// parsePenelopaSummary reads the final line's numbers; ok is false when line is not that line.
func parsePenelopaSummary(line string) (s penelopaSummary, ok bool) {
	m := summaryHeadRE.FindStringSubmatch(line)
	if m == nil {
		return s, false
	}
	s.delivered, _ = strconv.ParseUint(m[1], 10, 64)
	s.requests, _ = strconv.ParseUint(m[2], 10, 64)
	for _, f := range summaryFields {
		if m := f.re.FindStringSubmatch(line); m != nil {
			*f.field(&s), _ = strconv.ParseUint(m[1], 10, 64)
		}
	}
	return s, true
}

// runLog is what a run's stderr says about flushing and failures.
type runLog struct {
	summary     *penelopaSummary // k6-penelopa's final line, when present
	slowFlushes int              // warnings that a flush took longer than the push interval
	errorLines  int              // level=error lines
	errors      []string         // the first few of them
}

// Warnings of a flush slower than the push interval: k6's own outputs share the first message,
// k6-penelopa writes the second.
var slowFlushMarks = []string{
	"flush operation took higher than the expected set push interval",
	"longer than the push interval",
}

// readRunLog scans a run's stderr.
func readRunLog(path string) (runLog, error) {
	f, err := os.Open(path)
	if err != nil {
		return runLog{}, fmt.Errorf("reading the run's log: %w", err)
	}
	defer f.Close()
	var l runLog
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		l.scan(sc.Text())
	}
	if err := sc.Err(); err != nil {
		return l, fmt.Errorf("reading %s: %w", path, err)
	}
	return l, nil
}

func (l *runLog) scan(line string) {
	if s, ok := parsePenelopaSummary(line); ok {
		l.summary = &s
		return
	}
	if strings.Contains(line, "level=warning") {
		for _, m := range slowFlushMarks {
			if strings.Contains(line, m) {
				l.slowFlushes++
				break
			}
		}
	}
	if strings.Contains(line, "level=error") {
		l.errorLines++
		if len(l.errors) < 3 {
			l.errors = append(l.errors, line)
		}
	}
}
