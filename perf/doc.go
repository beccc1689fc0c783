// Package perf holds programs that mirror libzmq's perf tools (local_thr,
// remote_thr, local_lat, remote_lat): the same arguments and the same output
// lines, so that any harness built for libzmq can measure this module too.
//
//	local_thr  <bind-to>    <message-size> <message-count>
//	remote_thr <connect-to> <message-size> <message-count>
//	local_lat  <bind-to>    <message-size> <roundtrip-count>
//	remote_lat <connect-to> <message-size> <roundtrip-count>
package perf
