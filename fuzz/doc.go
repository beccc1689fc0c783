// Package fuzz holds the fuzz targets of the protocol layers that work
// through their public API: the frame codec, the streaming frame reader and
// the security handshakes. Targets that need a package's unexported
// decoders sit beside them in that package (frame's buffer sharing,
// mechanism's CURVE cipher, dump's command decoder, zmtp's subscription
// trie), as does z85's. This package has no code of its own outside its
// tests.
//
// Every target also runs its seed corpus as a plain test:
//
//	go test ./fuzz
//
// and can be fuzzed one at a time, for example:
//
//	go test ./fuzz -run '^$' -fuzz '^FuzzReader$' -fuzztime 30s
//
// The seeds come from the encoders of package frame and from the
// hostile-input cases; targets never allocate from a size the input
// declares, so memory stays bounded whatever the input.
package fuzz
