package penelopa

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"xk6-output-penelopa/logs"
	"xk6-output-penelopa/sender"
	"xk6-output-penelopa/series"
)

func envOf(kv map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := kv[k]; return v, ok }
}

// checkErr fails t unless err holds every fragment of want and none of notWant.
func checkErr(t *testing.T, err error, want, notWant []string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	for _, w := range notWant {
		if strings.Contains(err.Error(), w) {
			t.Errorf("error %q reveals %q", err, w)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	c, err := LoadConfig(ConfigSources{Hostname: "host-1"})
	if err != nil {
		t.Fatal(err)
	}
	if c.URL != "http://localhost:8428/api/v1/write" || c.PushInterval != 5*time.Second || c.Pod != "host-1" ||
		!reflect.DeepEqual(c.TrendStats, []string{"p(99)"}) || !c.StaleMarkers || c.BatchSize != 2000 || c.InsecureSkipTLSVerify {
		t.Errorf("unexpected defaults: %+v", c)
	}
	// The option table's defaults are the sender's, so the README states what runs.
	if c.QueueSize != sender.DefaultQueueSize || c.QueueBytes != sender.DefaultQueueBytes {
		t.Errorf("queue_size %d, queue_bytes %d; the sender's defaults are %d and %d", c.QueueSize, c.QueueBytes, sender.DefaultQueueSize, sender.DefaultQueueBytes)
	}
}

// TestConfigQueueBytes: the forms queue_bytes accepts, from each source.
func TestConfigQueueBytes(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "p.json")
	if err := os.WriteFile(file, []byte(`{"queue_bytes":268435456}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  map[string]string
		arg  string
		want int64
	}{
		{"MiB", map[string]string{"PENELOPA_QUEUE_BYTES": "64MiB"}, "", 64 << 20},
		{"plain bytes", map[string]string{"PENELOPA_QUEUE_BYTES": "1048576"}, "", 1 << 20},
		{"KiB in the argument", nil, "queue_bytes=1536KiB", 1536 << 10},
		{"GiB with a space and any case", map[string]string{"PENELOPA_QUEUE_BYTES": " 2 gib "}, "", 2 << 30},
		{"powers of 1000", nil, "queue_bytes=100MB", 100_000_000},
		{"B", nil, "queue_bytes=2000000B", 2_000_000},
		{"the largest", nil, "queue_bytes=64GiB", 64 << 30},
		{"a JSON number in the file", map[string]string{"PENELOPA_CONFIG": file}, "", 256 << 20},
		{"argument beats env", map[string]string{"PENELOPA_QUEUE_BYTES": "8MiB"}, "queue_bytes=16MiB", 16 << 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := LoadConfig(ConfigSources{Env: envOf(tc.env), Argument: tc.arg})
			if err != nil {
				t.Fatal(err)
			}
			if c.QueueBytes != tc.want {
				t.Errorf("queue_bytes = %d, want %d", c.QueueBytes, tc.want)
			}
		})
	}
}

func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "p.json")
	if err := os.WriteFile(file, []byte(`{"url":"http://file:1/w","push_interval":"7s","testid":"from-file","batch_size":500,"trend_stats":["p(95)","max"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"PENELOPA_CONFIG":                file,
		"PENELOPA_METRICS_PUSH_INTERVAL": "3s",
		"PENELOPA_TESTID":                "from-env",
		"PENELOPA_HEADERS":               "X-Scope-OrgID:tenant:a,X-Other:b",
	}
	c, err := LoadConfig(ConfigSources{Env: envOf(env), Argument: "testid=from-arg,labels=team=qa,env=ci", Hostname: "h"})
	if err != nil {
		t.Fatal(err)
	}
	if c.URL != "http://file:1/w" {
		t.Errorf("url from file lost: %q", c.URL)
	}
	if c.PushInterval != 3*time.Second {
		t.Errorf("env should beat file: %s", c.PushInterval)
	}
	if c.TestID != "from-arg" {
		t.Errorf("argument should beat env: %q", c.TestID)
	}
	if c.BatchSize != 500 || !reflect.DeepEqual(c.TrendStats, []string{"p(95)", "max"}) {
		t.Errorf("file values lost: %d %v", c.BatchSize, c.TrendStats)
	}
	wantH := [][2]string{{"X-Scope-OrgID", "tenant:a"}, {"X-Other", "b"}}
	if !reflect.DeepEqual(c.Headers, wantH) {
		t.Errorf("headers = %q, want %q", c.Headers, wantH)
	}
	wantL := []series.Label{{Name: "env", Value: "ci"}, {Name: "pod", Value: "h"}, {Name: "team", Value: "qa"}, {Name: "testid", Value: "from-arg"}}
	if got := c.ConstLabels(); !reflect.DeepEqual(got, wantL) {
		t.Errorf("const labels = %v, want %v", got, wantL)
	}
}

// TestConfigVerbose: k6's -v makes debug penelopa's default log level; a log_level set in the
// environment or the argument still decides.
func TestConfigVerbose(t *testing.T) {
	tests := []struct {
		name    string
		verbose bool
		env     map[string]string
		arg     string
		want    logs.Level
	}{
		{"default", false, nil, "http://h:1/w", logs.Info},
		{"-v", true, nil, "http://h:1/w", logs.Debug},
		{"-v, env warn", true, map[string]string{"PENELOPA_LOG_LEVEL": "warn"}, "http://h:1/w", logs.Warn},
		{"-v, argument error", true, nil, "url=http://h:1/w,log_level=error", logs.Error},
	}
	for _, tc := range tests {
		c, err := LoadConfig(ConfigSources{Env: envOf(tc.env), Argument: tc.arg, Verbose: tc.verbose})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if c.LogLevel != tc.want {
			t.Errorf("%s: log level %v, want %v", tc.name, c.LogLevel, tc.want)
		}
	}
}

// TestConfigArgumentURL: an argument that is a URL sets url, whatever the case of its scheme.
func TestConfigArgumentURL(t *testing.T) {
	tests := []struct{ arg, redacted string }{
		{"https://user:pw@mimir.example:443/api/v1/push", "https://mimir.example:443/api/v1/push"},
		{"HTTPS://user:s3cret@host/api", "https://host/api"},
		{"Http://host:8428/api/v1/write", "http://host:8428/api/v1/write"},
	}
	for _, tc := range tests {
		t.Run(tc.arg, func(t *testing.T) {
			c, err := LoadConfig(ConfigSources{Argument: tc.arg})
			if err != nil {
				t.Fatal(err)
			}
			if c.URL != tc.arg {
				t.Errorf("url = %q", c.URL)
			}
			if got := sender.RedactURL(c.URL); got != tc.redacted {
				t.Errorf("RedactURL = %q, want %q", got, tc.redacted)
			}
		})
	}
}

// TestConfigArgumentPairs: how key=value pairs in --out penelopa=ARG split, values with
// commas included.
func TestConfigArgumentPairs(t *testing.T) {
	tests := []struct {
		arg   string
		check func(Config) bool
	}{
		{"headers=X-A:1,X-B:2=3,testid=t", func(c Config) bool {
			return reflect.DeepEqual(c.Headers, [][2]string{{"X-A", "1"}, {"X-B", "2=3"}}) && c.TestID == "t"
		}},
		{"password=a b,c d,testid=t", func(c Config) bool { return c.Password == "a b,c d" && c.TestID == "t" }},
		{"labels=a=1,b=2,testid=t", func(c Config) bool {
			return reflect.DeepEqual(c.Labels, []series.Label{{Name: "a", Value: "1"}, {Name: "b", Value: "2"}}) && c.TestID == "t"
		}},
	}
	for _, tc := range tests {
		t.Run(tc.arg, func(t *testing.T) { checkLoaded(t, tc.arg, ConfigSources{Argument: tc.arg}, tc.check) })
	}
}

// checkLoaded loads the configuration from src and checks it, what naming the source.
func checkLoaded(t *testing.T, what string, src ConfigSources, check func(Config) bool) {
	t.Helper()
	c, err := LoadConfig(src)
	if err != nil {
		t.Fatal(err)
	}
	if !check(c) {
		t.Errorf("%s gave %+v", what, c)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		arg     string
		want    []string // every fragment must be in the error
		notWant []string // and none of these
	}{
		{"duration without unit", map[string]string{"PENELOPA_METRICS_PUSH_INTERVAL": "5"}, "",
			[]string{"push_interval", "PENELOPA_METRICS_PUSH_INTERVAL", `"5"`, "a duration with a unit"}, nil},
		{"unknown key in argument", nil, "bogus=1",
			[]string{`unknown key "bogus"`, "--out penelopa", "push_interval"}, nil},
		{"not a URL", nil, "url=ftp://x/y",
			[]string{"url", `"ftp://x/y"`, "an http:// or https:// URL"}, nil},
		{"not a URL, a token in its query", map[string]string{"PENELOPA_METRICS_URL": "ftp://h/w?api_key=s3cret"}, "",
			[]string{"url (PENELOPA_METRICS_URL)", "api_key=xxxxx", "an http:// or https:// URL"}, []string{"s3cret"}},
		{"URL without host", map[string]string{"PENELOPA_METRICS_URL": "http://"}, "",
			[]string{"url (PENELOPA_METRICS_URL)", `"http://"`}, nil},
		{"bad batch size", map[string]string{"PENELOPA_BATCH_SIZE": "0"}, "",
			[]string{"batch_size", `"0"`, "a whole number from 1 to 1000000"}, nil},
		{"bad bool", map[string]string{"PENELOPA_INSECURE_SKIP_TLS_VERIFY": "yes please"}, "",
			[]string{"insecure_skip_tls_verify", `"yes please"`, "true or false"}, nil},
		{"bad trend stat", map[string]string{"PENELOPA_TREND_STATS": "p(abc)"}, "",
			[]string{"trend_stats", `"p(abc)"`, "p(N)"}, nil},
		{"bad label name", nil, "labels=1bad=x",
			[]string{"labels", `"1bad=x"`, "[a-zA-Z_]"}, nil},
		{"labels sets pod", nil, "labels=pod=X",
			[]string{"labels (--out penelopa)", `"pod=X"`, "pod=", "PENELOPA_POD"}, nil},
		{"labels sets testid", map[string]string{"PENELOPA_LABELS": "team=a,testid=X"}, "",
			[]string{"labels (PENELOPA_LABELS)", "testid=", "PENELOPA_TESTID"}, nil},
		{"labels sets segment", nil, "labels=segment=1",
			[]string{"labels", "segment", "--execution-segment"}, nil},
		{"a label twice", nil, "labels=a=1,a=2",
			[]string{"labels (--out penelopa)", `"a=1,a=2"`, `"a"`, "more than once", "name=value pairs"}, nil},
		{"a label with an empty value", map[string]string{"PENELOPA_LABELS": "team="}, "",
			[]string{"labels (PENELOPA_LABELS)", `"team="`, "empty value", "name=value pairs"}, nil},
		{"a label name starting with __", nil, "labels=__name__=x",
			[]string{"labels", `"__name__=x"`, "__", "reserved"}, nil},
		{"a label name with a dash", nil, "labels=a-b=x",
			[]string{"labels", `"a-b=x"`, "[a-zA-Z_][a-zA-Z0-9_]*"}, nil},
		{"a header name that is not a token", nil, "headers=Bad(Name):s3cret",
			[]string{"headers (--out penelopa)", "(hidden)", "'('", "RFC 7230 token"}, []string{"s3cret", "Bad(Name)"}},
		{"a header name with a space", map[string]string{"PENELOPA_HEADERS": "X-A:1,X Token:s3cret"}, "",
			[]string{"headers (PENELOPA_HEADERS)", "header 2", "a space"}, []string{"s3cret"}},
		{"a header twice", nil, "headers=X-A:first,x-a:s3cret",
			[]string{"headers", "x-a", "more than once"}, []string{"s3cret", "first"}},
		{"header Content-Type is the protocol's", map[string]string{"PENELOPA_HEADERS": "X-A:1,content-type:s3cret"}, "",
			[]string{"headers (PENELOPA_HEADERS)", "Content-Type", "penelopa sets"}, []string{"s3cret"}},
		{"header Content-Encoding is the protocol's", map[string]string{"PENELOPA_HEADERS": "X-A:1,Content-Encoding:s3cret"}, "",
			[]string{"headers (PENELOPA_HEADERS)", "Content-Encoding", "penelopa sets"}, []string{"s3cret"}},
		{"header Content-Length is the protocol's", map[string]string{"PENELOPA_HEADERS": "X-A:1,CONTENT-LENGTH:s3cret"}, "",
			[]string{"headers (PENELOPA_HEADERS)", "Content-Length", "penelopa sets"}, []string{"s3cret"}},
		{"header X-Prometheus-Remote-Write-Version is the protocol's", map[string]string{"PENELOPA_HEADERS": "X-A:1,X-Prometheus-Remote-Write-Version:s3cret"}, "",
			[]string{"headers (PENELOPA_HEADERS)", "X-Prometheus-Remote-Write-Version", "penelopa sets"}, []string{"s3cret"}},
		{"header User-Agent is the protocol's", map[string]string{"PENELOPA_HEADERS": "X-A:1,user-agent:s3cret"}, "",
			[]string{"headers (PENELOPA_HEADERS)", "User-Agent", "penelopa sets"}, []string{"s3cret"}},
		{"header Host is the protocol's", map[string]string{"PENELOPA_HEADERS": "X-A:1,Host:s3cret"}, "",
			[]string{"headers (PENELOPA_HEADERS)", "Host", "penelopa sets"}, []string{"s3cret"}},
		{"malformed header hides its value", map[string]string{"PENELOPA_HEADERS": "Authorization Bearer s3cret"}, "",
			[]string{"headers (PENELOPA_HEADERS)", "(hidden)", "name:value"}, []string{"s3cret"}},
		{"bearer and basic", map[string]string{"PENELOPA_BEARER_TOKEN": "tok3n", "PENELOPA_USERNAME": "u"}, "",
			[]string{"bearer_token", "username"}, []string{"tok3n"}},
		{"argument neither URL nor pairs", nil, "just-words",
			[]string{"--out penelopa", "no '='", "expected a URL or key=value pairs"}, []string{"just-words"}},
		{"URL without its colon hides the password", nil, "https//user:s3cret@host",
			[]string{"--out penelopa", "http:// or https://"}, []string{"s3cret", "user"}},
		{"first item not a pair hides a URL after it", nil, "x,url=https://user:s3cret@h/x",
			[]string{"--out penelopa", "expected a URL or key=value pairs"}, []string{"s3cret"}},
		{"a header as the argument hides its value", nil, "Authorization:Bearer s3cret",
			[]string{"--out penelopa", "headers=name:value"}, []string{"s3cret", "Bearer"}},
		{"a key that is not a key hides its value", nil, "X-Token=s3cret",
			[]string{"--out penelopa", "key"}, []string{"s3cret"}},
		{"unknown key after a secret is not named", nil, "password=Xy,Secr3t=zz",
			[]string{"unknown key after password=", "--out penelopa", "PENELOPA_CONFIG", "PENELOPA_PASSWORD"}, []string{"Secr3t", "Xy", "zz"}},
		{"unknown key after headers is not named", nil, "headers=X-Scope-OrgID:a,Secr3t=zz",
			[]string{"unknown key after headers=", "--out penelopa"}, []string{"Secr3t", "zz"}},
		{"unknown key after a non-secret is named", nil, "testid=t,bogus=1",
			[]string{`unknown key "bogus"`}, nil},
		{"an invalid value after a secret is hidden", nil, "password=Xy,batch_size=s3cret",
			[]string{"batch_size (--out penelopa, after password=", "(hidden)", "a whole number"}, []string{"s3cret", "Xy"}},
		{"an invalid URL after a secret is hidden", nil, "bearer_token=Xy,url=s3cret",
			[]string{"url (--out penelopa, after bearer_token=", "(hidden)"}, []string{"s3cret"}},
		{"a key twice in the argument", nil, "url=https://h/x,url=http://other/y",
			[]string{"url", "more than once", "--out penelopa"}, nil},
		{"a secret key twice in the argument", nil, "password=first,password=s3cret",
			[]string{"password", "more than once"}, []string{"s3cret", "first"}},
		{"a URL of another scheme is the url, without its password", nil, "ftp://user:s3cret@h/x",
			[]string{"url (--out penelopa=URL)", "an http:// or https:// URL"}, []string{"s3cret"}},
		{"an invalid URL with an uppercase scheme hides its password", nil, "HTTP://u:s3cret@127.0.0.1:9x/w",
			[]string{"url (--out penelopa=URL)", "127.0.0.1:9x"}, []string{"s3cret"}},
		{"invalid URL hides its password", map[string]string{"PENELOPA_METRICS_URL": "htps://u:pw-S3cr3t@127.0.0.1:9/api/v1/write"}, "",
			[]string{"url (PENELOPA_METRICS_URL)", "127.0.0.1:9"}, []string{"S3cr3t", "u:pw"}},
		{"invalid URL argument hides its password", nil, "http://u:pw-S3cr3t@127.0.0.1:9x/api/v1/write",
			[]string{"url", "an http:// or https:// URL"}, []string{"S3cr3t"}},
		{"queue_bytes garbage", map[string]string{"PENELOPA_QUEUE_BYTES": "lots"}, "",
			[]string{"queue_bytes (PENELOPA_QUEUE_BYTES)", `"lots"`, "a size from 1MiB to 64GiB", "e.g. 64MiB"}, nil},
		{"queue_bytes unknown unit", nil, "queue_bytes=64M",
			[]string{"queue_bytes (--out penelopa)", `"64M"`, "KiB, MiB, GiB"}, nil},
		{"queue_bytes fraction", map[string]string{"PENELOPA_QUEUE_BYTES": "1.5GiB"}, "",
			[]string{"queue_bytes", `"1.5GiB"`, "a whole number"}, nil},
		{"queue_bytes negative", map[string]string{"PENELOPA_QUEUE_BYTES": "-64MiB"}, "",
			[]string{"queue_bytes", `"-64MiB"`, "a size from 1MiB"}, nil},
		{"queue_bytes below 1MiB", map[string]string{"PENELOPA_QUEUE_BYTES": "512KiB"}, "",
			[]string{"queue_bytes", `"512KiB"`, "from 1MiB to 64GiB"}, nil},
		{"queue_bytes above 64GiB", nil, "queue_bytes=65GiB",
			[]string{"queue_bytes", `"65GiB"`, "from 1MiB to 64GiB"}, nil},
		{"queue_bytes overflowing", map[string]string{"PENELOPA_QUEUE_BYTES": "99999999999999999999GiB"}, "",
			[]string{"queue_bytes", `"99999999999999999999GiB"`}, nil},
		{"queue_bytes overflowing after the unit", map[string]string{"PENELOPA_QUEUE_BYTES": "9000000000000GiB"}, "",
			[]string{"queue_bytes", `"9000000000000GiB"`}, nil},
		{"queue_bytes empty", map[string]string{"PENELOPA_QUEUE_BYTES": ""}, "",
			[]string{"queue_bytes", `""`}, nil},
		{"queue_size over its range", map[string]string{"PENELOPA_QUEUE_SIZE": "100001"}, "",
			[]string{"queue_size", `"100001"`, "a whole number from 1 to 100000"}, nil},
		{"bad log level", map[string]string{"PENELOPA_LOG_LEVEL": "loud"}, "",
			[]string{"log_level", `"loud"`, "debug, info, warn or error"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadConfig(ConfigSources{Env: envOf(tc.env), Argument: tc.arg})
			checkErr(t, err, tc.want, tc.notWant)
		})
	}
}

func TestConfigFileErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	unknown := filepath.Join(dir, "unknown.json")
	_ = os.WriteFile(bad, []byte(`[1,2]`), 0o600)
	_ = os.WriteFile(unknown, []byte(`{"urll":"http://x"}`), 0o600)
	tests := []struct{ path, want string }{
		{bad, "not a JSON object"},
		{unknown, `unknown key "urll"`},
		{filepath.Join(dir, "missing.json"), "reading PENELOPA_CONFIG"},
	}
	for _, tc := range tests {
		_, err := LoadConfig(ConfigSources{Env: envOf(map[string]string{"PENELOPA_CONFIG": tc.path})})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.path, err, tc.want)
		}
	}
}

func TestEveryOptionHasEnvFormAndMeaning(t *testing.T) {
	seen := map[string]bool{}
	for _, o := range Options() {
		if o.Key == "" || !strings.HasPrefix(o.Env, "PENELOPA_") || o.Form == "" || o.Meaning == "" || o.set == nil {
			t.Errorf("option %+v is incomplete", o)
		}
		if seen[o.Key] || seen[o.Env] {
			t.Errorf("duplicate option %s", o.Key)
		}
		seen[o.Key], seen[o.Env] = true, true
	}
}

// TestConfigFileValues: values in PENELOPA_CONFIG keep their text, numbers included.
func TestConfigFileValues(t *testing.T) {
	tests := []struct {
		name, json string
		check      func(Config) bool
	}{
		{"a 20-digit numeric testid keeps every digit", `{"testid": 12345678901234567890}`,
			func(c Config) bool { return c.TestID == "12345678901234567890" }},
		{"a long numeric pod keeps every digit", `{"pod": 9007199254740993}`,
			func(c Config) bool { return c.Pod == "9007199254740993" }},
		{"a whole number", `{"batch_size": 500}`, func(c Config) bool { return c.BatchSize == 500 }},
		{"a negative number", `{"histogram_schema": -2}`, func(c Config) bool { return c.HistogramSchema == -2 }},
		{"a list of strings", `{"drop_labels": ["url", "error"]}`,
			func(c Config) bool { return reflect.DeepEqual(c.DropLabels, []string{"url", "error"}) }},
		{"a bool", `{"fail_on_drop": true}`, func(c Config) bool { return c.FailOnDrop }},
	}
	dir := t.TempDir()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(dir, "p.json")
			if err := os.WriteFile(file, []byte(tc.json), 0o600); err != nil {
				t.Fatal(err)
			}
			checkLoaded(t, tc.json, ConfigSources{Env: envOf(map[string]string{"PENELOPA_CONFIG": file})}, tc.check)
		})
	}
}

// TestConfigFileValueErrors: a value of the wrong JSON type in PENELOPA_CONFIG is reported by
// its type, never echoed when the key is secret.
func TestConfigFileValueErrors(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		want    []string // every fragment must be in the error
		notWant []string // and none of these
	}{
		{"headers as an object", `{"headers": {"Authorization": "Bearer s3cret"}}`,
			[]string{"headers", "p.json", "got an object", "(hidden)", "name:value"}, []string{"s3cret", "Bearer", "Authorization"}},
		{"password as an object", `{"password": {"v": "s3cret"}}`,
			[]string{"password", "got an object"}, []string{"s3cret"}},
		{"bearer_token as a list of numbers", `{"bearer_token": ["s3cret", 1]}`,
			[]string{"bearer_token", "a list may hold only strings", "a number"}, []string{"s3cret"}},
		{"password as null", `{"password": null}`,
			[]string{"password", "got null"}, nil},
		{"url object hides its password", `{"url": {"u": "https://u:s3cret@h/x"}}`,
			[]string{"url", "got an object"}, []string{"s3cret"}},
		{"a short non-secret value is shown", `{"batch_size": {"n": 1}}`,
			[]string{"batch_size", "got an object", `{"n":1}`, "a whole number"}, nil},
		{"a key twice", `{"url": "http://a:1/x", "url": "http://b:1/y"}`,
			[]string{"url", "more than once", "p.json"}, nil},
		{"a secret key twice", `{"password": "first", "password": "s3cret"}`,
			[]string{"password", "more than once"}, []string{"s3cret", "first"}},
		{"data after the object", `{"testid": "a"} {"testid": "b"}`,
			[]string{"PENELOPA_CONFIG", "after the object"}, nil},
	}
	dir := t.TempDir()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(dir, "p.json")
			if err := os.WriteFile(file, []byte(tc.json), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadConfig(ConfigSources{Env: envOf(map[string]string{"PENELOPA_CONFIG": file})})
			checkErr(t, err, tc.want, tc.notWant)
		})
	}
}

// TestConfigStopTimeoutZero: stop_timeout=0 is accepted and documented as no limit of its own
// (Output.Stop then waits for the caller's context alone).
func TestConfigStopTimeoutZero(t *testing.T) {
	tests := []struct {
		env  map[string]string
		arg  string
		want time.Duration
	}{
		{nil, "stop_timeout=0", 0},
		{map[string]string{"PENELOPA_STOP_TIMEOUT": "0s"}, "", 0},
		{nil, "stop_timeout=45s", 45 * time.Second},
	}
	for _, tc := range tests {
		c, err := LoadConfig(ConfigSources{Env: envOf(tc.env), Argument: tc.arg})
		if err != nil {
			t.Fatalf("%v %q: %v", tc.env, tc.arg, err)
		}
		if c.StopTimeout != tc.want {
			t.Errorf("%v %q: stop_timeout = %s, want %s", tc.env, tc.arg, c.StopTimeout, tc.want)
		}
	}
	for _, o := range Options() {
		if o.Key == "stop_timeout" && (!strings.Contains(o.Form, "0 for no limit") || !strings.Contains(o.Meaning, "0 for no limit")) {
			t.Errorf("stop_timeout's form %q and meaning %q should say 0 is no limit", o.Form, o.Meaning)
		}
	}
}

// environOf lists kv as os.Environ would.
func environOf(kv map[string]string) func() []string {
	return func() []string {
		var out []string
		for k, v := range kv {
			out = append(out, k+"="+v)
		}
		return out
	}
}

// TestConfigUnknownEnvWarnings: a PENELOPA_* variable that is no setting is a warning (never
// an error), naming the closest setting when one is close, and never the value.
func TestConfigUnknownEnvWarnings(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    []string // one entry per warning: a fragment it must hold
		notWant []string // in no warning
	}{
		{"url, the key, means PENELOPA_METRICS_URL", map[string]string{"PENELOPA_URL": "http://u:s3cret@h:1/x"},
			[]string{"PENELOPA_URL is not a penelopa setting and is ignored; did you mean PENELOPA_METRICS_URL?"}, []string{"s3cret", "http"}},
		{"a typo", map[string]string{"PENELOPA_TEST_ID": "run-1"}, []string{"did you mean PENELOPA_TESTID?"}, []string{"run-1"}},
		{"the end of one setting", map[string]string{"PENELOPA_TOKEN": "s3cret"}, []string{"did you mean PENELOPA_BEARER_TOKEN?"}, []string{"s3cret"}},
		{"the key of a setting whose variable differs", map[string]string{"PENELOPA_PUSH_INTERVAL": "1s"}, []string{"did you mean PENELOPA_METRICS_PUSH_INTERVAL?"}, nil},
		{"a longer typo", map[string]string{"PENELOPA_INSECURE_SKIP_VERIFY": "true"}, []string{"did you mean PENELOPA_INSECURE_SKIP_TLS_VERIFY?"}, nil},
		{"lower case", map[string]string{"penelopa_testid": "x"}, []string{"penelopa_testid is not a penelopa setting and is ignored; did you mean PENELOPA_TESTID?"}, nil},
		{"nothing close", map[string]string{"PENELOPA_SOMETHING_ELSE": "x"}, []string{"README"}, []string{"did you mean"}},
		{"two, in name order", map[string]string{"PENELOPA_ZZZ": "1", "PENELOPA_AAA": "2"}, []string{"PENELOPA_AAA", "PENELOPA_ZZZ"}, nil},
		{"the project's own variables", map[string]string{"PENELOPA_BIN": "/x", "PENELOPA_COMPARE": "1", "PENELOPA_E2E_OUTPUT": "builtin", "PENELOPA_CONFIG": ""}, nil, nil},
		{"settings", map[string]string{"PENELOPA_METRICS_URL": "http://h:1/x", "PENELOPA_TESTID": "t"}, nil, nil},
		{"other variables", map[string]string{"K6_OUT": "json", "XPENELOPA_URL": "x", "PENELOPA": "x"}, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := LoadConfig(ConfigSources{Env: envOf(tc.env), Environ: environOf(tc.env)})
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Warnings) != len(tc.want) {
				t.Fatalf("warnings %q, want %d", c.Warnings, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(c.Warnings[i], w) {
					t.Errorf("warning %q lacks %q", c.Warnings[i], w)
				}
			}
			for _, w := range c.Warnings {
				for _, nw := range tc.notWant {
					if strings.Contains(w, nw) {
						t.Errorf("warning %q reveals %q", w, nw)
					}
				}
			}
		})
	}
}

// TestConfigUnknownEnvWarningsEnviron: without Environ the process environment is listed, but
// only the names Env reports set count.
func TestConfigUnknownEnvWarningsEnviron(t *testing.T) {
	t.Setenv("PENELOPA_URLL", "x")
	c, err := LoadConfig(ConfigSources{Env: os.LookupEnv})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "PENELOPA_URLL is not a penelopa setting and is ignored; did you mean PENELOPA_METRICS_URL?") {
		t.Errorf("warnings %q, want one about PENELOPA_URLL", c.Warnings)
	}
	c, err = LoadConfig(ConfigSources{Env: envOf(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("warnings %q about variables the Env does not hold", c.Warnings)
	}
}
