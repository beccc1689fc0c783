package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"

	zmq "github.com/pebbe/zmq4"
)

func printTable(out io.Writer, o *options, w workload, rows []*row) {
	fmt.Fprintf(out, "### %s\n\n", w.title)
	per := "msg"
	if w.lat {
		per = "round trip"
	}
	fmt.Fprintf(out, "| workload | size | ours | libzmq-c | libzmq-cgo | go-zeromq | ours/libzmq-c | ours/go-zeromq | CPU/%[1]s ours | CPU/%[1]s libzmq-c | CPU/%[1]s libzmq-cgo | CPU/%[1]s go-zeromq | CPU ours/libzmq-c |\n", per)
	fmt.Fprintln(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		fmt.Fprintf(out, "| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.label, r.size,
			r.value(implOurs), r.value(implLibzmqC), r.value(implLibzmqCgo), r.value(implGoZeromq),
			r.ratio(implOurs, implLibzmqC), r.ratio(implOurs, implGoZeromq),
			r.cpu(implOurs), r.cpu(implLibzmqC), r.cpu(implLibzmqCgo), r.cpu(implGoZeromq),
			r.cpuRatio(implOurs, implLibzmqC))
	}
	fmt.Fprintln(out)
	fmt.Fprintln(out, repeatsNote(o, w)+" "+cpuNote)
	if w.note != "" {
		fmt.Fprintln(out)
		fmt.Fprintln(out, w.note)
	}
	if o.verbose {
		fmt.Fprintln(out)
		fmt.Fprintln(out, "Spread over repeats (min – max; CPU time per message in brackets):")
		fmt.Fprintln(out)
		for _, r := range rows {
			var parts []string
			for _, im := range allImpls {
				c := r.cells[im]
				if c == nil || c.na || len(c.values) == 0 || (r.only != "" && im != r.only) {
					continue
				}
				lo, hi := slices.Min(c.values), slices.Max(c.values)
				p := fmt.Sprintf("%s %s – %s", im, r.short(lo), r.short(hi))
				if !r.noCPU && len(c.cpu) > 0 {
					p += fmt.Sprintf(" (CPU %s – %s)", fmtCPU(slices.Min(c.cpu)), fmtCPU(slices.Max(c.cpu)))
				}
				parts = append(parts, p)
			}
			fmt.Fprintf(out, "- %s %d: %s\n", r.label, r.size, strings.Join(parts, "; "))
		}
	}
	fmt.Fprintln(out)
}

func repeatsNote(o *options, w workload) string {
	var parts []string
	seen := map[int]bool{}
	for _, s := range w.sizes {
		n := o.repeatsFor(w, s)
		if !seen[n] {
			seen[n] = true
			parts = append(parts, fmt.Sprint(n))
		}
	}
	what := "Median of " + strings.Join(parts, " or ") + " repeats"
	if len(parts) > 1 {
		what += fmt.Sprintf(" (%d for 1 and 64 octets)", o.repeatsFor(w, 1))
	}
	if w.lat {
		return what + fmt.Sprintf(" of %d round trips each; ratios below 1 mean ours is faster.", o.roundTrips)
	}
	return what + "; ratios above 1 mean ours is faster."
}

// cpuNote explains the CPU columns, under every table.
const cpuNote = "CPU/msg is the user and system CPU time of the measurement's process (getrusage, all its threads: sender and receiver, libzmq's I/O threads, Go's runtime and GC) from before its sockets are opened to after they are closed, divided by the messages received (by the round trips, warm-up ones included, for latency; for two processes, both processes' CPU time), median over the repeats; it usually varies less than msg/s when other work shares the machine, though load changes it too. CPU ratios below 1 mean ours uses less."

// sameAsAbove is shown in a row that measures one implementation only,
// in the other implementations' columns.
const sameAsAbove = "〃"

func (r *row) value(im string) string {
	if r.only != "" && im != r.only {
		return sameAsAbove
	}
	c := r.cells[im]
	if gap := cellGap(c, false); gap != "" {
		return gap
	}
	v := r.long(c.median())
	if c.failed > 0 {
		v += fmt.Sprintf(" (%d failed)", c.failed)
	}
	return v
}

func (r *row) ratio(a, b string) string {
	return cellRatio(r.cells[a], r.cells[b], (*cell).median)
}

// cpu formats the median CPU time per message of an implementation.
func (r *row) cpu(im string) string {
	if r.noCPU {
		return ""
	}
	if r.only != "" && im != r.only {
		return sameAsAbove
	}
	c := r.cells[im]
	if gap := cellGap(c, true); gap != "" {
		return gap
	}
	return fmtCPU(c.cpuMedian())
}

func (r *row) cpuRatio(a, b string) string {
	if r.noCPU {
		return ""
	}
	return cellRatio(r.cells[a], r.cells[b], (*cell).cpuMedian)
}

// cellGap is the text a table shows for c in place of a figure: "not
// run", "n/a", or "failed" when it has no value (no CPU time, with cpu);
// "" when it has a figure to show.
func cellGap(c *cell, cpu bool) string {
	switch {
	case c == nil:
		return "not run"
	case c.na:
		return "n/a"
	case len(c.values) == 0 && !cpu, len(c.cpu) == 0 && cpu:
		return "failed"
	}
	return ""
}

// cellRatio is the ratio of a's figure to b's, each the median med
// returns.
func cellRatio(a, b *cell, med func(*cell) float64) string {
	if a == nil || b == nil || a.na || b.na {
		return "n/a"
	}
	x, y := med(a), med(b)
	if math.IsNaN(x) || math.IsNaN(y) || y <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", x/y)
}

// fmtCPU formats a CPU time per message given in seconds.
func fmtCPU(s float64) string {
	switch {
	case s >= 1e-3:
		return sig3plain(s*1e3) + " ms"
	case s >= 1e-6:
		return sig3plain(s*1e6) + " µs"
	}
	return sig3plain(s*1e9) + " ns"
}

func (r *row) long(v float64) string {
	if r.kind == "thr" {
		return fmtRate(v, r.size)
	}
	return fmt.Sprintf("%.1f µs", v)
}

func (r *row) short(v float64) string {
	if r.kind == "thr" {
		return sig3(v) + " msg/s"
	}
	return fmt.Sprintf("%.1f µs", v)
}

// fmtRate formats a message rate and the data rate it makes at size octets
// (MB = 10^6 octets).
func fmtRate(rate float64, size int) string {
	return fmt.Sprintf("%s msg/s, %s MB/s", sig3(rate), sig3plain(rate*float64(size)/1e6))
}

// sig3 formats v with three significant digits and a k or M suffix.
func sig3(v float64) string {
	switch {
	case v >= 1e6:
		return sig3plain(v/1e6) + "M"
	case v >= 1e3:
		return sig3plain(v/1e3) + "k"
	}
	return sig3plain(v)
}

func sig3plain(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	case v >= 1:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.3f", v)
}

// machineLine describes the machine and the versions under test.
func machineLine() string {
	major, minor, patch := zmq.Version()
	return fmt.Sprintf("Machine: %s, %d cores (GOMAXPROCS %d), %s %s, %s; libzmq %s (libzmq-c), %d.%d.%d via pebbe/zmq4 %s (libzmq-cgo); go-zeromq/zmq4 %s; load average at the start: %s.",
		cpuModel(), runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, runtime.Version(),
		libzmqVersion(), major, minor, patch, depVersion("github.com/pebbe/zmq4"), depVersion("github.com/go-zeromq/zmq4"), loadAvg())
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func depVersion(path string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, d := range bi.Deps {
		if d.Path == path {
			if d.Replace != nil && d.Replace.Version != "" {
				return d.Replace.Version
			}
			return d.Version
		}
	}
	return "unknown"
}
