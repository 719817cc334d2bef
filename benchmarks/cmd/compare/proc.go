package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// How a run's cost is measured, and why this way.
//
// CPU: the total is exact. A run's program is our direct child, and wait4(2) on Linux returns
// the child's own usage plus that of every descendant it waited for (the kernel fills it with
// RUSAGE_BOTH of the exiting child). k6-penelopa waits for its k6, so the launcher's wait4
// rusage covers k6-penelopa and k6 together (TestRunMeasuredCountsDescendants checks this).
// The split between the two comes from /proc: the launcher is left unreaped for a moment after
// it exits (waitid with WNOWAIT), and the zombie's stat still holds its own final utime+stime
// (fields 14-15) and, in cutime+cstime (fields 16-17), the exact CPU of the k6 it reaped.
//
// Memory: "peak RSS" is the sum of every process's own peak resident set (VmHWM), the memory
// each needed at its worst. wait4 cannot give that sum: its ru_maxrss is the largest single
// peak among the child and its reaped descendants, not their total. So a poller reads
// /proc/<pid>/status VmHWM of every process in the tree every -poll interval and keeps the last
// value; VmHWM only grows, so the last poll misses at most the growth of a process's final
// interval. Two facts tighten that: when the program is the only process (no output, or the
// built-in output), its exact ru_maxrss is used as is; with k6-penelopa, ru_maxrss is the exact
// peak of the larger process, so the largest polled peak is raised to it. The report shows how
// far polled values fell short of ru_maxrss on single-process runs: the polling error.

// clockTicks is USER_HZ, the unit of CPU times in /proc/<pid>/stat; Linux fixes it at 100 for
// every architecture's userspace ABI.
const clockTicks = 100

// procSample is what /proc showed of one process at its latest poll.
type procSample struct {
	pid        int
	parent     int    // the pid it was found under; 0 for the root
	comm       string // executable name, as the kernel keeps it (15 bytes at most)
	start      uint64 // start time in ticks after boot: tells a reused pid from the original
	cpuTicks   uint64 // utime+stime of the process itself
	childTicks uint64 // cutime+cstime: CPU of the children it has reaped
	hwmKiB     uint64 // VmHWM, its peak resident set so far
}

// treeSampler keeps the latest sample of every process seen under a root pid.
// It is used by one goroutine at a time.
type treeSampler struct {
	root  int
	procs map[int]*procSample
	order []int // pids in order of discovery, for a stable report
}

func newTreeSampler(root int) *treeSampler {
	return &treeSampler{root: root, procs: make(map[int]*procSample)}
}

// poll samples the whole tree once. Processes that vanish while it reads are skipped: their
// previous sample stays.
func (s *treeSampler) poll() {
	s.walk(s.root, 0, 0)
}

func (s *treeSampler) walk(pid, parent, depth int) {
	if depth > 16 {
		return // a loop in what /proc showed mid-change: never in a real tree
	}
	cur, err := readProc(pid)
	if err != nil {
		return
	}
	cur.parent = parent
	prev, ok := s.procs[pid]
	switch {
	case !ok:
		s.procs[pid] = &cur
		s.order = append(s.order, pid)
	case prev.start != cur.start:
		*prev = cur // the pid was reused: a different process now
	default:
		// A child polled between fork and exec still bore its parent's name.
		prev.comm = cur.comm
		// A zombie has no memory map and shows no VmHWM: keep the value seen while it ran.
		prev.cpuTicks = max(prev.cpuTicks, cur.cpuTicks)
		prev.childTicks = max(prev.childTicks, cur.childTicks)
		prev.hwmKiB = max(prev.hwmKiB, cur.hwmKiB)
	}
	for _, c := range childPids(pid) {
		s.walk(c, pid, depth+1)
	}
}

// readProc reads one process's stat and status files.
func readProc(pid int) (procSample, error) {
	dir := "/proc/" + strconv.Itoa(pid)
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return procSample{}, err
	}
	p, err := parseStat(stat)
	if err != nil {
		return procSample{}, fmt.Errorf("pid %d: %w", pid, err)
	}
	p.pid = pid
	if status, err := os.ReadFile(dir + "/status"); err == nil {
		p.hwmKiB = parseVmHWM(status)
	}
	return p, nil
}

// parseStat reads the fields of /proc/<pid>/stat that a sample needs (see proc(5)). The
// executable name is in parentheses and may itself contain spaces and parentheses, so the
// fields are counted from the last ')'.
func parseStat(b []byte) (procSample, error) {
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return procSample{}, errors.New("malformed stat: no (comm)")
	}
	f := strings.Fields(string(b[end+1:])) // f[0] is field 3 (state): field n is f[n-3]
	if len(f) < 20 {
		return procSample{}, fmt.Errorf("malformed stat: %d fields after comm", len(f))
	}
	var v [5]uint64
	for i, n := range [5]int{14, 15, 16, 17, 22} { // utime stime cutime cstime starttime
		x, err := strconv.ParseInt(f[n-3], 10, 64)
		if err != nil {
			return procSample{}, fmt.Errorf("malformed stat field %d: %w", n, err)
		}
		v[i] = uint64(max(x, 0))
	}
	return procSample{
		comm:       string(b[open+1 : end]),
		cpuTicks:   v[0] + v[1],
		childTicks: v[2] + v[3],
		start:      v[4],
	}, nil
}

// parseVmHWM returns the VmHWM line of /proc/<pid>/status in KiB, or 0 when absent (a zombie or
// a kernel thread).
func parseVmHWM(status []byte) uint64 {
	for line := range bytes.Lines(status) {
		rest, ok := bytes.CutPrefix(line, []byte("VmHWM:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest) // "1234 kB"
		if len(f) == 0 {
			return 0
		}
		n, _ := strconv.ParseUint(string(f[0]), 10, 64)
		return n
	}
	return 0
}

// childPids lists a process's children: every thread keeps its own list, so all are read.
func childPids(pid int) []int {
	tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/children")
	var out []int
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// procUsage is one process's share of a run.
type procUsage struct {
	name   string
	cpu    float64 // seconds
	hwmKiB uint64  // peak resident set
}

// usage is what a run's processes consumed together.
type usage struct {
	wall    time.Duration
	cpu     float64     // user+sys seconds of every process (exact, from wait4)
	rssKiB  uint64      // sum of every process's peak resident set
	procs   []procUsage // the root first
	exitErr error       // the program's failure, if it failed

	// Polling accuracy on single-process runs: the last polled values of the one process
	// against wait4's exact ones.
	single       bool
	polledCPU    float64
	polledHWMKiB uint64
	maxrssKiB    uint64

	// splitExact: every descendant's CPU came from its parent's reaped-children time, not from
	// a last poll (only the split between processes depends on it, never the total).
	splitExact bool
}

// procSpec is a program to measure.
type procSpec struct {
	path           string
	args           []string
	env            []string
	stdout, stderr *os.File
	timeout        time.Duration
	poll           time.Duration
}

// runMeasured runs a program to its end in a process group of its own, polls its process tree,
// and returns what the tree consumed. When ctx ends or the timeout passes, the whole group is
// killed. A failed program still yields its usage, with exitErr set.
func runMeasured(ctx context.Context, spec procSpec) (usage, error) {
	ctx, cancel := context.WithTimeout(ctx, spec.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, spec.path, spec.args...)
	cmd.Env = spec.env
	cmd.Stdout, cmd.Stderr = spec.stdout, spec.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return usage{}, fmt.Errorf("starting %s: %w", spec.path, err)
	}
	sampler := newTreeSampler(cmd.Process.Pid)
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(spec.poll)
		defer t.Stop()
		for {
			sampler.poll()
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	exitedErr := waitExited(cmd.Process.Pid)
	wall := time.Since(start)
	close(stop)
	<-stopped
	if exitedErr == nil {
		sampler.poll() // the zombie: final CPU times, its reaped children's included
	}
	waitErr := cmd.Wait()
	// Nothing of the run may outlive it: a descendant its parent left behind goes too.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)

	if ctx.Err() != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return usage{}, fmt.Errorf("timed out after %s (see -timeout): killed", spec.timeout)
		}
		return usage{}, ctx.Err()
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return usage{}, errors.New("no rusage from wait4: this program needs Linux")
	}
	u := combine(sampler, cmd.Process.Pid, ru)
	u.wall = wall
	if waitErr != nil {
		u.exitErr = waitErr
	}
	return u, nil
}

// combine joins wait4's exact totals with the polled per-process values, as described at the
// top of this file.
func combine(s *treeSampler, root int, ru *syscall.Rusage) usage {
	u := usage{
		cpu:        tvSeconds(ru.Utime) + tvSeconds(ru.Stime),
		maxrssKiB:  uint64(max(ru.Maxrss, 0)), // KiB on Linux
		splitExact: true,
	}
	rootSample := s.procs[root]
	if rootSample == nil { // exited before the first poll
		u.procs = []procUsage{{name: "?", cpu: u.cpu, hwmKiB: u.maxrssKiB}}
		u.rssKiB = u.maxrssKiB
		return u
	}
	var others []*procSample
	for _, pid := range s.order {
		if pid != root {
			others = append(others, s.procs[pid])
		}
	}
	if len(others) == 0 {
		u.single = true
		u.polledCPU = float64(rootSample.cpuTicks) / clockTicks
		u.polledHWMKiB = rootSample.hwmKiB
		u.procs = []procUsage{{name: rootSample.comm, cpu: u.cpu, hwmKiB: u.maxrssKiB}}
		u.rssKiB = u.maxrssKiB
		return u
	}

	// CPU of each descendant: its parent's reaped-children time when the parent has that one
	// child only (exact), else its own last polled time.
	children := make(map[int]int)
	for _, p := range others {
		children[p.parent]++
	}
	var othersCPU float64
	procs := make([]procUsage, 0, len(others)+1)
	procs = append(procs, procUsage{name: rootSample.comm, hwmKiB: rootSample.hwmKiB})
	for _, p := range others {
		ticks := p.cpuTicks
		parent := s.procs[p.parent]
		if parent != nil && children[p.parent] == 1 && parent.childTicks >= p.cpuTicks {
			ticks = parent.childTicks
		} else {
			u.splitExact = false // not seen reaped: its last poll stands in
		}
		cpu := float64(ticks) / clockTicks
		othersCPU += cpu
		procs = append(procs, procUsage{name: p.comm, cpu: cpu, hwmKiB: p.hwmKiB})
	}
	procs[0].cpu = max(u.cpu-othersCPU, 0)

	// Memory: the largest polled peak is raised to wait4's exact largest peak.
	big := 0
	for i := range procs {
		if procs[i].hwmKiB > procs[big].hwmKiB {
			big = i
		}
	}
	procs[big].hwmKiB = max(procs[big].hwmKiB, u.maxrssKiB)
	for _, p := range procs {
		u.rssKiB += p.hwmKiB
	}
	u.procs = procs
	return u
}

// hostCPU is a snapshot of the machine's CPU time, to tell how much of it went to processes
// that are no part of the comparison while a run ran (another build or test on the machine
// disturbs the numbers, and the report says so).
type hostCPU struct {
	busy  uint64 // clock ticks of non-idle time, every CPU together
	known uint64 // clock ticks of this program and its helpers (receiver, HTTP target)
}

// readHostCPU reads /proc/stat's cpu line and the CPU time of this program and of the helper
// processes given (pid 0: none). Unreadable values read as 0.
func readHostCPU(helpers ...int) hostCPU {
	var h hostCPU
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := bytes.Cut(b, []byte("\n"))
		f := strings.Fields(string(line)) // cpu user nice system idle iowait irq softirq steal ...
		for i := 1; i < len(f) && i <= 8; i++ {
			if i == 4 || i == 5 { // idle, iowait
				continue
			}
			n, _ := strconv.ParseUint(f[i], 10, 64)
			h.busy += n
		}
	}
	for _, pid := range append(helpers, os.Getpid()) {
		if pid <= 0 {
			continue
		}
		if p, err := readProc(pid); err == nil {
			h.known += p.cpuTicks
		}
	}
	return h
}

// othersSince returns the CPU seconds that went, between before and h, to processes other than
// this program, its helpers and the run itself (runCPU seconds); never below 0.
func (h hostCPU) othersSince(before hostCPU, runCPU float64) float64 {
	ticks := float64(h.busy-before.busy) - float64(h.known-before.known)
	return max(ticks/clockTicks-runCPU, 0)
}

// waitExited blocks until the child has exited but leaves it unreaped (waitid with WNOWAIT), so
// that its /proc entry can still be read: a zombie's stat holds its final CPU times and those of
// the children it reaped. cmd.Wait reaps it afterwards.
func waitExited(pid int) error {
	const pPID = 1     // idtype_t P_PID
	var info [128]byte // siginfo_t, filled in and not read
	for {
		_, _, e := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid),
			uintptr(unsafe.Pointer(&info)), syscall.WEXITED|syscall.WNOWAIT, 0, 0)
		switch e {
		case 0:
			return nil
		case syscall.EINTR:
			continue
		default:
			return fmt.Errorf("waitid %d: %w", pid, e)
		}
	}
}

func tvSeconds(tv syscall.Timeval) float64 {
	return float64(tv.Sec) + float64(tv.Usec)/1e6
}
