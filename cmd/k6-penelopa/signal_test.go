package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	penelopa "xk6-output-penelopa"
)

// fakeK6 stands in for `k6 run`: it declares a counter on the stream (descriptor 3), writes a
// point every 50 ms, and, like k6, stops at the second SIGTERM or SIGINT (exit 105).
const fakeK6 = `#!/bin/sh
n=0
trap 'n=$((n+1)); if [ "$n" -ge 2 ]; then exit 105; fi' INT TERM
printf '%s\n' '{"type":"Metric","data":{"name":"reqs","type":"counter","contains":"default"},"metric":"reqs"}' >&3
: > "$FAKE_K6_READY"
while :; do
	printf '%s\n' '{"metric":"reqs","type":"Point","data":{"time":"2026-12-02T12:00:00Z","value":1,"tags":{"group":""}}}' >&3
	sleep 0.05
done
`

// TestSecondSignalKeepsDrain: two signals while k6 runs are k6's (it aborts, as k6 does on a
// second one); penelopa still sends everything k6 wrote, its final flush included.
func TestSecondSignalKeepsDrain(t *testing.T) {
	dir := t.TempDir()
	k6 := filepath.Join(dir, "k6")
	if err := os.WriteFile(k6, []byte(fakeK6), 0o755); err != nil {
		t.Fatal(err)
	}
	ready := filepath.Join(dir, "ready")
	t.Setenv("FAKE_K6_READY", ready)
	var samples atomic.Int64
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		samples.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer recv.Close()
	stderr, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	outputs := penelopa.Outputs{}
	penelopa.Register(outputs)
	l := &launcher{
		args:    []string{"run", "--out", "penelopa=url=" + recv.URL + "/api/v1/write,push_interval=1s,self_metrics=false", "script.js"},
		env:     func(k string) (string, bool) { return map[string]string{"K6_BINARY": k6}[k], k == "K6_BINARY" },
		stdout:  stderr,
		stderr:  stderr,
		outputs: outputs,
		version: "test",
	}
	done := make(chan int, 1)
	go func() { done <- l.main() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the fake k6 did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // some points written
	for range 2 {
		if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var code int
	select {
	case code = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the launcher did not finish")
	}
	log, _ := os.ReadFile(stderr.Name())
	if code != 105 {
		t.Errorf("exit code %d, want k6's 105\n%s", code, log)
	}
	if !strings.Contains(string(log), "; 0 dropped;") || samples.Load() == 0 {
		t.Errorf("the final flush was not delivered (%d requests):\n%s", samples.Load(), log)
	}
}
