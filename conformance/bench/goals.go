package main

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// readmeOnly selects the workloads of the README's Performance section
// (-readme): the throughput and latency workloads, without inproc and the
// resource workloads.
const readmeOnly = `^(pushpull/(tcp|ipc|curve)|reqrep2p/tcp|reqrep/tcp|pubsub/tcp|pubsub100/tcp|router100/tcp)$`

// goal is one target of the performance goals, a ratio of ours to
// libzmq-c on some rows of a workload.
type goal struct {
	what   string
	work   string
	kind   string // row kind: "thr", "p50", "p99"
	into   bool   // the RecvInto row
	cpu    bool   // the CPU ratio rather than the rate or latency ratio
	sizes  []int
	atMost bool // the ratio must be at most target (latency, CPU), else at least
	target float64
}

var goals = []goal{
	{what: "PUSH/PULL tcp msg/s, Recv", work: wPushPullTCP, kind: "thr", sizes: []int{1, 64, 1024}, target: 2.0},
	{what: "PUSH/PULL tcp msg/s, Recv", work: wPushPullTCP, kind: "thr", sizes: []int{65536}, target: 1.5},
	{what: "PUSH/PULL tcp msg/s, RecvInto", work: wPushPullTCP, kind: "thr", into: true, sizes: []int{1, 64, 1024}, target: 2.0},
	{what: "PUSH/PULL tcp msg/s, RecvInto", work: wPushPullTCP, kind: "thr", into: true, sizes: []int{65536}, target: 1.5},
	{what: "PUSH/PULL tcp CPU per message (both ends), Recv", work: wPushPullTCP, kind: "thr", cpu: true, sizes: []int{1, 64, 1024}, atMost: true, target: 0.5},
	{what: "PUSH/PULL tcp CPU per message (both ends), RecvInto", work: wPushPullTCP, kind: "thr", into: true, cpu: true, sizes: []int{1, 64, 1024}, atMost: true, target: 0.5},
	{what: "PUSH/PULL CURVE msg/s", work: wPushPullCurve, kind: "thr", sizes: []int{1, 64, 1024}, target: 1.5},
	{what: "PUSH/PULL CURVE msg/s", work: wPushPullCurve, kind: "thr", sizes: []int{65536}, target: 1.2},
	{what: "PUB fan-out to 4 SUBs, deliveries/s", work: wPubSub, kind: "thr", sizes: []int{64}, target: 2.0},
	{what: "PUB fan-out to 100 SUBs, deliveries/s", work: wPubSubMany, kind: "thr", sizes: []int{64}, target: 2.0},
	{what: "ROUTER from 100 DEALERs msg/s", work: wRouter, kind: "thr", sizes: []int{64}, target: 2.0},
	{what: "PUSH/PULL ipc msg/s", work: wPushPullIPC, kind: "thr", sizes: []int{64, 1024}, target: 2.0},
	{what: "REQ/REP round trip, 2 processes, p50", work: wReqRep2, kind: "p50", sizes: []int{64}, atMost: true, target: 0.7},
	{what: "REQ/REP round trip, 2 processes, p99", work: wReqRep2, kind: "p99", sizes: []int{64}, atMost: true, target: 1.0},
}

// printGoals prints, for every goal whose workload ran, the ratio of ours
// to libzmq-c at each size and whether it meets the target.
func printGoals(out io.Writer, results map[string][]*row) {
	var lines []string
	for _, g := range goals {
		rows := results[g.work]
		if rows == nil {
			continue
		}
		for _, size := range g.sizes {
			r := findRow(rows, g, size)
			if r == nil {
				continue
			}
			v := ratioOf(r, g.cpu)
			cmp, met := "≥", v >= g.target
			if g.atMost {
				cmp, met = "≤", v <= g.target
			}
			verdict := "no"
			switch {
			case math.IsNaN(v):
				verdict = "–"
			case met:
				verdict = "yes"
			}
			lines = append(lines, fmt.Sprintf("| %s | %d | %s | %s %.1f | %s |", g.what, size, fmtRatio(v), cmp, g.target, verdict))
		}
	}
	if len(lines) == 0 {
		return
	}
	fmt.Fprintln(out, "### Goals: ours against libzmq-c, in this run")
	fmt.Fprintln(out)
	fmt.Fprintln(out, "| goal | size | ours/libzmq-c | target | met |")
	fmt.Fprintln(out, "|---|---:|---:|---:|:---:|")
	fmt.Fprintln(out, strings.Join(lines, "\n"))
	fmt.Fprintln(out)
	fmt.Fprintln(out, "Rates: above 1 means ours is faster. CPU per message and latency: below 1 means ours uses less or is quicker. Each ratio is of the medians in the tables above.")
	fmt.Fprintln(out)
}

func findRow(rows []*row, g goal, size int) *row {
	for _, r := range rows {
		if r.size == size && r.kind == g.kind && (r.only != "") == g.into {
			return r
		}
	}
	return nil
}

func ratioOf(r *row, cpu bool) float64 {
	a, b := r.cells[implOurs], r.cells[implLibzmqC]
	if a == nil || b == nil || a.na || b.na {
		return math.NaN()
	}
	if cpu {
		return a.cpuMedian() / b.cpuMedian()
	}
	return a.median() / b.median()
}

func fmtRatio(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	return fmt.Sprintf("%.2f", v)
}
