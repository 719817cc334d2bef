package sender

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpproxy"
	"golang.org/x/net/http/httpproxy"
)

// conns tracks the client's open connections so Close can cut requests that are in flight when
// its deadline passes: fasthttp has no per-request cancellation, closing the socket is the way.
type conns struct {
	mu      sync.Mutex
	open    map[*trackedConn]struct{}
	aborted bool
	proxy   fasthttp.DialFunc // nil: dial directly
	// ctx ends at abort: dials in progress (a connect to a host that drops packets, a proxy
	// that never answers CONNECT) end at once instead of at their timeout.
	ctx    context.Context
	cancel context.CancelFunc
}

// cutCtx returns the context abort cancels.
func (s *conns) cutCtx() context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx == nil {
		s.ctx, s.cancel = context.WithCancel(context.Background())
	}
	return s.ctx
}

// proxyDialer returns a dialer through the proxy the environment names for this endpoint, or
// nil when none applies (no variable set, or NO_PROXY / loopback excludes the host).
func proxyDialer(ep endpoint, timeout time.Duration) (fasthttp.DialFunc, *url.URL, error) {
	env := httpproxy.FromEnvironment()
	scheme := "http"
	if ep.isTLS {
		scheme = "https"
	}
	u, err := env.ProxyFunc()(&url.URL{Scheme: scheme, Host: ep.addr})
	if err != nil {
		// The error may quote the proxy URL, credentials included.
		return nil, nil, fmt.Errorf("proxy from environment for %s is not usable", ep.addr)
	}
	if u == nil {
		return nil, nil, nil
	}
	d := &fasthttpproxy.Dialer{Config: *env, DialDualStack: true, Timeout: timeout, ConnectTimeout: timeout}
	dial, err := d.GetDialFuncForTLS(true, ep.isTLS)
	if err != nil {
		return nil, nil, fmt.Errorf("proxy %s from environment: %w", RedactURL(u.String()), err)
	}
	return dial, u, nil
}

// trackedConn removes itself from its set when fasthttp closes it.
type trackedConn struct {
	net.Conn
	set  *conns
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.set.mu.Lock()
		delete(c.set.open, c)
		c.set.mu.Unlock()
	})
	return c.Conn.Close()
}

// dial is a fasthttp DialFuncWithTimeout that records every connection it opens. It goes
// through the environment's proxy (HTTP_PROXY, HTTPS_PROXY, NO_PROXY) when one applies.
func (s *conns) dial(addr string, timeout time.Duration) (net.Conn, error) {
	cut := s.cutCtx()
	if cut.Err() != nil {
		return nil, net.ErrClosed
	}
	var c net.Conn
	var err error
	if s.proxy != nil {
		c, err = s.dialProxy(addr, cut)
	} else {
		ctx, cancel := context.WithTimeout(cut, timeout)
		var d net.Dialer // both address families, as fasthttp's dual-stack dial
		c, err = d.DialContext(ctx, "tcp", addr)
		cancel()
	}
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, set: s}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.aborted {
		_ = c.Close()
		return nil, net.ErrClosed
	}
	if s.open == nil {
		s.open = map[*trackedConn]struct{}{}
	}
	s.open[tc] = struct{}{}
	return tc, nil
}

// dialProxy dials addr through the proxy, giving up at once when cut ends; a connection the
// proxy hands over after that is closed when it comes.
func (s *conns) dialProxy(addr string, cut context.Context) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := s.proxy(addr)
		ch <- result{c, err}
	}()
	select {
	case r := <-ch:
		return r.c, r.err
	case <-cut.Done():
		go func() {
			if r := <-ch; r.c != nil {
				_ = r.c.Close()
			}
		}()
		return nil, net.ErrClosed
	}
}

// abort closes every open connection, ends dials in progress and refuses new ones.
func (s *conns) abort() {
	s.cutCtx()
	s.cancel()
	s.mu.Lock()
	s.aborted = true
	open := s.open
	s.open = nil
	s.mu.Unlock()
	for c := range open {
		_ = c.Conn.Close()
	}
}
