package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// target is the HTTP server the http script loads, on 127.0.0.1. Its CPU is not counted: it is
// the system under test, the same for every variant.
type target struct {
	url  string
	pid  int // its process; 0 when it is served by this program
	stop func()
}

// startTarget runs the repository's examples/target, built into work, or, where the repository
// has none, a small server in this process with the same two endpoints.
func startTarget(ctx context.Context, root, work string) (*target, error) {
	src := filepath.Join(root, "examples", "target")
	if _, err := os.Stat(filepath.Join(src, "main.go")); err != nil {
		return startInProcessTarget()
	}
	// Built, then run, rather than `go run`: the process to stop is then the server itself.
	bin := filepath.Join(work, "target")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./examples/target")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building examples/target: %w: %s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(work, "target.log"))
	if err != nil {
		return nil, fmt.Errorf("target log: %w", err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(bin, "-addr", addr)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting examples/target: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t := &target{url: "http://" + addr, pid: cmd.Process.Pid, stop: func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		logf.Close()
	}}
	if err := awaitHTTP(ctx, t.url+"/", exited); err != nil {
		t.stop()
		return nil, fmt.Errorf("examples/target on %s: %w; its log: %s", addr, err, tailFile(logf.Name(), 3))
	}
	return t, nil
}

// startInProcessTarget serves / and /api/items with small fixed delays from this process.
func startInProcessTarget() (*target, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(2 * time.Millisecond)
		_, _ = io.WriteString(w, "compare target\n")
	})
	mux.HandleFunc("GET /api/items", func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(5 * time.Millisecond)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `[{"id":1,"name":"alpha"},{"id":2,"name":"beta"},{"id":3,"name":"gamma"}]`+"\n")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return &target{url: "http://" + ln.Addr().String(), stop: func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}}, nil
}

// awaitHTTP waits until url answers 200, the process exits, or 30 s pass.
func awaitHTTP(ctx context.Context, url string, exited <-chan struct{}) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("exited at startup")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		resp, err := client.Get(url)
		if err != nil {
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return nil
		}
	}
	return errors.New("not answering within 30s")
}
