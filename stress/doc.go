// Package stress holds long-running checks of the library's resource
// bounds: memory held under high-water marks, hostile frame sequences,
// buffers released after large messages, thousands of idle connections and
// very large subscriptions. Each is a test behind the stress build tag,
// printing its figures and asserting its bound:
//
//	go test -tags stress -run . -v ./stress
//
// See README.md for what each one checks. Without the tag the package is
// empty and costs nothing in go test ./... .
package stress
