package conformance_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/zmtp-go/zmtp/conformance"
	"github.com/zmtp-go/zmtp/conformance/libzmq"
	"go.uber.org/goleak"
)

var (
	mu      sync.Mutex
	results []conformance.Result
)

// TestMain prints the matrix of results after the tests and then checks
// that no goroutine of ours is left behind.
func TestMain(m *testing.M) {
	code := m.Run()
	if err := conformance.StopNodePeer(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	if err := conformance.StopKerberos(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping the Kerberos realm:", err)
		code = 1
	}
	mu.Lock()
	if len(results) > 0 {
		fmt.Printf("\nConformance with libzmq %s:\n\n%s", libzmq.Version(), conformance.Markdown(results))
	}
	mu.Unlock()
	if code == 0 {
		if err := goleak.Find(ignoreGoZeromq); err != nil {
			fmt.Fprintln(os.Stderr, "goroutine leak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// ignoreGoZeromq skips a goroutine that go-zeromq/zmq4's PUB leaves behind
// after Close; the interop cases with it must not fail on its leak.
var ignoreGoZeromq = goleak.IgnoreAnyFunction("github.com/go-zeromq/zmq4.(*pubMWriter).run")

// ignoreKerberos skips the goroutine that waits for the krb5kdc of the
// GSSAPI cases, which lives until StopKerberos.
var ignoreKerberos = goleak.IgnoreAnyFunction(conformance.KerberosWaiter)

// TestConformance runs every case as a subtest named case/role, such as
// "PUSH-PULL/we-dial".
func TestConformance(t *testing.T) {
	var byName = map[string][]conformance.Case{}
	var names []string
	for _, c := range conformance.Cases() {
		if byName[c.Name] == nil {
			names = append(names, c.Name)
		}
		byName[c.Name] = append(byName[c.Name], c)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			for _, c := range byName[name] {
				t.Run(c.Role, func(t *testing.T) {
					defer goleak.VerifyNone(t, goleak.IgnoreCurrent(), ignoreGoZeromq, ignoreKerberos)
					r := c.Exec(context.Background())
					mu.Lock()
					results = append(results, r)
					mu.Unlock()
					if r.Err != nil {
						t.Fatalf("%s %s: %v", c.Name, c.Role, r.Err)
					}
					t.Logf("passed in %v", r.Elapsed.Round(1e6))
				})
			}
		})
	}
}
