//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"xk6-output-penelopa/e2e/promapi"
)

// receiver is a remote-write receiver this suite started: where to write, where to read back.
type receiver struct {
	name     string
	writeURL string
	api      *promapi.Client
	// typeLabels: the receiver turns the per-series metadata of a 2.0 body into __type__ and
	// __unit__ labels (Prometheus 3 with --enable-feature=type-and-unit-labels), so what it
	// stored shows which protocol carried it.
	typeLabels bool
}

// startPrometheus starts Prometheus with its remote-write receiver on a free port, with an empty
// scrape configuration and its own storage, and stops it when the test ends.
func startPrometheus(t *testing.T) *receiver {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte("global:\n  evaluation_interval: 1m\nscrape_configs: []\n"), 0o644); err != nil {
		t.Fatalf("write prometheus config: %v", err)
	}
	base := startDaemon(t, "prometheus", func(addr string) []string {
		return []string{
			"--config.file=" + cfg,
			"--storage.tsdb.path=" + filepath.Join(dir, "data"),
			"--web.listen-address=" + addr,
			"--web.enable-remote-write-receiver",
			"--enable-feature=native-histograms",
			"--log.level=warn",
		}
	}, "/-/ready")
	return &receiver{name: "prometheus", writeURL: base + "/api/v1/write", api: promapi.New(base)}
}

// startVictoriaMetrics starts single-node VictoriaMetrics on a free port with its own storage,
// answering queries with the newest samples at once, and stops it when the test ends.
func startVictoriaMetrics(t *testing.T) *receiver {
	t.Helper()
	dir := t.TempDir()
	base := startDaemon(t, "victoria-metrics", func(addr string) []string {
		return []string{
			"-httpListenAddr=" + addr,
			"-storageDataPath=" + filepath.Join(dir, "data"),
			"-retentionPeriod=100y",
			"-search.latencyOffset=0s",
			"-search.disableCache",
			"-loggerLevel=WARN",
		}
	}, "/health")
	return &receiver{name: "victoriametrics", writeURL: base + "/api/v1/write", api: promapi.New(base)}
}

// startDaemon runs program, found on PATH, with the arguments args(listenAddr) in its own
// process group, waits until readyPath answers 200 and returns the base URL. The process group
// is killed when the test ends; its log is kept in the test's temp dir and printed if the test
// failed. A start that loses its free port to another process is retried.
func startDaemon(t *testing.T, program string, args func(addr string) []string, readyPath string) string {
	t.Helper()
	bin, err := exec.LookPath(program)
	if err != nil {
		t.Fatalf("%s not found (./build.sh test installs it): %v", program, err)
	}
	return startDaemonBin(t, program, bin, args, readyPath, nil)
}

// startDaemonBin is startDaemon for the executable bin, called program in messages. Once the
// daemon is ready, checkLog (when not nil) reads its log so far and may refuse the daemon.
func startDaemonBin(t *testing.T, program, bin string, args func(addr string) []string, readyPath string, checkLog func(log string) error) string {
	t.Helper()
	var lastErr error
	for attempt := 1; attempt <= 3; attempt++ {
		addr := freeAddr(t)
		logPath := filepath.Join(t.TempDir(), program+".log")
		p, err := startProcess(bin, args(addr), logPath)
		if err != nil {
			t.Fatalf("start %s: %v", program, err)
		}
		base := "http://" + addr
		if err := waitReady(p, base+readyPath, 60*time.Second); err != nil {
			p.stop()
			lastErr = fmt.Errorf("%s on %s: %w\n%s", program, addr, err, tail(logPath))
			continue
		}
		t.Cleanup(func() {
			p.stop()
			if t.Failed() {
				t.Logf("%s log (%s):\n%s", program, logPath, tail(logPath))
			}
		})
		if checkLog != nil {
			log, err := os.ReadFile(logPath)
			if err != nil {
				t.Fatalf("read %s log: %v", program, err)
			}
			if err := checkLog(string(log)); err != nil {
				t.Fatalf("%s: %v", program, err)
			}
		}
		return base
	}
	t.Fatalf("start %s: %v", program, lastErr)
	return ""
}

// process is a started daemon; done is closed when it has exited.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	log  *os.File
}

// startProcess starts bin in a process group of its own, its output going to logPath.
func startProcess(bin string, args []string, logPath string) (*process, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create log: %w", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{}), log: logFile}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// stop asks the process group to terminate, kills it after a grace period, and waits.
func (p *process) stop() {
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
	p.log.Close()
}

// waitReady polls url until it answers 200, the process exits, or the timeout passes.
func waitReady(p *process, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("build readiness request: %w", err)
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.done:
			return errors.New("exited before it was ready")
		case <-ctx.Done():
			return fmt.Errorf("not ready after %v", timeout)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// freeAddr returns a 127.0.0.1 address whose port was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer ln.Close()
	return "127.0.0.1:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// closedAddr returns a 127.0.0.1 address nothing listens on.
func closedAddr(t *testing.T) string { return freeAddr(t) }

// tail returns the last lines of a log file, for failure messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(read %s: %v)", path, err)
	}
	const max = 4000
	if len(b) > max {
		b = b[len(b)-max:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(b)
}
