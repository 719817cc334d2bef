package penelopa

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"

	"xk6-output-penelopa/logs"
	"xk6-output-penelopa/sender"
	"xk6-output-penelopa/series"
)

// Config is penelopa's complete, validated configuration.
type Config struct {
	URL                   string
	PushInterval          time.Duration
	TestID                string
	Pod                   string
	BatchSize             int
	InsecureSkipTLSVerify bool
	TLSCAFile             string
	TLSCertFile           string
	TLSKeyFile            string
	TLSMinVersion         string
	Headers               [][2]string
	Username              string
	Password              string
	BearerToken           string
	TrendStats            []string
	Labels                []series.Label
	DropLabels            []string
	SeriesTTL             time.Duration
	StaleMarkers          bool
	ReuseRequests         bool
	Timeout               time.Duration
	StopTimeout           time.Duration
	QueueSize             int
	QueueBytes            int64
	Concurrency           int
	MaxRetries            int
	FailOnDrop            bool
	SelfMetrics           bool
	Protocol              int
	DashboardURL          string
	NativeHistograms      bool
	HistogramSchema       int
	// Segment is k6's execution segment when the test is split across instances (not an
	// option: the launcher reads it from k6's own flags).
	Segment  string
	LogLevel logs.Level
	// Warnings are problems that do not stop the run, such as a PENELOPA_* variable that is no
	// setting, for the caller to log at level=warn. They never hold a value.
	Warnings []string
}

// Option describes one configuration key, so parsing, errors and the README table agree.
type Option struct {
	Key     string // key in the config file and in --out penelopa=key=value
	Env     string // environment variable
	Default string // default as the user would write it
	Form    string // the expected form, quoted in error messages
	Secret  bool   // never echoed in errors or logs
	// Show renders a rejected value in an error message; nil quotes it whole.
	Show    func(string) string
	Meaning string // one line for the README
	set     func(c *Config, v string) error
}

// errForm is returned by setters when a value does not have the option's form.
var errForm = errors.New("malformed")

// Options lists every configuration key in the order the README documents them.
func Options() []Option {
	return []Option{
		{Key: "url", Env: "PENELOPA_METRICS_URL", Default: "http://localhost:8428/api/v1/write",
			Form: "an http:// or https:// URL", Meaning: "remote-write endpoint; user:password@ in it is used as basic auth and never printed",
			Show: showURL,
			set: func(c *Config, v string) error {
				if !isHTTPURL(v) {
					return errForm
				}
				c.URL = v
				return nil
			}},
		{Key: "push_interval", Env: "PENELOPA_METRICS_PUSH_INTERVAL", Default: "5s",
			Form: "a duration with a unit, at least 100ms, e.g. 5s or 500ms", Meaning: "how often the aggregates are flushed to the endpoint",
			set: durationSetter(func(c *Config) *time.Duration { return &c.PushInterval }, 100*time.Millisecond)},
		{Key: "testid", Env: "PENELOPA_TESTID", Default: "",
			Form: "any string", Meaning: "`testid` label on every series, to tell test runs apart",
			set: func(c *Config, v string) error { c.TestID = v; return nil }},
		{Key: "pod", Env: "PENELOPA_POD", Default: "(hostname)",
			Form: "any string", Meaning: "`pod` label on every series, to tell k6 instances apart",
			set: func(c *Config, v string) error { c.Pod = v; return nil }},
		// A flush keeps one batch of samples and the request encoded and compressed from it
		// (about 400 bytes a sample together), so the batch size is resident memory: 2,000
		// (Prometheus' own max_samples_per_send) keeps it under 1 MiB where 10,000 took 5.
		{Key: "batch_size", Env: "PENELOPA_BATCH_SIZE", Default: "2000",
			Form: "a whole number from 1 to 1000000", Meaning: "samples per remote-write request at most",
			set: intSetter(func(c *Config) *int { return &c.BatchSize }, 1, 1_000_000)},
		{Key: "insecure_skip_tls_verify", Env: "PENELOPA_INSECURE_SKIP_TLS_VERIFY", Default: "false",
			Form: "true or false", Meaning: "skip TLS certificate verification (off unless you turn it on)",
			set: boolSetter(func(c *Config) *bool { return &c.InsecureSkipTLSVerify })},
		{Key: "tls_ca_file", Env: "PENELOPA_TLS_CA_FILE", Default: "",
			Form: "a path to a PEM file", Meaning: "CA certificates to verify the endpoint with, instead of the system's",
			set: fileSetter(func(c *Config) *string { return &c.TLSCAFile })},
		{Key: "tls_cert_file", Env: "PENELOPA_TLS_CERT_FILE", Default: "",
			Form: "a path to a PEM file", Meaning: "client certificate (with `tls_key_file`) for mutual TLS",
			set: fileSetter(func(c *Config) *string { return &c.TLSCertFile })},
		{Key: "tls_key_file", Env: "PENELOPA_TLS_KEY_FILE", Default: "",
			Form: "a path to a PEM file", Meaning: "client certificate's private key",
			set: fileSetter(func(c *Config) *string { return &c.TLSKeyFile })},
		{Key: "tls_min_version", Env: "PENELOPA_TLS_MIN_VERSION", Default: "1.2",
			Form: "1.2 or 1.3", Meaning: "lowest TLS version accepted",
			set: func(c *Config, v string) error {
				if v != "1.2" && v != "1.3" {
					return errForm
				}
				c.TLSMinVersion = v
				return nil
			}},
		{Key: "headers", Env: "PENELOPA_HEADERS", Default: "",
			Form: "name:value pairs separated by commas, e.g. X-Scope-OrgID:team-a,X-Env:ci, each name an RFC 7230 token given once", Secret: true,
			Meaning: "extra HTTP headers on every request (values are never printed); not those the protocol needs, which penelopa sets: " + strings.Join(protocolHeaders, ", "),
			set: func(c *Config, v string) error {
				h, err := parseHeaders(v)
				if err != nil {
					return err
				}
				c.Headers = h
				return nil
			}},
		{Key: "username", Env: "PENELOPA_USERNAME", Default: "", Form: "any string", Secret: true,
			Meaning: "basic auth user", set: func(c *Config, v string) error { c.Username = v; return nil }},
		{Key: "password", Env: "PENELOPA_PASSWORD", Default: "", Form: "any string", Secret: true,
			Meaning: "basic auth password", set: func(c *Config, v string) error { c.Password = v; return nil }},
		{Key: "bearer_token", Env: "PENELOPA_BEARER_TOKEN", Default: "", Form: "any string", Secret: true,
			Meaning: "`Authorization: Bearer` token", set: func(c *Config, v string) error { c.BearerToken = v; return nil }},
		{Key: "trend_stats", Env: "PENELOPA_TREND_STATS", Default: "p(99)",
			Form:    "comma-separated stats: count, sum, min, max, avg, med, p(N)",
			Meaning: "stats sent for every Trend, as `k6_<name>_<stat>`",
			set: func(c *Config, v string) error {
				stats := splitList(v)
				if len(stats) == 0 {
					return errForm
				}
				if err := series.ParseTrendStats(stats); err != nil {
					return err
				}
				c.TrendStats = stats
				return nil
			}},
		{Key: "trend_as_native_histogram", Env: "PENELOPA_TREND_AS_NATIVE_HISTOGRAM", Default: "false",
			Form: "true or false", Meaning: "send each Trend as one native histogram `k6_<name>_seconds` (time), `k6_<name>_bytes` (data) or `k6_<name>` instead of stats",
			set: boolSetter(func(c *Config) *bool { return &c.NativeHistograms })},
		{Key: "histogram_schema", Env: "PENELOPA_HISTOGRAM_SCHEMA", Default: "5",
			Form: "a whole number from -4 to 8", Meaning: "native-histogram resolution: buckets grow by 2^(2^-schema); 5 gives 2.19 % wide buckets, 3 is k6's factor 1.1",
			set: intSetter(func(c *Config) *int { return &c.HistogramSchema }, -4, 8)},
		{Key: "protocol", Env: "PENELOPA_PROTOCOL", Default: "1",
			Form: "1 or 2", Meaning: "remote-write version; 2 is used once the receiver proves it speaks it, else 1.0 (and the log says so)",
			set: intSetter(func(c *Config) *int { return &c.Protocol }, 1, 2)},
		{Key: "labels", Env: "PENELOPA_LABELS", Default: "",
			Form:    "name=value pairs separated by commas, names matching [a-zA-Z_][a-zA-Z0-9_]* and not starting with __, each name once, no empty value",
			Meaning: "static labels added to every series (not `testid`, `pod` or `segment`, which are set their own way)",
			set: func(c *Config, v string) error {
				l, err := parseLabels(v)
				if err != nil {
					return err
				}
				c.Labels = l
				return nil
			}},
		{Key: "drop_labels", Env: "PENELOPA_DROP_LABELS", Default: "",
			Form: "comma-separated tag names, e.g. url,error", Meaning: "k6 tags not sent as labels; series that differed only by them are merged",
			set: func(c *Config, v string) error { c.DropLabels = splitList(v); return nil }},
		{Key: "series_ttl", Env: "PENELOPA_SERIES_TTL", Default: "5m",
			Form: "a duration with a unit, 0 for never", Meaning: "a series idle this long gets a staleness marker and is forgotten",
			set: durationSetter(func(c *Config) *time.Duration { return &c.SeriesTTL }, 0)},
		{Key: "stale_markers", Env: "PENELOPA_STALE_MARKERS", Default: "true",
			Form: "true or false", Meaning: "mark every series stale at the end of the test",
			set: boolSetter(func(c *Config) *bool { return &c.StaleMarkers })},
		{Key: "reuse_requests", Env: "PENELOPA_REUSE_REQUESTS", Default: "false",
			Form: "true or false", Meaning: "resend a steady flush's requests as the last flush's with the new values written in: less CPU, more memory and bytes",
			set: boolSetter(func(c *Config) *bool { return &c.ReuseRequests })},
		{Key: "timeout", Env: "PENELOPA_TIMEOUT", Default: "10s",
			Form: "a duration with a unit, at least 100ms", Meaning: "time limit of one HTTP request",
			set: durationSetter(func(c *Config) *time.Duration { return &c.Timeout }, 100*time.Millisecond)},
		{Key: "stop_timeout", Env: "PENELOPA_STOP_TIMEOUT", Default: "30s",
			Form:    "a duration with a unit, or 0 for no limit",
			Meaning: "how long the end of the test may wait to deliver what is queued; 0 for no limit: until all is delivered or out of retries (Ctrl-C still ends it)",
			set:     durationSetter(func(c *Config) *time.Duration { return &c.StopTimeout }, 0)},
		// Bodies of batch_size samples are ~16 KiB compressed: 16,384 of them pass queue_bytes
		// first, so the count stays a backstop (the ring's pages are touched only when used).
		{Key: "queue_size", Env: "PENELOPA_QUEUE_SIZE", Default: "16384",
			Form: "a whole number from 1 to 100000", Meaning: "requests waiting to be sent at most (a backstop: `queue_bytes` normally applies first); when full the oldest are dropped and counted",
			set: intSetter(func(c *Config) *int { return &c.QueueSize }, 1, 100_000)},
		{Key: "queue_bytes", Env: "PENELOPA_QUEUE_BYTES", Default: "64MiB",
			Form:    "a size from 1MiB to 64GiB: a whole number of bytes, or with a unit KiB, MiB, GiB (or KB, MB, GB, powers of 1000), e.g. 64MiB, 1536KiB or 1GiB",
			Meaning: "compressed bytes waiting to be sent at most, which bounds memory when the receiver is slow or down; to make room the oldest requests are dropped and counted",
			set:     sizeSetter(func(c *Config) *int64 { return &c.QueueBytes }, 1<<20, 64<<30)},
		{Key: "concurrency", Env: "PENELOPA_CONCURRENCY", Default: "4",
			Form: "a whole number from 1 to 256", Meaning: "requests in flight at once",
			set: intSetter(func(c *Config) *int { return &c.Concurrency }, 1, 256)},
		{Key: "max_retries", Env: "PENELOPA_MAX_RETRIES", Default: "5",
			Form: "a whole number from 0 to 100", Meaning: "retries of one request on network errors, 5xx and 429",
			set: intSetter(func(c *Config) *int { return &c.MaxRetries }, 0, 100)},
		{Key: "fail_on_drop", Env: "PENELOPA_FAIL_ON_DROP", Default: "false",
			Form: "true or false", Meaning: "exit non-zero (113) when k6 passed but samples were dropped or lines of its stream could not be read",
			set: boolSetter(func(c *Config) *bool { return &c.FailOnDrop })},
		{Key: "self_metrics", Env: "PENELOPA_SELF_METRICS", Default: "true",
			Form: "true or false", Meaning: "send penelopa's own health series (`penelopa_*`, listed below) with the data",
			set: boolSetter(func(c *Config) *bool { return &c.SelfMetrics })},
		{Key: "dashboard_url", Env: "PENELOPA_DASHBOARD_URL", Default: "",
			Form:    "an http:// or https:// URL of the imported dashboard, e.g. https://grafana/d/penelopa",
			Meaning: "at the end of a run, print a link to this dashboard with the run's testid and time range",
			Show:    showURL,
			set: func(c *Config, v string) error {
				if !isHTTPURL(v) {
					return errForm
				}
				c.DashboardURL = v
				return nil
			}},
		{Key: "log_level", Env: "PENELOPA_LOG_LEVEL", Default: "info",
			Form: "debug, info, warn or error", Meaning: "penelopa's log level (debug under k6's -v, unless set); debug logs every request",
			set: func(c *Config, v string) error {
				l, err := logs.ParseLevel(v)
				if err != nil {
					return errForm
				}
				c.LogLevel = l
				return nil
			}},
	}
}

// ConfigSources are the places configuration comes from, lowest precedence first.
type ConfigSources struct {
	// Env looks up an environment variable; nil means none are set.
	Env func(string) (string, bool)
	// Environ lists the environment as KEY=VALUE strings, for the warnings about PENELOPA_*
	// names that are no setting; nil means os.Environ. Only the names Env reports set count,
	// so a test's Env is not mixed with the process environment.
	Environ func() []string
	// Argument is ARG of --out penelopa=ARG: a URL, or key=value pairs separated by commas.
	Argument string
	// Hostname is the default pod label.
	Hostname string
	// Verbose makes debug the default log_level (k6's -v), which a set log_level overrides.
	Verbose bool
}

// LoadConfig merges defaults < PENELOPA_CONFIG file < environment < argument and validates the result.
func LoadConfig(src ConfigSources) (Config, error) {
	opts := Options()
	byKey := make(map[string]*Option, len(opts))
	for i := range opts {
		byKey[opts[i].Key] = &opts[i]
	}
	var c Config
	for _, o := range opts {
		if o.Default == "" || strings.HasPrefix(o.Default, "(") {
			continue
		}
		if err := o.set(&c, o.Default); err != nil {
			return Config{}, fmt.Errorf("default of %s: %w", o.Key, err) // a bug, not user input
		}
	}
	c.Pod = src.Hostname
	if src.Verbose {
		c.LogLevel = logs.Debug
	}
	env := src.Env
	if env == nil {
		env = func(string) (string, bool) { return "", false }
	}

	if path, ok := env("PENELOPA_CONFIG"); ok && path != "" {
		if err := applyFile(&c, byKey, path); err != nil {
			return Config{}, err
		}
	}
	for _, o := range opts {
		if v, ok := env(o.Env); ok {
			if err := apply(&c, &o, v, o.Env); err != nil {
				return Config{}, err
			}
		}
	}
	if err := applyArgument(&c, byKey, src.Argument); err != nil {
		return Config{}, err
	}
	environ := src.Environ
	if environ == nil {
		environ = os.Environ
	}
	c.Warnings = append(c.Warnings, unknownEnvWarnings(opts, environ(), env)...)
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return Config{}, errors.New("config: tls_cert_file and tls_key_file go together: set both or neither")
	}
	if c.BearerToken != "" && (c.Username != "" || c.Password != "") {
		return Config{}, errors.New("config: bearer_token and username/password are both set: choose one way to authenticate")
	}
	return c, nil
}

func apply(c *Config, o *Option, v, where string) error {
	if err := o.set(c, strings.TrimSpace(v)); err != nil {
		shown := strconv.Quote(v)
		switch {
		case o.Secret:
			shown = "(hidden)"
		case o.Show != nil:
			shown = o.Show(v)
		}
		detail := ""
		if !errors.Is(err, errForm) {
			detail = ": " + err.Error()
		}
		return fmt.Errorf("config: %s (%s) = %s is not valid%s; expected %s", o.Key, where, shown, detail, o.Form)
	}
	return nil
}

func applyFile(c *Config, byKey map[string]*Option, path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: reading PENELOPA_CONFIG: %w", err)
	}
	doc, err := readJSONObject(raw)
	if err != nil {
		var dup errDuplicateKey
		if errors.As(err, &dup) {
			return fmt.Errorf("config: %s is given more than once in PENELOPA_CONFIG %s; give each key once", string(dup), path)
		}
		return fmt.Errorf("config: PENELOPA_CONFIG %s is not a JSON object: %w", path, err)
	}
	keys := make([]string, 0, len(doc))
	for k := range doc {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		o, ok := byKey[k]
		if !ok {
			return unknownKey(k, path)
		}
		v, err := jsonScalar(doc[k])
		if err != nil {
			return fmt.Errorf("config: %s (%s)%s is not valid: %w; expected %s", k, path, showJSON(o, doc[k]), err, o.Form)
		}
		if err := apply(c, o, v, path); err != nil {
			return err
		}
	}
	return nil
}

// errDuplicateKey is the key readJSONObject found twice.
type errDuplicateKey string

func (e errDuplicateKey) Error() string { return "key " + strconv.Quote(string(e)) + " given twice" }

// readJSONObject reads one JSON object and nothing after it. Unlike json.Unmarshal into a map,
// it refuses a key given twice, which would silently keep the last value.
func readJSONObject(raw []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil {
		return nil, err
	} else if tok != json.Delim('{') {
		return nil, errors.New("it does not start with '{'")
	}
	doc := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, _ := tok.(string) // inside an object the decoder returns keys as strings
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("the value of %q: %w", k, err)
		}
		if _, dup := doc[k]; dup {
			return nil, errDuplicateKey(k)
		}
		doc[k] = v
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("there is more after the object")
	}
	return doc, nil
}

// jsonScalar accepts a string, number or bool (and a list of strings, joined by commas). Its
// errors name the JSON type found, never the text: the value may be a secret.
func jsonScalar(raw json.RawMessage) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // a number's own text: float64 would round a 20-digit testid
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", fmt.Errorf("reading the value: %w", err)
	}
	switch t := v.(type) {
	case string:
		return t, nil
	case bool:
		return strconv.FormatBool(t), nil
	case json.Number:
		return t.String(), nil
	case []any:
		parts := make([]string, 0, len(t))
		for i, e := range t {
			s, ok := e.(string)
			if !ok {
				return "", fmt.Errorf("got a list holding %s at position %d; a list may hold only strings", jsonType(e), i+1)
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ","), nil
	}
	return "", fmt.Errorf("got %s, want a string, number, bool or list of strings", jsonType(v))
}

// jsonType names the JSON type of a value decoded into an any.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case string:
		return "a string"
	case bool:
		return "a bool"
	}
	return "a number"
}

// maxShownJSON is the longest raw JSON value an error quotes.
const maxShownJSON = 40

// showJSON renders a rejected JSON value for an error message as " = VALUE": hidden for a
// secret, left out for a long value or one of an option with its own Show (a URL, whose
// userinfo Show would hide, may be anywhere inside), else compacted.
func showJSON(o *Option, raw json.RawMessage) string {
	if o.Secret {
		return " = (hidden)"
	}
	var b bytes.Buffer
	if o.Show != nil || json.Compact(&b, raw) != nil || b.Len() > maxShownJSON {
		return ""
	}
	return " = " + b.String()
}

// applyArgument parses ARG of --out penelopa=ARG. A value may itself contain commas (headers,
// trend_stats, labels): an item that does not start with key= continues the previous value, and
// after labels= so does a name=value item whose name is not a configuration key.
func applyArgument(c *Config, byKey map[string]*Option, arg string) error {
	arg = strings.TrimSpace(arg)
	if arg == "" {
		return nil
	}
	if hasURLScheme(arg) { // any scheme, in any case: url's own check and Show apply
		return apply(c, byKey["url"], arg, "--out penelopa=URL")
	}
	type kv struct{ key, val string }
	var items []kv
	for _, part := range strings.Split(arg, ",") {
		k, v, ok := strings.Cut(part, "=")
		_, known := byKey[k]
		// labels=a=1,b=2: inside a list of name=value pairs, an unknown key is the next pair.
		inPairs := len(items) > 0 && items[len(items)-1].key == "labels"
		if ok && isKeyShaped(k) && (known || !inPairs) {
			items = append(items, kv{k, v})
			continue
		}
		if len(items) == 0 {
			return badArgument(part)
		}
		items[len(items)-1].val += "," + part
	}
	seen := make(map[string]bool, len(items))
	for i, it := range items {
		o, ok := byKey[it.key]
		if !ok {
			if i > 0 && byKey[items[i-1].key].Secret {
				return unknownKeyAfterSecret(byKey[items[i-1].key])
			}
			return unknownKey(it.key, "--out penelopa")
		}
		if seen[it.key] {
			return fmt.Errorf("config: %s is given more than once in --out penelopa; give each key once", it.key)
		}
		seen[it.key] = true
		where := "--out penelopa"
		if i > 0 && byKey[items[i-1].key].Secret {
			// password=Xy,batch_size=zz may be the password "Xy,batch_size=zz": hide the value.
			hidden := *o
			hidden.Secret = true
			o = &hidden
			where += ", after " + items[i-1].key + "=, whose value it may be part of"
		}
		if err := apply(c, o, it.val, where); err != nil {
			return err
		}
	}
	return nil
}

func isKeyShaped(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '_' {
			return false
		}
	}
	return true
}

// hasURLScheme reports whether v starts with a URL scheme and "://" (RFC 3986: a letter, then
// letters, digits, '+', '-' and '.'), so "url=https://..." does not.
func hasURLScheme(v string) bool {
	scheme, _, ok := strings.Cut(v, "://")
	if !ok || scheme == "" {
		return false
	}
	for i, r := range scheme {
		letter := (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if !letter && (i == 0 || ((r < '0' || r > '9') && r != '+' && r != '-' && r != '.')) {
			return false
		}
	}
	return true
}

// badArgument explains why ARG, whose first item is first, is neither a URL nor key=value
// pairs. It quotes none of ARG: a secret may be anywhere in it, in a form no scrubbing foresees.
func badArgument(first string) error {
	why := "its first item has no '='"
	if strings.Contains(first, "=") {
		why = "its first item does not start with a key (letters, digits and _) and '='"
	}
	hint := ""
	if name, _, ok := strings.Cut(first, ":"); strings.Contains(first, "//") || strings.Contains(first, "@") {
		hint = "; a URL must start with http:// or https://"
	} else if ok && httpguts.ValidHeaderFieldName(strings.TrimSpace(name)) {
		hint = "; a header goes in headers=name:value"
	}
	return fmt.Errorf("config: --out penelopa=ARG is not valid: %s%s (ARG is not shown: it may hold a secret); expected a URL or key=value pairs separated by commas", why, hint)
}

func unknownKey(k, where string) error {
	return fmt.Errorf("config: unknown key %q in %s; expected one of %s", k, where, knownKeys())
}

// unknownKeyAfterSecret reports an unknown key that follows the value of secret, without
// naming it: it may be the rest of a secret value that holds a comma.
func unknownKeyAfterSecret(secret *Option) error {
	why := "a value with a comma must go in the JSON config file (PENELOPA_CONFIG) or " + secret.Env
	if secret.Key == "headers" {
		why = "a header value cannot hold a comma"
	}
	return fmt.Errorf("config: unknown key after %s= in --out penelopa, not shown as it may be part of the secret value (%s); expected one of %s",
		secret.Key, why, knownKeys())
}

func knownKeys() string {
	known := make([]string, 0, 32)
	for _, o := range Options() {
		known = append(known, o.Key)
	}
	return strings.Join(known, ", ")
}

// otherEnv are PENELOPA_* variables that are no setting but are the project's own:
// PENELOPA_CONFIG names the config file, the others are read by build.sh, the benchmarks and
// the end-to-end tests.
var otherEnv = map[string]bool{"PENELOPA_CONFIG": true, "PENELOPA_BIN": true, "PENELOPA_COMPARE": true, "PENELOPA_E2E_OUTPUT": true}

// unknownEnvWarnings warns, in name order, of each variable of environ (KEY=VALUE strings)
// that looks like penelopa's, is set according to env, and is no setting: a misspelt one
// would otherwise be ignored without a word. The closest setting is named when one is close.
func unknownEnvWarnings(opts []Option, environ []string, env func(string) (string, bool)) []string {
	known := make(map[string]bool, len(opts))
	for _, o := range opts {
		known[o.Env] = true
	}
	var names []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(strings.ToUpper(name), "PENELOPA_") || known[name] || otherEnv[name] {
			continue
		}
		if _, set := env(name); set {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var out []string
	for i, name := range names {
		if i > 0 && name == names[i-1] {
			continue
		}
		w := fmt.Sprintf("config: environment variable %s is not a penelopa setting and is ignored", name)
		if s := closestEnv(opts, name); s != "" {
			w += "; did you mean " + s + "?"
		} else {
			w += "; the settings are listed in the README's configuration table"
		}
		out = append(out, w)
	}
	return out
}

// closestEnv returns the variable of the setting that name most likely meant, or "". The
// part after PENELOPA_ is compared with each setting's key and its variable's part, in any
// case: equal (PENELOPA_URL is url, PENELOPA_METRICS_URL), the end or start of only one
// (PENELOPA_TOKEN: bearer_token), or else within an edit distance of 1 + a quarter of its length.
func closestEnv(opts []Option, name string) string {
	s := strings.ToLower(name[len("PENELOPA_"):])
	if s == "" {
		return ""
	}
	forms := func(o Option) []string {
		return []string{o.Key, strings.ToLower(strings.TrimPrefix(o.Env, "PENELOPA_"))}
	}
	for _, o := range opts {
		for _, f := range forms(o) {
			if f == s {
				return o.Env
			}
		}
	}
	for _, affix := range []func(f string) bool{
		func(f string) bool { return strings.HasSuffix(f, "_"+s) },
		func(f string) bool { return strings.HasPrefix(f, s+"_") },
	} {
		match := ""
		for _, o := range opts {
			for _, f := range forms(o) {
				if affix(f) && match != o.Env {
					if match != "" {
						match = "-" // more than one: no guess
					} else {
						match = o.Env
					}
				}
			}
		}
		if match != "" && match != "-" {
			return match
		}
	}
	best, bestD := "", 1+len(s)/4+1
	for _, o := range opts {
		for _, f := range forms(o) {
			if d := editDistance(s, f); d < bestD {
				best, bestD = o.Env, d
			}
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func durationSetter(field func(*Config) *time.Duration, min time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		if v == "0" && min == 0 {
			*field(c) = 0
			return nil
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < min || d < 0 {
			return errForm
		}
		*field(c) = d
		return nil
	}
}

// isHTTPURL reports whether v is an absolute http:// or https:// URL with a host.
func isHTTPURL(v string) bool {
	u, err := url.Parse(v)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// showURL quotes a rejected URL for an error message without what RedactURL hides (its
// user:password, credential-like query values); any other URL as written.
func showURL(v string) string {
	if sender.URLHasCredentials(v) {
		return strconv.Quote(sender.RedactURL(v))
	}
	return strconv.Quote(v)
}

func fileSetter(field func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error {
		if v != "" {
			if _, err := os.Stat(v); err != nil {
				return fmt.Errorf("cannot read it: %w", err)
			}
		}
		*field(c) = v
		return nil
	}
}

func intSetter(field func(*Config) *int, min, max int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < min || n > max {
			return errForm
		}
		*field(c) = n
		return nil
	}
}

func sizeSetter(field func(*Config) *int64, min, max int64) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, ok := parseSize(v)
		if !ok || n < min || n > max {
			return errForm
		}
		*field(c) = n
		return nil
	}
}

// sizeUnits are the units parseSize accepts, matched case-insensitively.
var sizeUnits = []struct {
	name string
	mult int64
}{
	{"", 1}, {"b", 1},
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9},
}

// parseSize reads a byte size: a whole number, optionally followed (a space between allowed)
// by B, KiB, MiB, GiB (powers of 1024) or KB, MB, GB (powers of 1000).
func parseSize(v string) (int64, bool) {
	i := 0
	for i < len(v) && v[i] >= '0' && v[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(v[:i], 10, 64)
	if err != nil {
		return 0, false
	}
	unit := strings.ToLower(strings.TrimSpace(v[i:]))
	for _, u := range sizeUnits {
		if u.name == unit {
			if n > (1<<63-1)/u.mult {
				return 0, false
			}
			return n * u.mult, true
		}
	}
	return 0, false
}

func boolSetter(field func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return errForm
		}
		*field(c) = b
		return nil
	}
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// protocolHeaders are the headers the sender sets on every request for the remote-write
// protocol; a custom header of one of these names would replace its value.
var protocolHeaders = []string{"Content-Type", "Content-Encoding", "Content-Length", "X-Prometheus-Remote-Write-Version", "User-Agent", "Host"}

// parseHeaders reads name:value pairs; a value may contain ':' but not ','. Its errors name
// a header by its name or position, never quote a value: header values are secret.
func parseHeaders(v string) ([][2]string, error) {
	var out [][2]string
	seen := map[string]bool{}
	for i, item := range splitList(v) {
		name, val, ok := strings.Cut(item, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, errForm
		}
		if !httpguts.ValidHeaderFieldName(name) {
			// Not quoted: without its ':' a value could have run into the name.
			return nil, fmt.Errorf("the name of header %d holds %s, which a header name (an RFC 7230 token) cannot", i+1, describeNonToken(name))
		}
		for _, p := range protocolHeaders {
			if strings.EqualFold(name, p) {
				return nil, fmt.Errorf("header %s is one penelopa sets itself for the remote-write protocol", p)
			}
		}
		if seen[strings.ToLower(name)] {
			return nil, fmt.Errorf("header %s is given more than once", name)
		}
		seen[strings.ToLower(name)] = true
		out = append(out, [2]string{name, strings.TrimSpace(val)})
	}
	return out, nil
}

// describeNonToken names the first byte of s that an RFC 7230 token cannot hold.
func describeNonToken(s string) string {
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case httpguts.ValidHeaderFieldName(s[i : i+1]):
		case b == ' ':
			return "a space"
		case b > ' ' && b < 0x7f:
			return strconv.QuoteRune(rune(b))
		default:
			return "a control or non-ASCII character"
		}
	}
	return "nothing wrong" // not reached for a non-token
}

// ownLabels are the labels set their own way, which labels= may not set: ConstLabels would
// let the dedicated setting win and drop the static label without a word.
var ownLabels = map[string]string{
	"testid":  "testid= (PENELOPA_TESTID)",
	"pod":     "pod= (PENELOPA_POD)",
	"segment": "k6's --execution-segment, which the launcher reads",
}

// parseLabels reads name=value pairs: names Prometheus accepts, each once, values not empty.
func parseLabels(v string) ([]series.Label, error) {
	var out []series.Label
	seen := map[string]bool{}
	for _, item := range splitList(v) {
		name, val, ok := strings.Cut(item, "=")
		name, val = strings.TrimSpace(name), strings.TrimSpace(val)
		switch {
		case !ok:
			return nil, errForm
		case strings.HasPrefix(name, "__"):
			return nil, errors.New("label names starting with __ are reserved for Prometheus")
		case !validLabelName(name):
			return nil, fmt.Errorf("label name %q does not match [a-zA-Z_][a-zA-Z0-9_]*", name)
		case ownLabels[name] != "":
			return nil, fmt.Errorf("the %s label is set with %s, not labels=", name, ownLabels[name])
		case seen[name]:
			return nil, fmt.Errorf("label %q is given more than once", name)
		case val == "":
			return nil, fmt.Errorf("label %q has an empty value, which Prometheus takes as no label", name)
		}
		seen[name] = true
		out = append(out, series.Label{Name: name, Value: val})
	}
	return out, nil
}

func validLabelName(s string) bool {
	if s == "" || strings.HasPrefix(s, "__") {
		return false
	}
	for i, r := range s {
		ok := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9')
		if !ok {
			return false
		}
	}
	return true
}

// ConstLabels are the labels penelopa adds to every series: testid and pod (when set) and the
// static labels.
func (c Config) ConstLabels() []series.Label {
	var out []series.Label
	if c.TestID != "" {
		out = append(out, series.Label{Name: "testid", Value: c.TestID})
	}
	if c.Pod != "" {
		out = append(out, series.Label{Name: "pod", Value: c.Pod})
	}
	if c.Segment != "" {
		out = append(out, series.Label{Name: "segment", Value: c.Segment})
	}
	for _, l := range c.Labels {
		if (l.Name == "testid" && c.TestID != "") || (l.Name == "pod" && c.Pod != "") || (l.Name == "segment" && c.Segment != "") {
			continue // the dedicated options win (labels= refuses these names; a Config built in code may not)
		}
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
