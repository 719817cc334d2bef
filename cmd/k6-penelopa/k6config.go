package main

import (
	"encoding/json"
	"os"
	"path/filepath"
)

// k6Config is what the launcher reads of k6's JSON config file, the settings it needs before
// k6 starts: the outputs (which may name ours) and the execution segment (a label of ours).
type k6Config struct {
	Out              []string `json:"out"`
	ExecutionSegment string   `json:"executionSegment"`
}

// readK6Config reads the config file k6 will read: --config/-c (before or after run), else
// K6_CONFIG, else k6's default, config.json in the user's config folder under k6. A missing or
// unreadable file reads as empty: k6 itself reports a file it was told to read and cannot.
func readK6Config(args []string, env func(string) (string, bool)) k6Config {
	path := flagValue(args, env, "--config", "K6_CONFIG")
	if path == "" {
		dir, err := os.UserConfigDir()
		if err != nil {
			return k6Config{}
		}
		path = filepath.Join(dir, "k6", "config.json")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return k6Config{}
	}
	var c k6Config
	if json.Unmarshal(data, &c) != nil {
		return k6Config{}
	}
	return c
}
