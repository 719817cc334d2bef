// Command target is a small HTTP server for the example k6 script: a few endpoints with small,
// repeatable latencies, so a demo run has something local to load.
//
//	go run ./examples/target -addr 127.0.0.1:8080
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	flag.Parse()
	if err := run(*addr); err != nil {
		log.Fatalf("target: %v", err)
	}
}

func run(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: newHandler(), ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}()
	log.Printf("target: listening on http://%s", ln.Addr())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// jitter hands out latencies that vary from request to request yet repeat exactly from run to run:
// the n-th request waits base plus a fixed step pattern, with no random source involved.
type jitter struct{ n atomic.Uint64 }

func (j *jitter) wait(base, spread time.Duration) {
	step := j.n.Add(1) * 7919 % 11 // 0..10, a fixed permutation of steps
	time.Sleep(base + spread*time.Duration(step)/10)
}

type item struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

func newHandler() http.Handler {
	j := &jitter{}
	items := []item{{1, "alpha"}, {2, "beta"}, {3, "gamma"}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		j.wait(time.Millisecond, 4*time.Millisecond)
		fmt.Fprintln(w, "penelopa example target")
	})
	mux.HandleFunc("GET /api/items", func(w http.ResponseWriter, _ *http.Request) {
		j.wait(5*time.Millisecond, 10*time.Millisecond)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(items)
	})
	mux.HandleFunc("GET /api/slow", func(w http.ResponseWriter, _ *http.Request) {
		j.wait(50*time.Millisecond, 10*time.Millisecond)
		fmt.Fprintln(w, "slow")
	})
	mux.HandleFunc("GET /status/{code}", func(w http.ResponseWriter, r *http.Request) {
		code, err := strconv.Atoi(r.PathValue("code"))
		if err != nil || code < 200 || code > 599 {
			http.Error(w, "status must be a number from 200 to 599", http.StatusBadRequest)
			return
		}
		j.wait(time.Millisecond, time.Millisecond)
		w.WriteHeader(code)
	})
	return mux
}
