package sender

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"xk6-output-penelopa/logs"
	"xk6-output-penelopa/pool"
)

// Defaults applied by New to zero-valued Config fields (MaxRetries excepted: 0 is a valid
// choice), so a caller only sets what it cares about; DefaultMaxRetries is for callers' configs.
const (
	DefaultTimeout      = 10 * time.Second
	DefaultQueueSize    = 16384
	DefaultQueueBytes   = 64 << 20
	DefaultConcurrency  = 2
	DefaultMaxRetries   = 5
	DefaultMaxRetryTime = time.Minute
	DefaultMinBackoff   = 100 * time.Millisecond
	DefaultMaxBackoff   = 10 * time.Second
	DefaultLogInterval  = 5 * time.Second
	DefaultUserAgent    = "penelopa"
)

// Config holds what the sender needs; zero values take the Default* constants, except
// MaxRetries.
type Config struct {
	// URL is the remote-write endpoint; userinfo (user:password@) is used as basic auth and never logged.
	URL string
	// Headers are sent with every request (e.g. Mimir's X-Scope-OrgID); values are never logged.
	Headers [][2]string
	// SecretHeaders names headers (case-insensitive) whose values must be scrubbed from logs, in
	// addition to the built-in list (Authorization, Cookie, anything containing auth, token,
	// secret, key or password).
	SecretHeaders []string
	// Username and Password set HTTP basic auth; exclusive with BearerToken and URL userinfo.
	Username, Password string
	// BearerToken sets "Authorization: Bearer ..."; exclusive with basic auth.
	BearerToken string
	// Timeout bounds one HTTP attempt (connect, write, response).
	Timeout time.Duration
	// InsecureSkipTLSVerify disables server certificate checks (test setups only).
	InsecureSkipTLSVerify bool
	// CAFile is a PEM bundle trusted instead of the system roots.
	CAFile string
	// CertFile and KeyFile are a PEM client certificate and key for mutual TLS.
	CertFile, KeyFile string
	// MinTLSVersion is "1.2" (default) or "1.3".
	MinTLSVersion string
	// QueueSize is how many bodies wait at most, and QueueBytes how many compressed bytes
	// (len of their buffers) they hold at most. A body that would pass either bound makes room
	// by dropping the oldest waiting bodies; one larger than QueueBytes on its own is dropped.
	// QueueBytes is the bound that matters for memory; QueueSize is a backstop for tiny bodies.
	QueueSize  int
	QueueBytes int64
	// Concurrency is how many requests may be in flight (only bodies of one flush run together).
	Concurrency int
	// MaxRetries bounds retries after the first attempt, taken literally: 0 never retries.
	MaxRetries int
	// MaxRetryTime bounds the time one body may spend in retries before it is given up.
	MaxRetryTime time.Duration
	// MinBackoff and MaxBackoff bound the exponential backoff; MaxBackoff also caps Retry-After.
	MinBackoff, MaxBackoff time.Duration
	// LogInterval is the least time between two failure lines of one kind.
	LogInterval time.Duration
	// UserAgent is sent as User-Agent.
	UserAgent string
	// Protocol is the remote-write version wanted: 1 (also for 0) or 2. With 2, Protocol() stays 1
	// until the receiver has acknowledged a 2.0 request as a 2.0 receiver (see Negotiate), and
	// falls back to 1 for good once it shows it is not one.
	Protocol int
	// Pool receives every body back once it is acknowledged or dropped.
	Pool *pool.Pool
	// Log receives failure lines (rate limited) and, at debug level, one line per request.
	Log *logs.Logger
}

// endpoint is the parsed, credential-free form of Config.URL.
type endpoint struct {
	uri   string // scheme://host[:port]/path?query, no userinfo
	addr  string // host:port for the HostClient
	isTLS bool
	user  string // from userinfo, if any
	pass  string
	hasUI bool
}

func parseEndpoint(raw string) (endpoint, error) {
	var ep endpoint
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the whole input, credentials included: never wrap it.
		return ep, fmt.Errorf("remote-write URL %q is not a valid URL", RedactURL(raw))
	}
	switch u.Scheme {
	case "http":
	case "https":
		ep.isTLS = true
	default:
		return ep, fmt.Errorf("remote-write URL %q: scheme must be http or https", RedactURL(raw))
	}
	if u.Hostname() == "" {
		return ep, fmt.Errorf("remote-write URL %q has no host", RedactURL(raw))
	}
	if u.User == nil && strings.Contains(raw[len(u.Scheme):], "@") {
		// "https://user:pa/ss@host/..." parses as host "user", port "pa", path "/ss@host/...":
		// the request would go to the wrong host with the password in its path.
		return ep, fmt.Errorf("remote-write URL %q has an '@' after its host: a user or password with '/', '?', '#' or '@' in it must be percent-encoded (or given as username= and password=)", RedactURL(raw))
	}
	if u.User != nil {
		ep.hasUI = true
		ep.user = u.User.Username()
		ep.pass, _ = u.User.Password()
		u.User = nil
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if ep.isTLS {
			port = "443"
		}
	}
	ep.addr = net.JoinHostPort(u.Hostname(), port)
	u.Fragment = ""
	ep.uri = u.String()
	return ep, nil
}

// RedactURL returns u fit for a log line: without its userinfo (everything between "://" and
// the last '@', also when an unencoded '/', '?' or '#' in a password ends the authority early)
// and with the values of query parameters whose names suggest a credential (token, key,
// secret, pass, auth, sig) masked. It also copes with input that does not parse.
func RedactURL(u string) string {
	scheme, rest := "", u
	if i := strings.Index(u, "://"); i >= 0 {
		scheme, rest = u[:i+3], u[i+3:]
	}
	masked := false
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		rest, masked = redacted+"@"+rest[at+1:], true
	}
	if p, err := url.Parse(scheme + rest); err == nil && (p.User == nil || masked && p.User.String() == redacted) {
		p.User = nil
		p.RawQuery, _ = redactQuery(p.RawQuery)
		return p.String()
	}
	if q := strings.IndexByte(rest, '?'); q >= 0 {
		query, frag := rest[q+1:], ""
		if h := strings.IndexByte(query, '#'); h >= 0 {
			query, frag = query[:h], query[h:]
		}
		query, _ = redactQuery(query)
		rest = rest[:q+1] + query + frag
	}
	return scheme + rest
}

// URLHasCredentials reports whether u carries a login (user:password@) or a query parameter
// whose name suggests a credential, as RedactURL would hide.
func URLHasCredentials(u string) bool {
	if strings.Contains(u, "@") {
		return true
	}
	_, query, ok := strings.Cut(u, "?")
	if !ok {
		return false
	}
	query, _, _ = strings.Cut(query, "#")
	_, masked := redactQuery(query)
	return masked
}

// redacted stands in for what RedactURL hides.
const redacted = "xxxxx"

// redactQuery masks the values of the parameters of the raw query q whose names look like
// credentials, keeping the rest (VictoriaMetrics' extra_label, for one) as written, and
// reports whether it masked any.
func redactQuery(q string) (string, bool) {
	if q == "" {
		return q, false
	}
	masked := false
	parts := strings.Split(q, "&")
	for i, kv := range parts {
		name, _, hasValue := strings.Cut(kv, "=")
		if hasValue && secretParam(name) {
			parts[i], masked = name+"="+redacted, true
		}
	}
	return strings.Join(parts, "&"), masked
}

// secretParam reports whether a query parameter's name suggests its value is a credential.
func secretParam(name string) bool {
	if n, err := url.QueryUnescape(name); err == nil {
		name = n
	}
	name = strings.ToLower(name)
	for _, w := range []string{"token", "key", "secret", "pass", "auth", "sig", "credential"} {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// authHeader validates the credential combination and returns the Authorization value (or "").
func authHeader(cfg *Config, ep endpoint) (string, error) {
	user, pass := cfg.Username, cfg.Password
	if ep.hasUI {
		if user != "" || pass != "" {
			return "", errors.New("basic auth is given both in the URL and as username/password: keep one")
		}
		user, pass = ep.user, ep.pass
	}
	basic := user != "" || pass != ""
	if basic && cfg.BearerToken != "" {
		return "", errors.New("both basic auth and a bearer token are set: a request carries only one Authorization header, keep one")
	}
	for _, h := range cfg.Headers {
		if strings.EqualFold(h[0], "Authorization") && (basic || cfg.BearerToken != "") {
			return "", errors.New("an Authorization header is given both as a custom header and as basic auth or bearer token: keep one")
		}
	}
	switch {
	case basic:
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass)), nil
	case cfg.BearerToken != "":
		return "Bearer " + cfg.BearerToken, nil
	}
	return "", nil
}

// isSecretHeader reports whether a header's value is a credential that must never reach a log.
func isSecretHeader(name string, extra []string) bool {
	n := strings.ToLower(name)
	for _, e := range extra {
		if strings.EqualFold(e, name) {
			return true
		}
	}
	if n == "cookie" {
		return true
	}
	for _, w := range []string{"auth", "token", "secret", "key", "password"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// tlsConfig builds the client TLS settings; verification stays on unless explicitly skipped.
func tlsConfig(cfg *Config) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.InsecureSkipTLSVerify}
	switch cfg.MinTLSVersion {
	case "", "1.2":
	case "1.3":
		tc.MinVersion = tls.VersionTLS13
	default:
		return nil, fmt.Errorf("tls_min_version %q: expected 1.2 or 1.3", cfg.MinTLSVersion)
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls_ca_file %s: %w", cfg.CAFile, err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls_ca_file %s holds no PEM certificate: expected one or more PEM CERTIFICATE blocks", cfg.CAFile)
		}
		tc.RootCAs = roots
	}
	if (cfg.CertFile == "") != (cfg.KeyFile == "") {
		return nil, errors.New("tls_cert_file and tls_key_file must be given together")
	}
	if cfg.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls_cert_file %s with tls_key_file %s: expected a PEM certificate and its PEM private key: %w", cfg.CertFile, cfg.KeyFile, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// withDefaults fills zero-valued fields and rejects impossible ones.
func withDefaults(cfg Config) (Config, error) {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.Timeout, DefaultTimeout)
	def(&cfg.MaxRetryTime, DefaultMaxRetryTime)
	def(&cfg.MinBackoff, DefaultMinBackoff)
	def(&cfg.MaxBackoff, DefaultMaxBackoff)
	def(&cfg.LogInterval, DefaultLogInterval)
	if cfg.QueueSize == 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.QueueBytes == 0 {
		cfg.QueueBytes = DefaultQueueBytes
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	if cfg.Protocol == 0 {
		cfg.Protocol = ProtoV1
	}
	if cfg.Pool == nil {
		cfg.Pool = pool.New(0)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"Timeout", cfg.Timeout}, {"MaxRetryTime", cfg.MaxRetryTime}, {"MinBackoff", cfg.MinBackoff}, {"MaxBackoff", cfg.MaxBackoff}, {"LogInterval", cfg.LogInterval}} {
		if d.v < 0 {
			return cfg, fmt.Errorf("%s %s: expected a duration of 0 (the default) or more", d.name, d.v)
		}
	}
	switch {
	case cfg.MaxRetries < 0:
		return cfg, fmt.Errorf("max retries %d must not be negative", cfg.MaxRetries)
	case cfg.QueueSize < 0:
		return cfg, fmt.Errorf("queue size %d: expected 0 (the default) or more", cfg.QueueSize)
	case cfg.QueueBytes < 0:
		return cfg, fmt.Errorf("queue bytes %d: expected 0 (the default) or more", cfg.QueueBytes)
	case cfg.Concurrency < 0:
		return cfg, fmt.Errorf("concurrency %d: expected 0 (the default) or more", cfg.Concurrency)
	case cfg.Protocol != ProtoV1 && cfg.Protocol != ProtoV2:
		return cfg, fmt.Errorf("remote-write protocol %d: expected 1 or 2", cfg.Protocol)
	case cfg.MinBackoff > cfg.MaxBackoff:
		return cfg, fmt.Errorf("min backoff %s exceeds max backoff %s", cfg.MinBackoff, cfg.MaxBackoff)
	}
	return cfg, nil
}
