// Command matrix runs the conformance cases against libzmq and prints the
// results as a Markdown table. It exits with status 1 if any case fails.
//
// Usage:
//
//	go run ./cmd/matrix [-run regexp] [-v]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"regexp"

	"github.com/zmtp-go/zmtp/conformance"
	"github.com/zmtp-go/zmtp/conformance/libzmq"
)

func main() {
	run := flag.String("run", "", "run only the cases whose `name/role` matches this regular expression")
	verbose := flag.Bool("v", false, "report each case on standard error as it ends")
	flag.Parse()
	var re *regexp.Regexp
	if *run != "" {
		var err error
		if re, err = regexp.Compile(*run); err != nil {
			fmt.Fprintln(os.Stderr, "matrix:", err)
			os.Exit(2)
		}
	}
	var cases []conformance.Case
	for _, c := range conformance.Cases() {
		if re == nil || re.MatchString(c.Name+"/"+c.Role) {
			cases = append(cases, c)
		}
	}
	results := conformance.RunAll(context.Background(), cases, func(r conformance.Result) {
		if !*verbose {
			return
		}
		status := "ok"
		if r.Err != nil {
			status = "FAIL: " + r.Err.Error()
		}
		fmt.Fprintf(os.Stderr, "%s/%s (%v) %s\n", r.Name, r.Role, r.Elapsed.Round(1e6), status)
	})
	if err := conformance.StopNodePeer(); err != nil {
		fmt.Fprintln(os.Stderr, "matrix:", err)
	}
	if err := conformance.StopKerberos(); err != nil {
		fmt.Fprintln(os.Stderr, "matrix: stopping the Kerberos realm:", err)
	}
	fmt.Printf("Conformance with libzmq %s over TCP on loopback:\n\n%s", libzmq.Version(), conformance.Markdown(results))
	if conformance.Failed(results) {
		os.Exit(1)
	}
}
