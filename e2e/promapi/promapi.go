// Package promapi reads back what a remote-write receiver stored, through the Prometheus HTTP API
// that Prometheus and VictoriaMetrics both serve. It covers what the end-to-end tests and the
// demo report need (instant queries and series listings) and nothing more.
package promapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client queries one receiver. Its methods are safe for concurrent use.
type Client struct {
	base string
	http *http.Client
}

// New returns a Client for the receiver whose API is under base (e.g. http://127.0.0.1:9090).
func New(base string) *Client {
	return &Client{base: strings.TrimRight(base, "/"), http: &http.Client{Timeout: 10 * time.Second}}
}

// Sample is one element of an instant vector: a series' labels (with __name__ when the
// expression kept it) and its value at the query time.
type Sample struct {
	Metric map[string]string
	Value  float64
}

// Query evaluates expr as an instant query at time at. A scalar result comes back as a single
// Sample without labels; an empty vector as no samples and no error.
func (c *Client) Query(ctx context.Context, expr string, at time.Time) ([]Sample, error) {
	form := url.Values{"query": {expr}, "time": {formatTime(at)}}
	var data struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := c.Get(ctx, "/api/v1/query", form, &data); err != nil {
		return nil, fmt.Errorf("query %q: %w", expr, err)
	}
	switch data.ResultType {
	case "vector":
		var vec []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		}
		if err := json.Unmarshal(data.Result, &vec); err != nil {
			return nil, fmt.Errorf("query %q: decode vector: %w", expr, err)
		}
		out := make([]Sample, 0, len(vec))
		for _, s := range vec {
			v, err := parseValue(s.Value[1])
			if err != nil {
				return nil, fmt.Errorf("query %q: %w", expr, err)
			}
			out = append(out, Sample{Metric: s.Metric, Value: v})
		}
		return out, nil
	case "scalar":
		var sc [2]any
		if err := json.Unmarshal(data.Result, &sc); err != nil {
			return nil, fmt.Errorf("query %q: decode scalar: %w", expr, err)
		}
		v, err := parseValue(sc[1])
		if err != nil {
			return nil, fmt.Errorf("query %q: %w", expr, err)
		}
		return []Sample{{Metric: map[string]string{}, Value: v}}, nil
	default:
		return nil, fmt.Errorf("query %q: result type %q, want vector or scalar", expr, data.ResultType)
	}
}

// Series lists the label sets of the series that match selector and have samples between
// start and end.
func (c *Client) Series(ctx context.Context, selector string, start, end time.Time) ([]map[string]string, error) {
	form := url.Values{"match[]": {selector}, "start": {formatTime(start)}, "end": {formatTime(end)}}
	var data []map[string]string
	if err := c.Get(ctx, "/api/v1/series", form, &data); err != nil {
		return nil, fmt.Errorf("series %q: %w", selector, err)
	}
	return data, nil
}

// Get calls an API endpoint (e.g. /api/v1/query_range) and decodes the "data" member of a
// successful answer into data, for the queries Query and Series do not cover.
func (c *Client) Get(ctx context.Context, path string, form url.Values, data any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path+"?"+form.Encode(), nil)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("GET %s: read body: %w", path, err)
	}
	var env struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("GET %s: status %d, undecodable body %.200q: %w", path, resp.StatusCode, body, err)
	}
	if resp.StatusCode != http.StatusOK || env.Status != "success" {
		return fmt.Errorf("GET %s: status %d: %s", path, resp.StatusCode, env.Error)
	}
	if err := json.Unmarshal(env.Data, data); err != nil {
		return fmt.Errorf("GET %s: decode data: %w", path, err)
	}
	return nil
}

// formatTime writes t as the API's Unix seconds with millisecond precision.
func formatTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1e3, 'f', 3, 64)
}

// parseValue reads a sample value, which the API sends as a string ("1.5", "NaN", "+Inf").
func parseValue(v any) (float64, error) {
	s, ok := v.(string)
	if !ok {
		return 0, errors.New("sample value is not a string")
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("sample value %q: %w", s, err)
	}
	return f, nil
}
