package main

import (
	"slices"
	"testing"
)

func TestGCPercent(t *testing.T) {
	tests := []struct {
		name   string
		env    map[string]string
		want   int
		wantOK bool
	}{
		{"GOGC unset: penelopa's default", nil, defaultGCPercent, true},
		{"GOGC set: the user's choice stands", map[string]string{"GOGC": "100"}, 0, false},
		{"GOGC=off: the user's choice stands", map[string]string{"GOGC": "off"}, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := gcPercent(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("gcPercent = %d, %v; want %d, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestChildEnv(t *testing.T) {
	in := []string{
		"PATH=/usr/bin", "PENELOPA_PASSWORD=s3cret", "PENELOPA_BEARER_TOKEN=tok", "PENELOPA_HEADERS=X-Api-Key:k",
		"PENELOPA_USERNAME=u", "PENELOPA_TESTID=run-1", "K6_VUS=5", "PENELOPA_METRICS_URL=https://u:p@h/w",
	}
	want := []string{"PATH=/usr/bin", "PENELOPA_TESTID=run-1", "K6_VUS=5"}
	if got := childEnv(in); !slices.Equal(got, want) {
		t.Errorf("childEnv = %q, want %q", got, want)
	}
	plain := []string{"PENELOPA_METRICS_URL=https://h/w"}
	if got := childEnv(plain); !slices.Equal(got, plain) {
		t.Errorf("a URL without a login was taken out: %q", got)
	}
}
