package series

import (
	"fmt"
	"strconv"
	"strings"
)

// statKind says which number a trend stat reports.
type statKind uint8

const (
	statCount statKind = iota
	statSum
	statMin
	statMax
	statAvg
	statPct // percentile p in [0,1]; med is p=0.5
)

// trendStat is one parsed entry of Options.TrendStats.
type trendStat struct {
	kind   statKind
	p      float64 // for statPct, in [0,1]
	suffix string  // series name suffix: count, p99, p99_9, med, ...
	name   string  // k6's spelling, normalised: count, p(99), p(99.9), med, ...
}

// parseTrendStat parses one stat name: count, sum, min, max, avg, med or p(N) with 0<=N<=100.
func parseTrendStat(s string) (trendStat, error) {
	switch s {
	case "count":
		return trendStat{kind: statCount, suffix: s, name: s}, nil
	case "sum":
		return trendStat{kind: statSum, suffix: s, name: s}, nil
	case "min":
		return trendStat{kind: statMin, suffix: s, name: s}, nil
	case "max":
		return trendStat{kind: statMax, suffix: s, name: s}, nil
	case "avg":
		return trendStat{kind: statAvg, suffix: s, name: s}, nil
	case "med":
		return trendStat{kind: statPct, p: 0.5, suffix: s, name: s}, nil
	}
	bad := fmt.Errorf("trend stat %q: expected count, sum, min, max, avg, med or p(N) with 0<=N<=100", s)
	inner, ok := strings.CutPrefix(s, "p(")
	if !ok {
		return trendStat{}, bad
	}
	inner, ok = strings.CutSuffix(inner, ")")
	if !ok || inner == "" {
		return trendStat{}, bad
	}
	for i := 0; i < len(inner); i++ { // plain decimals only: no sign, exponent, hex, inf or nan
		if c := inner[i]; (c < '0' || c > '9') && c != '.' {
			return trendStat{}, bad
		}
	}
	n, err := strconv.ParseFloat(inner, 64)
	if err != nil || n < 0 || n > 100 {
		return trendStat{}, bad
	}
	num := strconv.FormatFloat(n, 'f', -1, 64)
	return trendStat{kind: statPct, p: n / 100, suffix: "p" + strings.ReplaceAll(num, ".", "_"), name: "p(" + num + ")"}, nil
}

// ParseTrendStats validates trend stat names (count, sum, min, max, avg, med, p(N)) so a bad
// configuration fails at start with an error naming the value; duplicates are rejected too.
func ParseTrendStats(stats []string) error {
	_, err := parseTrendStats(stats)
	return err
}

// TrendStatSuffix returns the series name suffix of a trend stat (p(99.9) -> "p99_9"), so
// documentation, tests and the table agree on names.
func TrendStatSuffix(stat string) (string, error) {
	st, err := parseTrendStat(stat)
	return st.suffix, err
}

// defaultTrendStat is the stat reported when Options.TrendStats is empty.
const defaultTrendStat = "p(99)"

// parseTrendStats parses every stat, rejecting two stats that would produce the same series.
func parseTrendStats(stats []string) ([]trendStat, error) {
	out := make([]trendStat, 0, len(stats))
	for _, s := range stats {
		st, err := parseTrendStat(s)
		if err != nil {
			return nil, err
		}
		for _, prev := range out {
			if prev.suffix == st.suffix {
				return nil, fmt.Errorf("trend stat %q: duplicate of an earlier stat (both report _%s)", s, st.suffix)
			}
		}
		out = append(out, st)
	}
	return out, nil
}
