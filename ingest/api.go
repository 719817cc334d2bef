// Package ingest reads k6's JSON-lines stream into the series table. It must always read faster
// than k6 writes (a full pipe would stall k6's metric flushing), so a point of a known series
// costs one parse, one hash and one map hit, and allocates nothing.
package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sync/atomic"

	"github.com/valyala/fastjson"

	"xk6-output-penelopa/series"
)

const (
	// blockSize is the read size; the table lock is held once per block of lines. 64 KiB (a
	// default pipe's size) keeps the buffer from pushing the series' aggregates out of a 1 MiB
	// L2 cache: interleaved runs of BenchmarkIngest here took ~10 % less time per line than at
	// 256 KiB on k6's HTTP lines; a larger buffer saves only read calls, one per ~200 lines.
	blockSize = 64 << 10
	// maxLineSize bounds the buffer: a longer line is counted malformed and skipped.
	maxLineSize = 16 << 20
)

// Reader parses k6's stream; one Reader per stream, Run called once.
type Reader struct {
	tbl       *series.Table
	blockSize int // initial buffer size
	maxLine   int // longest line accepted
	p         fastjson.Parser
	rawTags   []byte       // tags object re-serialised by fastjson (its raw bytes)
	tags      []series.Tag // decoded tags of a new series

	lines, points, malformed atomic.Uint64
	nLines, nPoints, nBad    uint64 // counts of the current block, published after it

	// Stream clock, kept only after TrackTime (replay).
	tick     func(ms int64) int64 // TrackTime's callback; nil: live ingest, times are skipped
	deadline int64                // tick runs before the first point later than this
	now      int64                // newest point time read, unix ms
	clock    atomic.Int64         // now, published with the counts
}

// NewReader returns a reader feeding tbl.
func NewReader(tbl *series.Table) *Reader {
	return &Reader{tbl: tbl, blockSize: blockSize, maxLine: maxLineSize}
}

// TrackTime makes r read every point's time and keep the stream's clock, for a replay that
// flushes on the stream's own time instead of the wall clock. Times are unix milliseconds,
// rounded up (RFC 3339 strings, or unix numbers in s, ms, µs or ns told apart by magnitude).
//
// Before r applies the first timed point, and then before the first point whose time is later
// than the deadline tick last returned, it publishes its counters, releases the table lock and
// calls tick with that point's time, which is the newest time read so far. tick may flush the
// table: it holds every point read before that one and none after. tick returns the next
// deadline; a deadline earlier than its argument makes the next point call tick again. A point
// whose time cannot be read is malformed; a point whose time can moves the clock even if it is
// found malformed later (an undeclared metric, say). Call TrackTime before Run, at most once;
// without it live ingest skips the time field and pays nothing for it.
func (r *Reader) TrackTime(tick func(ms int64) (deadline int64)) {
	r.tick = tick
	r.deadline = math.MinInt64
}

// Run reads src until EOF (nil) or ctx is done (ctx.Err()), or returns the read error wrapped.
// Malformed lines are counted and skipped. ctx is checked between reads: to interrupt a
// blocked read, close src.
func (r *Reader) Run(ctx context.Context, src io.Reader) error {
	buf := make([]byte, r.blockSize)
	filled := 0       // bytes in buf
	skipping := false // inside a line longer than maxLine: drop bytes until its newline
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, rerr := src.Read(buf[filled:])
		filled += n
		start := 0
		if skipping {
			i := bytes.IndexByte(buf[:filled], '\n')
			if i < 0 {
				filled = 0
			} else {
				skipping = false
				start = i + 1
			}
		}
		if end := bytes.LastIndexByte(buf[start:filled], '\n'); end >= 0 {
			r.block(buf[start : start+end+1])
			start += end + 1
		}
		filled = copy(buf, buf[start:filled])
		if rerr != nil {
			if filled > 0 && !skipping {
				r.block(buf[:filled]) // last line without a newline
			}
			if errors.Is(rerr, io.EOF) {
				return nil
			}
			return fmt.Errorf("ingest: read k6 stream: %w", rerr)
		}
		if filled == len(buf) { // a line longer than the buffer
			if len(buf) < r.maxLine+1 { // room for maxLine bytes and their newline
				nb := make([]byte, min(2*len(buf), r.maxLine+1))
				copy(nb, buf)
				buf = nb
			} else {
				r.malformed.Add(1)
				r.lines.Add(1)
				skipping = true
				filled = 0
			}
		}
	}
}

// block parses a run of complete lines holding the table lock once.
func (r *Reader) block(b []byte) {
	r.tbl.Lock()
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		line := b
		if i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		r.line(line)
	}
	r.tbl.Unlock()
	r.publish()
}

// publish makes the counts of the lines read so far (and the clock) visible to Stats.
func (r *Reader) publish() {
	r.lines.Add(r.nLines)
	r.points.Add(r.nPoints)
	r.malformed.Add(r.nBad)
	r.nLines, r.nPoints, r.nBad = 0, 0, 0
	if r.tick != nil {
		r.clock.Store(r.now)
	}
}

// advance moves the stream clock to point time t and, once t is past the deadline, runs the
// tick without the table lock. The caller holds the lock.
func (r *Reader) advance(t int64) {
	r.now = max(r.now, t)
	if t <= r.deadline {
		return
	}
	r.publish()
	r.tbl.Unlock()
	r.deadline = r.tick(t)
	r.tbl.Lock()
}

// line parses one line; the caller holds the table lock.
func (r *Reader) line(line []byte) {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if len(line) == 0 {
		return
	}
	if r.tick == nil {
		// Live ingest: a point of a known series in k6's own layout costs a few prefix
		// checks, one hash and one map hit, with no look inside its tags.
		if name, tags, v, ok := layoutPoint(line, r.tbl.EscapedNames()); ok && r.tbl.Observe(name, tags, v) {
			r.nLines++
			r.nPoints++
			return
		}
	}
	if pf, ok := scanPoint(line, r.tick != nil); ok {
		if r.tick != nil {
			r.advance(pf.time)
		}
		if r.tbl.Observe(pf.name, pf.tags, pf.value) {
			r.nLines++
			r.nPoints++
			return
		}
		// A new series (or an undeclared metric) whose tags hold no escape: insert it from
		// what the scanner read, as point would after parsing the line again with fastjson.
		if tags, ok := plainTags(pf.tags, r.tags[:0]); ok {
			r.tags = tags
			r.nLines++
			if err := r.tbl.Insert(pf.name, pf.tags, tags, pf.value); err != nil {
				r.nBad++
				return
			}
			r.nPoints++
			return
		}
	}
	if len(bytes.TrimSpace(line)) == 0 {
		return
	}
	r.nLines++
	if !r.parse(line) {
		r.nBad++
	}
}

// parse handles one non-empty line and reports whether it was well formed.
func (r *Reader) parse(line []byte) bool {
	v, err := r.p.ParseBytes(line)
	if err != nil {
		return false
	}
	switch string(v.GetStringBytes("type")) {
	case "Point":
		return r.point(v)
	case "Metric":
		return r.metric(v)
	}
	return false
}

// point adds one Point line's value to its series.
func (r *Reader) point(v *fastjson.Value) bool {
	name := v.GetStringBytes("metric")
	data := v.Get("data")
	if len(name) == 0 || data == nil || data.Type() != fastjson.TypeObject {
		return false
	}
	val := data.Get("value")
	if val == nil || val.Type() != fastjson.TypeNumber {
		return false
	}
	f, err := val.Float64()
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		// NaN, Inf or a number past float64 (1e999): no aggregate takes it (a counter would
		// stay NaN for good, a trend has no bucket for it), so it is counted, not kept.
		// The fast scanners read only finite numbers.
		return false
	}
	tags := data.Get("tags")
	r.rawTags = r.rawTags[:0]
	if tags != nil && tags.Type() != fastjson.TypeNull {
		if tags.Type() != fastjson.TypeObject {
			return false
		}
		r.rawTags = tags.MarshalTo(r.rawTags)
	}
	if r.tick != nil {
		t, ok := pointTime(data.Get("time"))
		if !ok {
			return false
		}
		r.advance(t) // a no-op when the fast path already read this point's time
	}
	if r.tbl.Observe(name, r.rawTags, f) {
		r.nPoints++
		return true
	}
	// A new series (or a malformed one): decode the tags. Visit unescapes the object in
	// place, which is why the raw bytes were taken first.
	r.tags = r.tags[:0]
	if tags != nil && tags.Type() == fastjson.TypeObject {
		obj, _ := tags.Object()
		ok := true
		obj.Visit(func(key []byte, tv *fastjson.Value) {
			s, err := tv.StringBytes()
			if err != nil {
				ok = false
				return
			}
			r.tags = append(r.tags, series.Tag{Name: key, Value: s})
		})
		if !ok {
			return false
		}
	}
	if err := r.tbl.Insert(name, r.rawTags, r.tags, f); err != nil {
		return false
	}
	r.nPoints++
	return true
}

// metric declares one Metric line's metric.
func (r *Reader) metric(v *fastjson.Value) bool {
	data := v.Get("data")
	if data == nil {
		return false
	}
	name := string(data.GetStringBytes("name"))
	if name == "" {
		name = string(v.GetStringBytes("metric"))
	}
	if name == "" {
		return false
	}
	kind, err := series.ParseKind(string(data.GetStringBytes("type")))
	if err != nil {
		return false
	}
	contains, err := series.ParseContains(string(data.GetStringBytes("contains")))
	if err != nil {
		return false
	}
	return r.tbl.Declare(name, kind, contains) == nil
}

// pointTime reads a point's time field: an RFC 3339 string or a unix number.
func pointTime(v *fastjson.Value) (int64, bool) {
	if v == nil {
		return 0, false
	}
	switch v.Type() {
	case fastjson.TypeString:
		return parseTime(v.GetStringBytes())
	case fastjson.TypeNumber:
		f, err := v.Float64()
		if err != nil {
			return 0, false
		}
		return unixTime(f)
	}
	return 0, false
}

// Stats are the reader's counters; safe to call concurrently with Run.
type Stats struct {
	Lines, Points, Malformed uint64
	// Clock is the newest point time read, in unix milliseconds rounded up; 0 without
	// TrackTime or before the first point.
	Clock int64
}

// Stats returns the counters so far (updated after each block of lines, and before each tick).
func (r *Reader) Stats() Stats {
	return Stats{Lines: r.lines.Load(), Points: r.points.Load(), Malformed: r.malformed.Load(), Clock: r.clock.Load()}
}
