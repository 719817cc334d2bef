//go:build e2e

package e2e

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"xk6-output-penelopa/e2e/promapi"
)

// TestReceiverRestart stops VictoriaMetrics for 10 s in the middle of a 25 s run of custom
// counters and starts it again on the same port and storage. penelopa retries, counts what it
// gives up, and sends every series' cumulative total on every flush, so once the receiver is
// back the totals it holds are whole again: every counter equals k6's summary exactly, and
// every series ends with a staleness marker.
func TestReceiverRestart(t *testing.T) {
	out := outputFromEnv(t)
	out.needsPenelopa(t)
	target := startTarget(t)
	vm := startRestartableVM(t)
	runID := fmt.Sprintf("restart-%d", time.Now().UnixNano())

	const stopAfter, downFor = 7 * time.Second, 10 * time.Second
	var (
		wg      sync.WaitGroup
		outage  restartTimes
		restart error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		outage, restart = vm.bounce(stopAfter, downFor)
	}()
	defer wg.Wait() // also when the run fails the test: the outage must be over before cleanup
	res := out.start(t, run{
		script:   script(t, "faults_counters.js"),
		writeURL: vm.writeURL,
		args:     []string{"--tag", "e2e_run=" + runID},
		env:      []string{"TARGET_URL=" + target, "DURATION=25s", "PENELOPA_STOP_TIMEOUT=60s"},
		timeout:  2 * time.Minute,
	})
	wg.Wait()
	t.Logf("stderr:\n%s", res.stderr)
	if restart != nil {
		t.Fatalf("VictoriaMetrics outage: %v", restart)
	}
	t.Logf("run %s .. %s; VictoriaMetrics stopped at +%v (exited after %v), back at +%v (ready after %v)",
		res.start.Format(time.TimeOnly), res.end.Format(time.TimeOnly),
		outage.stopping.Sub(res.start).Round(time.Millisecond), outage.stopped.Sub(outage.stopping).Round(time.Millisecond),
		outage.started.Sub(res.start).Round(time.Millisecond), outage.ready.Sub(outage.started).Round(time.Millisecond))
	if res.exitCode != 0 {
		t.Fatalf("run failed: %v", res)
	}
	if outage.ready.After(res.end.Add(-3 * time.Second)) {
		t.Fatalf("VictoriaMetrics came back only %v before the run ended: the run no longer spans the outage", res.end.Sub(outage.ready))
	}
	acct := mustAccount(t, res)
	t.Logf("account: %+v", acct)
	if acct.retries == 0 && acct.dropped == 0 {
		t.Errorf("neither retries nor drops: penelopa did not notice the outage")
	}
	for _, r := range []string{"queue full", "rejected by receiver", "shutdown deadline", "protocol fallback"} {
		if n := acct.reasons[r]; n > 0 {
			t.Errorf("%d samples dropped (%s): only retries exhausted during the outage is expected", n, r)
		}
	}
	sum := readSummary(t, res)
	c := &checker{api: vm.api, sel: `e2e_run="` + runID + `"`, out: out, sum: sum, since: res.start}
	for _, p := range eventually(t, settleTimeout, func() []string { return totalsAndStale(c) }) {
		t.Error(p)
	}
	for _, name := range []string{"faults_ops", "faults_bytes", "iterations", "http_reqs"} {
		t.Logf("k6 summary %s count %v", name, sum[name]["count"])
	}
}

// restartableVM is a VictoriaMetrics this test stops and starts again on the same address and
// storage directory.
type restartableVM struct {
	receiver
	bin, addr, dataDir, logDir string

	mu   sync.Mutex
	proc *process // nil while stopped
	logs []string // log files of every start, oldest first
}

// restartTimes records one outage.
type restartTimes struct {
	stopping, stopped, started, ready time.Time
}

// startRestartableVM starts VictoriaMetrics on a free port, like startVictoriaMetrics, and stops
// whichever instance is running when the test ends.
func startRestartableVM(t *testing.T) *restartableVM {
	t.Helper()
	bin, err := exec.LookPath("victoria-metrics")
	if err != nil {
		t.Fatalf("victoria-metrics not found (./build.sh test installs it): %v", err)
	}
	vm := &restartableVM{bin: bin, addr: freeAddr(t), dataDir: filepath.Join(t.TempDir(), "data"), logDir: t.TempDir()}
	base := "http://" + vm.addr
	vm.receiver = receiver{name: "victoriametrics", writeURL: base + "/api/v1/write", api: promapi.New(base)}
	t.Cleanup(func() {
		vm.stop()
		if t.Failed() {
			vm.mu.Lock()
			defer vm.mu.Unlock()
			for _, l := range vm.logs {
				t.Logf("victoria-metrics log (%s):\n%s", l, tail(l))
			}
		}
	})
	if err := vm.start(); err != nil {
		t.Fatalf("%v", err)
	}
	return vm
}

// start runs VictoriaMetrics on vm.addr with vm.dataDir and waits until it is ready.
func (vm *restartableVM) start() error {
	vm.mu.Lock()
	logPath := filepath.Join(vm.logDir, fmt.Sprintf("victoria-metrics-%d.log", len(vm.logs)+1))
	vm.logs = append(vm.logs, logPath)
	vm.mu.Unlock()
	p, err := startProcess(vm.bin, []string{
		"-httpListenAddr=" + vm.addr,
		"-storageDataPath=" + vm.dataDir,
		"-retentionPeriod=100y",
		"-search.latencyOffset=0s",
		"-search.disableCache",
		"-loggerLevel=WARN",
	}, logPath)
	if err != nil {
		return fmt.Errorf("start victoria-metrics: %w", err)
	}
	if err := waitReady(p, "http://"+vm.addr+"/health", 60*time.Second); err != nil {
		p.stop()
		return fmt.Errorf("victoria-metrics on %s: %w\n%s", vm.addr, err, tail(logPath))
	}
	vm.mu.Lock()
	vm.proc = p
	vm.mu.Unlock()
	return nil
}

// stop terminates the running instance (SIGTERM, then SIGKILL after a grace period) and waits
// for it to exit; it does nothing while stopped.
func (vm *restartableVM) stop() {
	vm.mu.Lock()
	p := vm.proc
	vm.proc = nil
	vm.mu.Unlock()
	if p != nil {
		p.stop()
	}
}

// bounce waits after, stops the receiver, keeps it down for down (counted from its exit) and
// starts it again.
func (vm *restartableVM) bounce(after, down time.Duration) (restartTimes, error) {
	var rt restartTimes
	time.Sleep(after)
	rt.stopping = time.Now()
	vm.stop()
	rt.stopped = time.Now()
	time.Sleep(down)
	rt.started = time.Now()
	err := vm.start()
	rt.ready = time.Now()
	return rt, err
}

// TestHangingReceiver runs one CPU-bound script of a fixed number of iterations twice: with a
// healthy VictoriaMetrics, and with a receiver that accepts connections and never answers. The
// dead receiver must not slow k6 (its own test duration and its process time stay within 25 %
// of the healthy run's; both, and k6's CPU time, are logged; a pair of runs that misses this
// is repeated once, as timings on a shared machine are noisy), k6-penelopa must exit within
// PENELOPA_STOP_TIMEOUT (3 s) and a little slack after k6, report every sample it could not
// deliver, and exit with k6's code 0, or 113 with PENELOPA_FAIL_ON_DROP=true.
func TestHangingReceiver(t *testing.T) {
	out := outputFromEnv(t)
	out.needsPenelopa(t)
	const (
		iterations  = 400_000
		stopTimeout = 3 * time.Second
		stopSlack   = 3 * time.Second
		maxSlowdown = 1.25
	)
	healthy := startVictoriaMetrics(t)
	hanging := startHangingReceiver(t)
	hot := func(writeURL, runID string, n int, env ...string) (result, k6Usage) {
		t.Helper()
		env = append([]string{"ITERATIONS=" + strconv.Itoa(n), "PENELOPA_STOP_TIMEOUT=" + stopTimeout.String()}, env...)
		return runWatched(t, out, run{
			script:   script(t, "faults_hot.js"),
			writeURL: writeURL,
			args:     []string{"--tag", "e2e_run=" + runID},
			env:      env,
			timeout:  2 * time.Minute,
		})
	}
	// k6Duration is k6's own measure of the test: iterations divided by their rate.
	k6Duration := func(s summary) time.Duration {
		it := s["iterations"]
		if it["rate"] == 0 {
			t.Fatalf("k6 summary has no iterations rate: %v", it)
		}
		return time.Duration(it["count"] / it["rate"] * float64(time.Second))
	}
	// stopPhase is how long k6-penelopa ran after k6 exited; it must fit the stop timeout.
	stopPhase := func(res result, u k6Usage) time.Duration {
		t.Helper()
		d := res.end.Sub(u.exited)
		if d > stopTimeout+stopSlack {
			t.Errorf("k6-penelopa exited %v after k6, more than PENELOPA_STOP_TIMEOUT %v + %v", d.Round(time.Millisecond), stopTimeout, stopSlack)
		}
		return d
	}
	// pair runs the script with the healthy and with the hanging receiver, checks what each
	// run delivered, and returns how k6's timings compare, as problems.
	pair := func(round int) []string {
		runID := fmt.Sprintf("hot-%d", round)
		resOK, useOK := hot(healthy.writeURL, runID, iterations)
		if resOK.exitCode != 0 {
			t.Fatalf("healthy run failed: %v", resOK)
		}
		sumOK := readSummary(t, resOK)
		acctOK := mustAccount(t, resOK)
		if acctOK.dropped != 0 {
			t.Errorf("healthy run dropped %d samples: %v", acctOK.dropped, acctOK.reasons)
		}
		c := &checker{api: healthy.api, sel: `e2e_run="` + runID + `"`, out: out, sum: sumOK, since: resOK.start}
		for _, p := range eventually(t, settleTimeout, func() []string { return exactTotals(c) }) {
			t.Error(p)
		}

		resDead, useDead := hot(hanging, runID, iterations)
		t.Logf("stderr with the hanging receiver:\n%s", resDead.stderr)
		if resDead.exitCode != 0 {
			t.Errorf("exit code %d with a hanging receiver, want k6's 0", resDead.exitCode)
		}
		sumDead := readSummary(t, resDead)
		acctDead := mustAccount(t, resDead)
		t.Logf("account with the hanging receiver: %+v", acctDead)
		if acctDead.delivered != 0 || acctDead.dropped == 0 {
			t.Errorf("a receiver that never answers: %d samples delivered, %d dropped; want 0 and all", acctDead.delivered, acctDead.dropped)
		}
		if n := acctDead.reasons["shutdown deadline"] + acctDead.reasons["retries exhausted"] + acctDead.reasons["queue full"]; n != acctDead.dropped {
			t.Errorf("drops %v: want only shutdown deadline, retries exhausted or queue full", acctDead.reasons)
		}

		durOK, durDead := k6Duration(sumOK), k6Duration(sumDead)
		wallOK, wallDead := useOK.exited.Sub(resOK.start), useDead.exited.Sub(resDead.start)
		stopOK, stopDead := stopPhase(resOK, useOK), stopPhase(resDead, useDead)
		t.Logf("healthy receiver: k6 test %v, k6 process until exit %v, k6 CPU %v (user+sys), then k6-penelopa %v more",
			durOK.Round(time.Millisecond), wallOK.Round(time.Millisecond), useOK.cpu, stopOK.Round(time.Millisecond))
		t.Logf("hanging receiver: k6 test %v (%+.1f%%), k6 process until exit %v (%+.1f%%), k6 CPU %v (%+.1f%%), then k6-penelopa %v more",
			durDead.Round(time.Millisecond), percentMore(durDead, durOK), wallDead.Round(time.Millisecond), percentMore(wallDead, wallOK),
			useDead.cpu, percentMore(useDead.cpu, useOK.cpu), stopDead.Round(time.Millisecond))
		var slow []string
		if float64(durDead) > maxSlowdown*float64(durOK) {
			slow = append(slow, fmt.Sprintf("k6's test took %v with a hanging receiver, %v with a healthy one: more than %.0f%% slower",
				durDead.Round(time.Millisecond), durOK.Round(time.Millisecond), (maxSlowdown-1)*100))
		}
		if float64(wallDead) > maxSlowdown*float64(wallOK) {
			slow = append(slow, fmt.Sprintf("k6 ran %v with a hanging receiver, %v with a healthy one: more than %.0f%% slower",
				wallDead.Round(time.Millisecond), wallOK.Round(time.Millisecond), (maxSlowdown-1)*100))
		}
		return slow
	}
	// Timings on a shared 2-core machine are noisy: a comparison that fails is repeated once
	// with a fresh pair of runs, so that one burst of load elsewhere does not fail the test.
	for round := 1; ; round++ {
		slow := pair(round)
		if len(slow) == 0 {
			break
		}
		if round == 2 {
			for _, p := range slow {
				t.Error(p)
			}
			break
		}
		t.Logf("round %d: %s; repeating the pair once", round, strings.Join(slow, "; "))
	}

	// The same, smaller, with fail_on_drop: the drops turn k6's success into 113.
	resFail, useFail := hot(hanging, "hot-fail", iterations/10, "PENELOPA_FAIL_ON_DROP=true")
	stopFail := stopPhase(resFail, useFail)
	acctFail := mustAccount(t, resFail)
	t.Logf("fail_on_drop with the hanging receiver: exit code %d, k6 process %v, then k6-penelopa %v more; account %+v",
		resFail.exitCode, useFail.exited.Sub(resFail.start).Round(time.Millisecond), stopFail.Round(time.Millisecond), acctFail)
	if resFail.exitCode != 113 || acctFail.dropped == 0 {
		t.Errorf("fail_on_drop with a hanging receiver: exit code %d and %d dropped, want 113 and some\n%v", resFail.exitCode, acctFail.dropped, resFail)
	}
}

// percentMore is how much larger a is than b, in percent.
func percentMore(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return (float64(a)/float64(b) - 1) * 100
}

// startHangingReceiver listens on 127.0.0.1, accepts every connection, reads whatever comes and
// never answers, until the test ends. It returns its remote-write URL.
func startHangingReceiver(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed at the end of the test
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = io.Copy(io.Discard, c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return "http://" + ln.Addr().String() + "/api/v1/write"
}

// k6Usage is what the k6 child of one k6-penelopa run cost, read from /proc while it ran.
type k6Usage struct {
	pid    int
	cpu    time.Duration // user+system CPU time
	exited time.Time     // when k6 was first seen exited (a zombie or gone)
}

// clockTick is the unit of the CPU times in /proc/<pid>/stat (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// runWatched runs the script through k6-penelopa like output.start, and meanwhile finds the
// launcher's k6 child in /proc and samples its CPU time until it exits.
func runWatched(t *testing.T, o output, r run) (result, k6Usage) {
	t.Helper()
	summary := filepath.Join(t.TempDir(), "summary.json")
	args := []string{"run", "--quiet", "--summary-export=" + summary, "--summary-trend-stats=" + summaryTrendStats,
		"--out", "penelopa=" + r.writeURL}
	args = append(append(args, r.args...), r.script)
	env := append(inheritedEnv(), "K6_NO_USAGE_REPORT=true", "K6_BINARY="+o.k6,
		"PENELOPA_TREND_STATS="+trendStats, "PENELOPA_METRICS_PUSH_INTERVAL=1s", "PENELOPA_STALE_MARKERS=true")
	env = append(env, r.env...)

	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, o.bin, args...)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	t.Logf("run: %s %s (%s)", o.bin, strings.Join(args, " "), strings.Join(r.env, " "))
	res := result{start: time.Now(), summaryPath: summary}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", o.bin, err)
	}
	launcherDone := make(chan struct{})
	usage := make(chan k6Usage, 1)
	go func() { usage <- watchK6(cmd.Process.Pid, launcherDone) }()
	err := cmd.Wait()
	res.end = time.Now()
	close(launcherDone)
	u := <-usage
	res.stdout, res.stderr = stdout.String(), stderr.String()
	if ctx.Err() != nil {
		t.Fatalf("%s did not exit within %v\nstderr:\n%s", filepath.Base(o.bin), r.timeout, res.stderr)
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		res.exitCode = exitErr.ExitCode()
	default:
		t.Fatalf("run %s: %v", o.bin, err)
	}
	if u.pid == 0 {
		t.Fatalf("k6, the child of k6-penelopa, was never seen in /proc\n%v", res)
	}
	t.Logf("exit code %d after %v", res.exitCode, res.end.Sub(res.start).Round(time.Millisecond))
	return res, u
}

// watchK6 finds the child of the launcher (k6) and samples its CPU time every few ms until it
// exits. A zombie still shows its final times, and once the launcher has reaped it, the
// launcher's cutime+cstime hold them, so the last reading is exact to a tick or two.
func watchK6(launcher int, launcherDone <-chan struct{}) k6Usage {
	const every = 5 * time.Millisecond
	var u k6Usage
	tick := time.NewTicker(every)
	defer tick.Stop()
	for u.pid == 0 {
		u.pid = childPID(launcher)
		if u.pid != 0 {
			break
		}
		select {
		case <-launcherDone:
			u.exited = time.Now()
			return u
		case <-tick.C:
		}
	}
	for {
		st, err := readProcStat(u.pid)
		if err == nil && st.ppid == launcher {
			u.cpu = max(u.cpu, st.cpu)
		}
		lost := err != nil || st.ppid != launcher
		if lost {
			// Gone, or not the launcher's any more. Twice this lost k6 within milliseconds of
			// its start on a loaded machine (the cause was not found: a moment around k6's
			// exec when neither /proc/<pid>/stat nor the launcher's child could be read is the
			// likeliest) and measured from there: conclude only when, for 50 ms, the launcher
			// has no live child, and otherwise follow the one it has.
			at := time.Now()
			if pid := stillChild(launcher, u.pid, 10, every); pid != 0 {
				u.pid = pid
			} else {
				u.exited = at
				break
			}
		} else if st.state == 'Z' || st.state == 'X' {
			u.exited = time.Now()
			break
		}
		select {
		case <-launcherDone:
			u.exited = time.Now()
			return u
		case <-tick.C:
		}
	}
	if st, err := readProcStat(launcher); err == nil {
		u.cpu = max(u.cpu, st.childCPU)
	}
	return u
}

// procStat is what watchK6 reads from /proc/<pid>/stat.
type procStat struct {
	state    byte
	ppid     int
	cpu      time.Duration // utime+stime
	childCPU time.Duration // cutime+cstime: children waited for
}

// readProcStat reads /proc/<pid>/stat (see proc(5): fields after the parenthesised command name).
func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state)
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	num := func(k int) int64 { n, _ := strconv.ParseInt(f[k], 10, 64); return n }
	return procStat{
		state:    f[0][0],
		ppid:     int(num(1)),
		cpu:      time.Duration(num(11)+num(12)) * clockTick,
		childCPU: time.Duration(num(13)+num(14)) * clockTick,
	}, nil
}

// childPID returns the pid of a process whose parent is ppid, or 0.
// stillChild looks for a live child of launcher, pid first, tries times every interval, and
// returns it, or 0 when none appeared.
func stillChild(launcher, pid, tries int, interval time.Duration) int {
	for range tries {
		if st, err := readProcStat(pid); err == nil && st.ppid == launcher && st.state != 'Z' && st.state != 'X' {
			return pid
		}
		if p := childPID(launcher); p != 0 {
			return p
		}
		time.Sleep(interval)
	}
	return 0
}

func childPID(ppid int) int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readProcStat(pid); err == nil && st.ppid == ppid {
			return pid
		}
	}
	return 0
}

// TestSecretsNotLogged runs k6-penelopa at debug level with credentials in every place they
// can be configured, against a receiver that answers 401 with a body echoing the request's
// Authorization and X-Tenant headers: no credential, nor any 8-character piece of one, may
// appear in stdout or stderr. The receiver checks that the credentials were really sent, so the
// echo was really there to leak.
func TestSecretsNotLogged(t *testing.T) {
	out := outputFromEnv(t)
	out.needsPenelopa(t)
	target := startTarget(t)
	const (
		user     = "u"
		password = "pw/S3cr3t@Zq81" // '/' and '@' are percent-encoded in a URL
		tenant   = "tenant-S3cr3t-Kx77"
		token    = "tok-S3cr3t-Rv42"
		// cutPad puts the Authorization value across the 256-byte limit of a logged answer, so
		// a piece of the credential sits at the end of the cut body.
		cutPad = 256 - len("Authorization=Basic ") - 12
	)
	basic := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	userinfo := url.UserPassword(user, password).String() // u:pw%2FS3cr3t%40Zq81
	basicSecrets := []string{password, userinfo, user + ":" + password, basic, tenant}
	withUserinfo := func(srv string) string { return strings.Replace(srv, "http://", "http://"+userinfo+"@", 1) }

	cases := []struct {
		name     string
		pad      int                                   // bytes of filler before the echo
		config   func(srv string) (args, env []string) // srv is the receiver's write URL
		secrets  []string
		wantAuth string // Authorization the receiver must see; "" when no request is expected
		wantExit int
	}{
		{
			name: "URL userinfo and header",
			config: func(srv string) ([]string, []string) {
				return []string{"--out", "penelopa"}, []string{"PENELOPA_METRICS_URL=" + withUserinfo(srv), "PENELOPA_HEADERS=X-Tenant:" + tenant}
			},
			secrets:  basicSecrets,
			wantAuth: "Basic " + basic,
		},
		{
			name: "bearer token",
			config: func(srv string) ([]string, []string) {
				return []string{"--out", "penelopa"}, []string{"PENELOPA_METRICS_URL=" + srv, "PENELOPA_BEARER_TOKEN=" + token, "PENELOPA_HEADERS=X-Tenant:" + tenant}
			},
			secrets:  []string{token, tenant},
			wantAuth: "Bearer " + token,
		},
		{
			name: "argument form, protocol 2 probe",
			config: func(srv string) ([]string, []string) {
				arg := "penelopa=url=" + srv + ",username=" + user + ",password=" + password + ",headers=X-Tenant:" + tenant + ",protocol=2"
				return []string{"--out", arg}, nil
			},
			secrets:  basicSecrets,
			wantAuth: "Basic " + basic,
		},
		{
			name: "echo cut at the logged length",
			pad:  cutPad,
			config: func(srv string) ([]string, []string) {
				return []string{"--out", "penelopa"}, []string{"PENELOPA_METRICS_URL=" + withUserinfo(srv), "PENELOPA_HEADERS=X-Tenant:" + tenant}
			},
			secrets:  basicSecrets,
			wantAuth: "Basic " + basic,
		},
		{
			name: "invalid URL with userinfo",
			config: func(srv string) ([]string, []string) {
				return []string{"--out", "penelopa"}, []string{"PENELOPA_METRICS_URL=" + strings.Replace(withUserinfo(srv), "http://", "htps://", 1)}
			},
			secrets:  basicSecrets,
			wantExit: 104,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, seen := startEchoAuthReceiver(t, tc.pad)
			args, env := tc.config(srv)
			env = append(env, "TARGET_URL="+target, "PENELOPA_LOG_LEVEL=debug", "PENELOPA_METRICS_PUSH_INTERVAL=1s")
			res := out.start(t, run{script: script(t, "short.js"), args: args, env: env, timeout: time.Minute})
			t.Logf("stderr:\n%s", res.stderr)
			if res.exitCode != tc.wantExit {
				t.Errorf("exit code %d, want %d", res.exitCode, tc.wantExit)
			}
			auths := seen()
			if tc.wantAuth != "" {
				if len(auths) == 0 {
					t.Fatalf("the receiver got no request, so nothing was echoed")
				}
				for _, a := range auths {
					if a != tc.wantAuth {
						t.Errorf("the receiver got Authorization %q, want %q", a, tc.wantAuth)
					}
				}
				if !strings.Contains(res.stderr, "401") {
					t.Errorf("stderr does not mention the receiver's 401: its echo was not logged in any form")
				}
			}
			t.Logf("the receiver answered %d requests with 401", len(auths))
			leaks := secretPieces(res.stdout+res.stderr, tc.secrets, 8)
			for _, leak := range leaks {
				t.Errorf("output contains %q, a piece of a credential", leak)
			}
		})
	}
}

// secretPieces returns every piece of minLen characters (or a whole secret, if shorter) of the
// secrets that occurs in text.
func secretPieces(text string, secrets []string, minLen int) []string {
	var found []string
	for _, s := range secrets {
		n := min(minLen, len(s))
		for i := 0; i+n <= len(s); i++ {
			if piece := s[i : i+n]; strings.Contains(text, piece) {
				found = append(found, piece)
				break
			}
		}
	}
	return found
}

// startEchoAuthReceiver answers every request with 401 and a body of pad filler bytes followed
// by the request's Authorization and X-Tenant headers, as a careless receiver might. It returns
// its remote-write URL and a func listing the Authorization values it got.
func startEchoAuthReceiver(t *testing.T, pad int) (string, func() []string) {
	t.Helper()
	var (
		mu    sync.Mutex
		auths []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		auth := r.Header.Get("Authorization")
		mu.Lock()
		auths = append(auths, auth)
		mu.Unlock()
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, "%sAuthorization=%s X-Tenant=%s", strings.Repeat("-", pad), auth, r.Header.Get("X-Tenant"))
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/api/v1/write", func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), auths...)
	}
}
