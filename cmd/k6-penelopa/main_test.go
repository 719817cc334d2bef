package main

import "testing"

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
