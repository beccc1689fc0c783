// Command zmtpdump decodes ZMTP (ZeroMQ) traffic for people and programs:
// greetings, handshakes (NULL, PLAIN, CURVE), commands and whole multipart
// messages, one line each in the manner of tcpdump, or JSON Lines. ZMTP
// 2.0 and 1.0 peers are decoded too, and so is libzmq's side of such a
// connection, which begins a ZMTP 3 greeting and downgrades.
//
// Usage:
//
//	zmtpdump [options] -r FILE        decode a pcap or pcapng file (- for stdin)
//	zmtpdump [options] -i IFACE [-w FILE]   decode live traffic (Linux, root; lo for loopback)
//	zmtpdump proxy [options] --listen EP --forward EP [-w FILE]
//	zmtpdump demo [options]
//
// Capture files may be pcap (microsecond or nanosecond timestamps, either
// byte order) or pcapng, with Ethernet (also VLAN-tagged), Linux cooked
// (SLL and SLL2), loopback (NULL/LOOP) or raw IP link layers, IPv4 or IPv6.
// TCP streams are reassembled by sequence number, also from segments
// captured out of order, twice, overlapping or split: a hole is held open
// until the direction's acknowledged FIN, 2 seconds of capture time, 4 MiB
// waiting behind it or the end of the capture. Octets the capture lost are
// then reported ("N octets missing") and decoding resynchronises on the
// next plausible frame boundary, marking what follows as unsynchronised.
// Unsupported link types and damaged files are errors naming the packet
// and its file offset; packets whose headers the snap length cut are
// counted in an error once the rest is decoded.
//
// The proxy relays connections untouched (EP is tcp://host:port or
// ipc://path), decodes both directions and, with -w, writes what it
// relayed as a pcap file of synthesised Ethernet/IP/TCP packets that reads
// back with -r and in other tools. The demo runs REQ/REP and PUB/SUB
// exchanges between this module's sockets through an in-process proxy.
//
// Output options: -v (frame details), -x and -X (hex, hex and ASCII), -t,
// -tt, -ttt, -tttt, -ttttt (timestamp styles as tcpdump's), -# (packet
// numbers), -c COUNT (stop after COUNT packets), --json (JSON Lines;
// the schema is in README.md), -q (per-connection statistics only),
// --stats (events and statistics), -s N (octets kept per frame),
// --show-passwords, --color. Filters: --port, --conn, --command,
// --socket-type, --topic. Run zmtpdump -h for the full list.
package main
