// Command report prints what a k6 run left in a Prometheus-compatible receiver: how many k6
// series, how many requests, and the p95 latency per URL. `./build.sh demo` runs it after the
// example test:
//
//	go run ./e2e/cmd/report -url http://127.0.0.1:8428 -since 1764072000
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"xk6-output-penelopa/e2e/promapi"
)

func main() {
	base := flag.String("url", "http://127.0.0.1:8428", "receiver's Prometheus API base URL")
	since := flag.Int64("since", 0, "Unix time the run started; only samples since then count (default: the last hour)")
	settle := flag.Duration("settle", 15*time.Second, "how long to wait for the series count to stop growing")
	flag.Parse()
	start := time.Now().Add(-time.Hour)
	if *since > 0 {
		start = time.Unix(*since, 0)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *settle+30*time.Second)
	defer cancel()
	if err := report(ctx, os.Stdout, promapi.New(*base), start, *settle); err != nil {
		fmt.Fprintf(os.Stderr, "report: %v\n", err)
		os.Exit(1)
	}
}

func report(ctx context.Context, w io.Writer, api *promapi.Client, start time.Time, settle time.Duration) error {
	window := func() string {
		return fmt.Sprintf("%ds", int(time.Since(start).Seconds())+5)
	}
	value := func(expr string) (float64, error) {
		s, err := api.Query(ctx, expr, time.Now())
		if err != nil || len(s) == 0 {
			return 0, err
		}
		return s[0].Value, nil
	}

	// A receiver may show the newest series a moment after they were written: wait until the
	// count holds still.
	var series float64
	for deadline, last := time.Now().Add(settle), -1.0; ; last = series {
		var err error
		if series, err = value(`count(last_over_time({__name__=~"k6_.*"}[` + window() + `]))`); err != nil {
			return err
		}
		if (series > 0 && series == last) || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	reqs, err := value(`sum(last_over_time(k6_http_reqs_total[` + window() + `]))`)
	if err != nil {
		return err
	}
	p95, err := api.Query(ctx, `max by (url) (last_over_time(k6_http_req_duration_p95[`+window()+`]))`, time.Now())
	if err != nil {
		return err
	}
	slices.SortFunc(p95, func(a, b promapi.Sample) int { return strings.Compare(a.Metric["url"], b.Metric["url"]) })

	fmt.Fprintf(w, "k6 series (__name__=~\"k6_.*\"):   %.0f\n", series)
	fmt.Fprintf(w, "requests (sum k6_http_reqs_total): %.0f\n", reqs)
	fmt.Fprintln(w, "p95 latency by URL (max of k6_http_req_duration_p95 over its series):")
	if len(p95) == 0 {
		fmt.Fprintln(w, "  (none: is p(95) in PENELOPA_TREND_STATS?)")
	}
	for _, s := range p95 {
		fmt.Fprintf(w, "  %-45s %8.2f ms\n", s.Metric["url"], s.Value*1000)
	}
	if series == 0 {
		return fmt.Errorf("no k6 series arrived since %s", start.Format(time.RFC3339))
	}
	return nil
}
