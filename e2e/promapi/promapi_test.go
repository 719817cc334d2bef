package promapi

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"
)

func TestQuery(t *testing.T) {
	at := time.UnixMilli(1764072000123)
	cases := []struct {
		name    string
		status  int
		body    string
		want    []Sample
		wantErr bool
	}{
		{
			name: "vector",
			body: `{"status":"success","data":{"resultType":"vector","result":[` +
				`{"metric":{"__name__":"k6_x_total","my_tag":"x\"é✓"},"value":[1764072000.123,"42"]},` +
				`{"metric":{},"value":[1764072000.123,"+Inf"]}]}}`,
			want: []Sample{
				{Metric: map[string]string{"__name__": "k6_x_total", "my_tag": `x"é✓`}, Value: 42},
				{Metric: map[string]string{}, Value: math.Inf(1)},
			},
		},
		{
			name: "scalar",
			body: `{"status":"success","data":{"resultType":"scalar","result":[1764072000.123,"0.25"]}}`,
			want: []Sample{{Metric: map[string]string{}, Value: 0.25}},
		},
		{
			name: "empty vector",
			body: `{"status":"success","data":{"resultType":"vector","result":[]}}`,
			want: []Sample{},
		},
		{
			name:    "error answer",
			status:  http.StatusBadRequest,
			body:    `{"status":"error","errorType":"bad_data","error":"parse error"}`,
			wantErr: true,
		},
		{
			name:    "matrix is not supported",
			body:    `{"status":"success","data":{"resultType":"matrix","result":[]}}`,
			wantErr: true,
		},
		{
			name:    "not JSON",
			status:  http.StatusBadGateway,
			body:    `<html>bad gateway</html>`,
			wantErr: true,
		},
		{
			name:    "value not a number",
			body:    `{"status":"success","data":{"resultType":"scalar","result":[1,"abc"]}}`,
			wantErr: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/api/v1/query" || r.URL.Query().Get("query") != "up" || r.URL.Query().Get("time") != "1764072000.123" {
					http.Error(w, "unexpected request "+r.URL.String(), http.StatusTeapot)
					return
				}
				if tc.status != 0 {
					w.WriteHeader(tc.status)
				}
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			got, err := New(srv.URL+"/").Query(ctx, "up", at)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Query() error = %v, wantErr %v", err, tc.wantErr)
			}
			if !tc.wantErr && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Query() = %#v, want %#v", got, tc.want)
			}
		})
	}
}

func TestSeries(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.URL.Path != "/api/v1/series" || q.Get("match[]") != `{e2e_run="a"}` || q.Get("start") != "10.000" || q.Get("end") != "20.500" {
			http.Error(w, "unexpected request "+r.URL.String(), http.StatusTeapot)
			return
		}
		_, _ = w.Write([]byte(`{"status":"success","data":[{"__name__":"k6_a_total","e2e_run":"a"}]}`))
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := New(srv.URL).Series(ctx, `{e2e_run="a"}`, time.Unix(10, 0), time.UnixMilli(20500))
	if err != nil {
		t.Fatalf("Series() error = %v", err)
	}
	want := []map[string]string{{"__name__": "k6_a_total", "e2e_run": "a"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Series() = %v, want %v", got, want)
	}
}
