package sender

import (
	"context"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// TestStatusClassesAndQueueBytes checks the counters behind penelopa's requests-by-class and
// queue-bytes self-metrics.
func TestStatusClassesAndQueueBytes(t *testing.T) {
	tests := []struct {
		name                      string
		handle                    func(*fasthttp.RequestCtx, int64) bool
		want2xx, want4xx, want5xx uint64
	}{
		{"healthy", nil, 4, 0, 0},
		{"bad request", status(fasthttp.StatusBadRequest), 0, 4, 0},
		{"always 503", status(fasthttp.StatusServiceUnavailable), 0, 0, 4 * 4}, // 1 attempt + 3 retries each
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := startReceiver(t, nil, tc.handle)
			w := &syncWriter{}
			cfg := testConfig(r.url, w)
			s, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			enqueueFlushes(s, cfg.Pool, 2, 2, 10, 0)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			s.Close(ctx)
			st := s.Stats()
			if st.Status2xx != tc.want2xx || st.Status4xx != tc.want4xx || st.Status5xx != tc.want5xx {
				t.Errorf("status classes 2xx=%d 4xx=%d 5xx=%d, want %d %d %d", st.Status2xx, st.Status4xx, st.Status5xx, tc.want2xx, tc.want4xx, tc.want5xx)
			}
			if st.QueueBytes != 0 {
				t.Errorf("QueueBytes = %d after Close, want 0", st.QueueBytes)
			}
		})
	}
}
