package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// maxInsertRequestSize is the largest unpacked remote-write request the receiver accepts.
const maxInsertRequestSize = 1 << 30

// receiver is a VictoriaMetrics started for one run on a free 127.0.0.1 port, with storage of
// its own, so that every run is received alike and its counters count that run alone.
type receiver struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has been reaped
	base   string        // http://127.0.0.1:port
	logf   *os.File
	client *http.Client

	before    receiverCounters // at the baseline
	readBytes float64          // bytes one read of /metrics adds to the wire count
	reads     int              // reads of /metrics since the baseline
}

// startReceiver starts VictoriaMetrics with its data and log in dir and waits until it answers.
func startReceiver(ctx context.Context, bin, dir string) (*receiver, error) {
	var lastErr error
	for range 3 { // a free port can be taken between choosing it and binding it: try another
		r, err := tryStartReceiver(ctx, bin, dir)
		if err == nil {
			return r, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

func tryStartReceiver(ctx context.Context, bin, dir string) (*receiver, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "vmdata")
	_ = os.RemoveAll(data)
	logf, err := os.Create(filepath.Join(dir, "victoria-metrics.log"))
	if err != nil {
		return nil, fmt.Errorf("receiver log: %w", err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(bin,
		"-httpListenAddr="+addr,
		"-storageDataPath="+data,
		"-retentionPeriod=100y",
		"-search.latencyOffset=0s",
		"-search.disableCache",
		"-search.maxUniqueTimeseries=100000000", // the exactness queries read every series
		// The built-in output sends all of a flush in one request: at 100k ids that is about
		// 40 MB unpacked, over the 32 MiB default, and would be refused.
		"-maxInsertRequestSize="+strconv.Itoa(maxInsertRequestSize),
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	r := &receiver{
		cmd: cmd, exited: make(chan struct{}), base: "http://" + addr, logf: logf,
		client: &http.Client{Timeout: time.Minute},
	}
	go func() {
		_ = cmd.Wait()
		close(r.exited)
	}()
	if err := r.awaitHealthy(ctx, 30*time.Second); err != nil {
		r.stop()
		return nil, fmt.Errorf("VictoriaMetrics on %s: %w; its log: %s", addr, err, tailFile(logf.Name(), 3))
	}
	return r, nil
}

// awaitHealthy waits until /health answers OK, then makes sure the answer came from our process
// and not from another one that held the port (ours would have died on bind).
func (r *receiver) awaitHealthy(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for !r.healthy(ctx) {
		if time.Now().After(deadline) {
			return fmt.Errorf("not healthy within %s", limit)
		}
		select {
		case <-r.exited:
			return errors.New("exited at startup")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	select {
	case <-r.exited:
		return errors.New("exited at startup")
	case <-time.After(200 * time.Millisecond):
		return nil
	}
}

func (r *receiver) healthy(ctx context.Context) bool {
	body, err := r.get(ctx, "/health")
	return err == nil && strings.TrimSpace(string(body)) == "OK"
}

// stop ends the receiver (SIGINT, then SIGKILL after 10 s) and deletes its data.
func (r *receiver) stop() {
	_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGINT)
	select {
	case <-r.exited:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		<-r.exited
	}
	r.logf.Close()
	_ = os.RemoveAll(filepath.Join(filepath.Dir(r.logf.Name()), "vmdata"))
}

func (r *receiver) writeURL() string { return r.base + "/api/v1/write" }

func (r *receiver) get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.base+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", path, resp.Status, bytes.TrimSpace(body))
	}
	return body, nil
}

// receiverCounters are the receiver's own counters that a run is measured by.
type receiverCounters struct {
	rows     float64 // samples stored from remote write
	requests float64 // remote-write requests
	bytes    float64 // bytes read from HTTP connections: every request, headers included
	cpu      float64 // the receiver's CPU seconds
	inserts  float64 // inserts in progress
}

// sub returns the change from before to c.
func (c receiverCounters) sub(before receiverCounters) receiverCounters {
	return receiverCounters{
		rows: c.rows - before.rows, requests: c.requests - before.requests,
		bytes: c.bytes - before.bytes, cpu: c.cpu - before.cpu,
	}
}

// counters reads the receiver's /metrics.
func (r *receiver) counters(ctx context.Context) (receiverCounters, error) {
	body, err := r.get(ctx, "/metrics")
	if err != nil {
		return receiverCounters{}, err
	}
	r.reads++
	m := parseExposition(body)
	return receiverCounters{
		rows:     m.sum("vm_rows_inserted_total", "type", "promremotewrite"),
		requests: m.sum("vm_http_requests_total", "path", "/api/v1/write"),
		bytes:    m.sum("vm_tcplistener_read_bytes_total", "name", "http"),
		cpu:      m.sum("process_cpu_seconds_total", "", ""),
		inserts:  m.sum("vm_concurrent_insert_current", "", ""),
	}, nil
}

// baseline reads the counters before a run. It reads them twice, back to back, to learn how many
// bytes one read of /metrics adds, so that settle can take this program's own reads out of the
// bytes on the wire.
func (r *receiver) baseline(ctx context.Context) error {
	first, err := r.counters(ctx)
	if err != nil {
		return err
	}
	if r.before, err = r.counters(ctx); err != nil {
		return err
	}
	r.readBytes = r.before.bytes - first.bytes
	r.reads = 0
	return nil
}

// settle waits until the receiver has finished every insert and stored no new row for a
// moment, at most limit, and returns what it took in since the baseline. A sender may have given
// up waiting for a slow request that the receiver still completes: those rows count too.
func (r *receiver) settle(ctx context.Context, limit time.Duration) (receiverCounters, error) {
	deadline := time.Now().Add(limit)
	prev, err := r.counters(ctx)
	for err == nil {
		select {
		case <-ctx.Done():
			return receiverCounters{}, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
		var cur receiverCounters
		if cur, err = r.counters(ctx); err != nil {
			break
		}
		quiet := cur.inserts == 0 && cur.rows == prev.rows && cur.requests == prev.requests
		if quiet || time.Now().After(deadline) {
			d := cur.sub(r.before)
			d.bytes -= float64(r.reads) * r.readBytes
			return d, nil
		}
		prev = cur
	}
	return receiverCounters{}, fmt.Errorf("receiver counters: %w", err)
}

// flush makes everything received searchable at once.
func (r *receiver) flush(ctx context.Context) error {
	_, err := r.get(ctx, "/internal/force_flush")
	return err
}

// query evaluates an instant PromQL query that yields one value; found is false when it yields
// nothing.
func (r *receiver) query(ctx context.Context, q string) (v float64, found bool, err error) {
	body, err := r.get(ctx, "/api/v1/query?"+url.Values{"query": {q}}.Encode())
	if err != nil {
		return 0, false, err
	}
	var resp struct {
		Status string `json:"status"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return 0, false, fmt.Errorf("query %s: %w", q, err)
	}
	if resp.Status != "success" {
		return 0, false, fmt.Errorf("query %s: status %q", q, resp.Status)
	}
	if len(resp.Data.Result) == 0 {
		return 0, false, nil
	}
	s, ok := resp.Data.Result[0].Value[1].(string)
	if !ok {
		return 0, false, fmt.Errorf("query %s: value %v is not a string", q, resp.Data.Result[0].Value[1])
	}
	v, err = strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false, fmt.Errorf("query %s: %w", q, err)
	}
	return v, !math.IsNaN(v), nil
}

// exposition is a parsed Prometheus text exposition: one entry per series line.
type exposition []struct {
	name   string
	labels map[string]string
	value  float64
}

// parseExposition reads the text format's series lines; comments and lines it cannot read are
// skipped.
func parseExposition(b []byte) exposition {
	var out exposition
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		name, labels, rest := line, map[string]string(nil), ""
		if i := strings.IndexByte(line, '{'); i >= 0 {
			j := strings.LastIndexByte(line, '}')
			if j < i {
				continue
			}
			name, labels, rest = line[:i], parseLabels(line[i+1:j]), line[j+1:]
		} else if i := strings.IndexByte(line, ' '); i >= 0 {
			name, rest = line[:i], line[i:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		out = append(out, struct {
			name   string
			labels map[string]string
			value  float64
		}{name, labels, v})
	}
	return out
}

// parseLabels reads `a="x", b="y\"z"` into a map.
func parseLabels(s string) map[string]string {
	labels := make(map[string]string)
	for {
		s = strings.TrimLeft(s, ", ")
		eq := strings.IndexByte(s, '=')
		if eq < 0 || eq+1 >= len(s) || s[eq+1] != '"' {
			return labels
		}
		name := strings.TrimSpace(s[:eq])
		var val strings.Builder
		i := eq + 2
		for ; i < len(s) && s[i] != '"'; i++ {
			if s[i] == '\\' && i+1 < len(s) {
				i++
				switch s[i] {
				case 'n':
					val.WriteByte('\n')
				default:
					val.WriteByte(s[i])
				}
				continue
			}
			val.WriteByte(s[i])
		}
		labels[name] = val.String()
		if i >= len(s) {
			return labels
		}
		s = s[i+1:]
	}
}

// sum adds the values of every series named name whose label key has value (no label filter
// when key is empty).
func (e exposition) sum(name, key, value string) float64 {
	var total float64
	for _, s := range e {
		if s.name == name && (key == "" || s.labels[key] == value) {
			total += s.value
		}
	}
	return total
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// tailFile returns the last n lines of a file, joined by " | ", for error messages.
func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
