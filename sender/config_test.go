package sender

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"xk6-output-penelopa/logs"
)

// TestHeaders: the remote-write headers, the user agent, custom headers and each form of auth
// reach the receiver together.
func TestHeaders(t *testing.T) {
	tests := []struct {
		name     string
		cfg      func(c *Config, url string)
		wantAuth string
	}{
		{"basic auth and tenant header", func(c *Config, _ string) {
			c.Username, c.Password = "u", "p"
		}, "Basic " + base64.StdEncoding.EncodeToString([]byte("u:p"))},
		{"basic auth from the URL", func(c *Config, url string) {
			c.URL = strings.Replace(url, "http://", "http://user:pa%40ss@", 1)
		}, "Basic " + base64.StdEncoding.EncodeToString([]byte("user:pa@ss"))},
		{"bearer token", func(c *Config, _ string) { c.BearerToken = "tok" }, "Bearer tok"},
		{"no auth", func(*Config, string) {}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := startReceiver(t, nil, nil)
			var w syncWriter
			cfg := testConfig(r.url, &w)
			cfg.UserAgent = "penelopa-test/1"
			cfg.Headers = [][2]string{{"X-Scope-OrgID", "tenant-1"}, {"X-Extra", "e"}}
			tc.cfg(&cfg, r.url)
			s, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			s.Enqueue(makeBody(cfg.Pool, 0, 0, 1), 1)
			s.Close(context.Background())
			r.check(t, s.Stats())
			r.mu.Lock()
			defer r.mu.Unlock()
			h := &r.lastHeader
			for k, want := range map[string]string{
				"Content-Encoding":                  "snappy",
				"Content-Type":                      "application/x-protobuf",
				"X-Prometheus-Remote-Write-Version": "0.1.0",
				"User-Agent":                        "penelopa-test/1",
				"X-Scope-OrgID":                     "tenant-1",
				"X-Extra":                           "e",
				"Authorization":                     tc.wantAuth,
			} {
				if got := string(h.Peek(k)); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if string(h.Method()) != "POST" || string(h.RequestURI()) != "/api/v1/write" {
				t.Errorf("request line %s %s", h.Method(), h.RequestURI())
			}
		})
	}
}

// TestNewRejects: impossible configurations fail in New with a reason, and without secrets.
func TestNewRejects(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"basic and bearer", Config{URL: "http://h/w", Username: "u", Password: "hunter2", BearerToken: "t0k3n-secret"}, "both basic auth and a bearer token"},
		{"URL userinfo and bearer", Config{URL: "http://u:hunter2@h/w", BearerToken: "t0k3n-secret"}, "both basic auth and a bearer token"},
		{"URL userinfo and username", Config{URL: "http://u:hunter2@h/w", Username: "v"}, "both in the URL"},
		{"authorization header and bearer", Config{URL: "http://h/w", BearerToken: "t0k3n-secret", Headers: [][2]string{{"authorization", "x"}}}, "custom header"},
		{"bad scheme", Config{URL: "ftp://u:hunter2@h/w"}, "scheme must be http or https"},
		{"unparseable", Config{URL: "http://u:hunter2@h:port/w"}, "not a valid URL"},
		{"no host", Config{URL: "http:///w"}, "no host"},
		{"negative queue", Config{URL: "http://h/w", QueueSize: -1}, "queue size"},
		{"negative queue bytes", Config{URL: "http://h/w", QueueBytes: -1}, "queue bytes -1: expected 0 (the default) or more"},
		{"negative timeout", Config{URL: "http://h/w", MinBackoff: -time.Second}, "MinBackoff -1s: expected a duration"},
		{"negative retries", Config{URL: "http://h/w", MaxRetries: -1}, "max retries"},
		{"backoff order", Config{URL: "http://h/w", MinBackoff: time.Second, MaxBackoff: time.Millisecond}, "min backoff"},
		{"tls version", Config{URL: "https://h/w", MinTLSVersion: "1.0"}, "tls_min_version \"1.0\": expected 1.2 or 1.3"},
		{"cert without key", Config{URL: "https://h/w", CertFile: "c.pem"}, "together"},
		{"missing CA", Config{URL: "https://h/w", CAFile: "/nonexistent/ca.pem"}, "tls_ca_file /nonexistent/ca.pem: open"},
		{"not a CA", Config{URL: "https://h/w", CAFile: "config_test.go"}, "tls_ca_file config_test.go holds no PEM certificate"},
		{"not a cert", Config{URL: "https://h/w", CertFile: "config_test.go", KeyFile: "config.go"}, "tls_cert_file config_test.go with tls_key_file config.go: expected a PEM certificate"},
		{"protocol", Config{URL: "http://h/w", Protocol: 3}, "expected 1 or 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.cfg)
			if err == nil {
				s.Close(context.Background())
				t.Fatal("New accepted it")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			for _, secret := range []string{"hunter2", "t0k3n-secret"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q leaks %q", err, secret)
				}
			}
		})
	}
}

// TestQueueDefaults: zero QueueSize and QueueBytes take the defaults, and the defaults make the
// byte bound the one that applies to bodies of a large test (about 16 KiB compressed each, 2,000
// samples: penelopa's default batch_size).
func TestQueueDefaults(t *testing.T) {
	s, err := New(Config{URL: "http://127.0.0.1:9/api/v1/write"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	if s.cfg.QueueSize != DefaultQueueSize || s.cfg.QueueBytes != DefaultQueueBytes {
		t.Errorf("queue of %d bodies and %d bytes, want %d and %d", s.cfg.QueueSize, s.cfg.QueueBytes, DefaultQueueSize, DefaultQueueBytes)
	}
	if perBody := DefaultQueueBytes / DefaultQueueSize; perBody > 16<<10 {
		t.Errorf("the count bound applies first to bodies under %d bytes, which includes a large test's", perBody)
	}
}

// TestNoSecretsInLogs: with every failure path logged at debug level, no password, token or
// secret header value appears in the log or in New's errors.
func TestNoSecretsInLogs(t *testing.T) {
	const pass, token, apiKey = "s3cr3t-pass", "s3cr3t-token", "s3cr3t-apikey"
	// The receiver echoes every request header in its error body, the worst case.
	r := startReceiver(t, nil, func(ctx *fasthttp.RequestCtx, n int64) bool {
		ctx.SetStatusCode([]int{500, 400, 429}[n%3])
		ctx.Response.Header.Set("Retry-After", "0")
		ctx.SetBody(ctx.Request.Header.Header())
		return false
	})
	dead := func() string {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		_ = ln.Close()
		return ln.Addr().String()
	}()
	var w syncWriter
	log := logs.New(&w, logs.Debug)
	base := func(url string) Config {
		c := testConfig(url, &w)
		c.Log = log
		c.LogInterval = time.Nanosecond // every line
		c.Headers = [][2]string{{"X-Api-Key", apiKey}, {"X-Scope-OrgID", "tenant"}}
		return c
	}
	var errs []string
	for _, cfg := range []Config{
		func() Config {
			c := base(strings.Replace(r.url, "http://", "http://user:"+pass+"@", 1))
			return c
		}(),
		func() Config { c := base(r.url); c.BearerToken = token; return c }(),
		func() Config { c := base("http://user:" + pass + "@" + dead + "/w"); return c }(),
		func() Config { c := base("http://" + dead + "/w"); c.BearerToken = token; return c }(),
	} {
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		enqueueFlushes(s, cfg.Pool, 2, 2, 1, 0)
		s.Close(context.Background())
		errs = append(errs, RedactURL(cfg.URL))
	}
	for _, bad := range []Config{
		{URL: "http://user:" + pass + "@h:bad/w"},
		{URL: "http://user:" + pass + "@h/w", BearerToken: token},
		{URL: "http://user:" + pass + "/x@h/w"},     // parses as host "user", port "s3cr3t-pass"...
		{URL: "http://user:" + pass + "#x@h/w"},     // ...and as host "user:s3cr3t-pass" (bad port)
		{URL: "http://h/w?api_key=" + apiKey + "@"}, // an '@' after the host, a credential in the query
	} {
		_, err := New(bad)
		if err == nil {
			t.Errorf("New(%q) accepted it", RedactURL(bad.URL))
			continue
		}
		errs = append(errs, err.Error())
	}
	all := w.String() + strings.Join(errs, "\n")
	if !strings.Contains(all, "<redacted>") || !strings.Contains(all, "status=500") {
		t.Fatalf("the failure paths did not run:\n%s", all)
	}
	for _, secret := range []string{pass, token, apiKey, base64.StdEncoding.EncodeToString([]byte("user:" + pass))} {
		if strings.Contains(all, secret) {
			t.Errorf("secret %q leaked:\n%s", secret, all)
		}
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://u:p@h:9090/api/v1/write", "http://h:9090/api/v1/write"},
		{"https://token@h/w?x=1", "https://h/w?x=1"},
		{"http://h/w", "http://h/w"},
		{"http://u:p@h:bad/w", "http://xxxxx@h:bad/w"},
		{"http://u:p@x@h:bad", "http://xxxxx@h:bad"},
		{"no scheme u:p@h:bad%", "xxxxx@h:bad%"},
		// A password with an unencoded '#', '/' or '?' ends the authority early for url.Parse.
		{"https://user:p#ss@host/api/v1/write", "https://host/api/v1/write"},
		{"https://user:123/abc@host/api", "https://host/api"},
		{"https://user:a?b@host/api", "https://host/api"},
		// Credentials in the query string; other parameters stay readable.
		{"https://h/w?api_key=SECRETQ&extra_label=a%3Db", "https://h/w?api_key=xxxxx&extra_label=a%3Db"},
		{"https://h/w?Token=s1&X-Amz-Signature=s2&access_token=s3&db=x", "https://h/w?Token=xxxxx&X-Amz-Signature=xxxxx&access_token=xxxxx&db=x"},
		{"http://h:bad/w?password=s4#frag", "http://h:bad/w?password=xxxxx#frag"},
	}
	for _, tc := range tests {
		got := RedactURL(tc.in)
		if got != tc.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
		for _, secret := range []string{"p#ss", "123/abc", "a?b", "SECRETQ", "s1", "s2", "s3", "s4"} {
			if strings.Contains(tc.in, secret) && strings.Contains(got, secret) {
				t.Errorf("RedactURL(%q) = %q: %q left in", tc.in, got, secret)
			}
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"7", 7 * time.Second},
		{"Wed, 25 Nov 2026 12:00:30 GMT", 30 * time.Second},
		{"Wed, 25 Nov 2026 11:00:00 GMT", 0},
		{"soon", 0},
		{"-3", 0},
		{"99999999999999999999", 24 * time.Hour},
	}
	for _, tc := range tests {
		got := parseRetryAfter([]byte(tc.in), now)
		if got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	s := &Sender{cfg: Config{MinBackoff: 100 * time.Millisecond, MaxBackoff: 2 * time.Second}}
	tests := []struct {
		attempt    int
		retryAfter time.Duration
		lo, hi     time.Duration
	}{
		{1, 0, 50 * time.Millisecond, 100 * time.Millisecond},
		{2, 0, 100 * time.Millisecond, 200 * time.Millisecond},
		{4, 0, 400 * time.Millisecond, 800 * time.Millisecond},
		{10, 0, time.Second, 2 * time.Second},
		{1000, 0, time.Second, 2 * time.Second},
		{1, 1500 * time.Millisecond, 1500 * time.Millisecond, 1500 * time.Millisecond},
		{1, time.Hour, 2 * time.Second, 2 * time.Second},
	}
	for _, tc := range tests {
		for range 50 {
			if d := s.backoff(tc.attempt, tc.retryAfter); d < tc.lo || d > tc.hi {
				t.Fatalf("backoff(%d, %s) = %s, want [%s, %s]", tc.attempt, tc.retryAfter, d, tc.lo, tc.hi)
			}
		}
	}
}

// TestTLS: verification is on by default, a CA file makes it pass, skip-verify bypasses it.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM := selfSigned(t)
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) { ctx.SetStatusCode(204) }, Logger: quiet{}}
	go func() { _ = srv.ServeTLSEmbed(ln, certPEM, keyPEM) }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	url := "https://" + ln.Addr().String() + "/w"
	tests := []struct {
		name     string
		cfg      func(*Config)
		wantSent bool
	}{
		{"unknown CA fails", func(*Config) {}, false},
		{"CA file", func(c *Config) { c.CAFile = caFile }, true},
		{"CA file, TLS 1.3", func(c *Config) { c.CAFile = caFile; c.MinTLSVersion = "1.3" }, true},
		{"skip verify", func(c *Config) { c.InsecureSkipTLSVerify = true }, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var w syncWriter
			cfg := testConfig(url, &w)
			cfg.MaxRetries = 0
			tc.cfg(&cfg)
			s, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			s.Enqueue(makeBody(cfg.Pool, 0, 0, 2), 2)
			s.Close(context.Background())
			st := s.Stats()
			if sent := st.SamplesSent == 2; sent != tc.wantSent || st.SamplesEnqueued != st.SamplesSent+st.SamplesDropped {
				t.Errorf("stats %+v\n%s", st, w.String())
			}
		})
	}
}

func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "penelopa test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// quiet drops a test server's log lines.
type quiet struct{}

func (quiet) Printf(string, ...any) {}

func TestLimiter(t *testing.T) {
	var l limiter
	t0 := time.Unix(1000, 0)
	steps := []struct {
		at         time.Duration
		allowed    bool
		suppressed int
	}{
		{0, true, 0},
		{time.Second, false, 0},
		{2 * time.Second, false, 0},
		{5 * time.Second, true, 2},
		{6 * time.Second, false, 0},
		{20 * time.Second, true, 1},
	}
	for _, st := range steps {
		ok, n := l.allow(t0.Add(st.at), 5*time.Second)
		if ok != st.allowed || n != st.suppressed {
			t.Errorf("at %s: allow = %v, %d; want %v, %d", st.at, ok, n, st.allowed, st.suppressed)
		}
	}
}

// TestRedact: a secret containing a shorter one is scrubbed whole, and the value of
// a header that is secret only by the caller's word is scrubbed only as a whole word.
func TestRedact(t *testing.T) {
	s, err := New(Config{
		URL:           "http://127.0.0.1:1/w",
		Password:      "team",
		Headers:       [][2]string{{"X-Token", "team-a-secret-xyz"}, {"X-Env", "5"}, {"X-Scope-OrgID", "tenant-7"}},
		SecretHeaders: []string{"X-Env", "X-Scope-OrgID"},
		Log:           logs.New(io.Discard, logs.Error),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	tests := []struct{ in, want string }{
		{"token team-a-secret-xyz echoed", "token <redacted> echoed"},
		{"user team, pass team!", "user <redacted>, pass <redacted>!"},
		{"got HTTP 500 from tenant-7 (env 5)", "got HTTP 500 from <redacted> (env <redacted>)"},
		{"tenant-77 and 5s", "tenant-77 and 5s"},
	}
	for _, tc := range tests {
		if got := s.redact(tc.in); got != tc.want {
			t.Errorf("redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
