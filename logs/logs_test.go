package logs

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// at is the clock of every test line.
var at = time.Date(2026, 12, 2, 16, 20, 34, 0, time.UTC)

func TestFormats(t *testing.T) {
	const msg = "hi <x> & \"q\"\n\tnext"
	tests := []struct {
		name   string
		format Format
		level  Level
		want   string
	}{
		{"text", Text, Info, `time="2026-12-02T16:20:34Z" level=info msg="hi <x> & \"q\"\n\tnext" output=penelopa` + "\n"},
		// As k6 v1.8.1 writes a line with --log-format json (logrus's JSONFormatter): keys
		// sorted, HTML characters escaped.
		{"json", JSON, Warn, `{"level":"warning","msg":"hi \u003cx\u003e \u0026 \"q\"\n\tnext","output":"penelopa","time":"2026-12-02T16:20:34Z"}` + "\n"},
		{"raw", Raw, Error, msg + "\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			l := Sink{W: &b, Format: tc.format}.Logger(Debug)
			l.now = func() time.Time { return at }
			switch tc.level {
			case Info:
				l.Infof("%s", msg)
			case Warn:
				l.Warnf("%s", msg)
			default:
				l.Errorf("%s", msg)
			}
			if got := b.String(); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestJSONIsValid: every line is one JSON object, whatever the message holds.
func TestJSONIsValid(t *testing.T) {
	msgs := []string{"", "plain", "quote \" backslash \\ nul \x00 bell \x07", "invalid \xff utf-8", "line\nbreak", "\u2028 separators \u2029"}
	var b bytes.Buffer
	l := Sink{W: &b, Format: JSON}.Logger(Info)
	for _, m := range msgs {
		l.Infof("%s", m)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != len(msgs) {
		t.Fatalf("%d lines for %d messages: %q", len(lines), len(msgs), b.String())
	}
	for i, line := range lines {
		var got map[string]string
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("line %d %q: %v", i, line, err)
		}
		if got["level"] != "info" || got["output"] != "penelopa" || got["time"] == "" {
			t.Errorf("line %d: %v", i, got)
		}
		if want := strings.ToValidUTF8(msgs[i], "\uFFFD"); got["msg"] != want {
			t.Errorf("line %d: msg %q, want %q", i, got["msg"], want)
		}
	}
}

func TestFloor(t *testing.T) {
	tests := []struct {
		name         string
		level, floor Level
		want         []string // the messages written, of debug, info, warning, error
	}{
		{"no floor", Debug, Debug, []string{"debug", "info", "warning", "error"}},
		{"logger level above the floor", Info, Debug, []string{"info", "warning", "error"}},
		{"floor above the logger level", Info, Warn, []string{"warning", "error"}},
		{"floor at error", Debug, Error, []string{"error"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			l := Sink{W: &b, Format: Raw, Floor: tc.floor}.Logger(tc.level)
			l.Debugf("debug")
			l.Infof("info")
			l.Warnf("warning")
			l.Errorf("error")
			got := strings.Fields(b.String())
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("wrote %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{"json": JSON, "raw": Raw, "": Text, "text": Text, "JSON": Text, "bogus": Text} {
		if got := ParseFormat(in); got != want {
			t.Errorf("ParseFormat(%q) = %v, want %v", in, got, want)
		}
	}
}
