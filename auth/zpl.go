package auth

import (
	"bytes"
	"fmt"
)

// zplEntry is one line of a ZPL document (ZeroMQ RFC 4) that is neither
// blank nor a comment: a name at a nesting depth, with a value when the
// line has "= value".
type zplEntry struct {
	line     int // 1-based
	depth    int
	name     string
	value    string
	hasValue bool
}

// zplIndent is the number of spaces per nesting level.
const zplIndent = 4

// parseZPL splits data into entries. It accepts what ZPL allows: names of
// letters, digits and "$-_@.&+/", nesting by four spaces per level, values
// in double or single quotes (no escapes) or unquoted up to the end of the
// line or a comment, and comments starting with '#'. It does not build the
// tree: each entry carries its depth, which never exceeds the previous
// entry's depth plus one.
func parseZPL(data []byte) ([]zplEntry, error) {
	var entries []zplEntry
	prevDepth := -1
	for n := 1; len(data) > 0; n++ {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		e, ok, err := parseZPLLine(line)
		if err != nil {
			return nil, &CertError{Line: n, Err: err}
		}
		if !ok {
			continue
		}
		if e.depth > prevDepth+1 {
			return nil, &CertError{Line: n, Err: fmt.Errorf("%w: indented deeper than its parent", ErrSyntax)}
		}
		prevDepth = e.depth
		e.line = n
		entries = append(entries, e)
	}
	return entries, nil
}

// parseZPLLine parses one line without its end; ok is false for blank and
// comment lines.
func parseZPLLine(line []byte) (e zplEntry, ok bool, err error) {
	indent := 0
	for indent < len(line) && line[indent] == ' ' {
		indent++
	}
	rest := line[indent:]
	if len(rest) == 0 || rest[0] == '#' {
		return e, false, nil
	}
	if rest[0] == '\t' {
		return e, false, fmt.Errorf("%w: tab in indentation", ErrSyntax)
	}
	if indent%zplIndent != 0 {
		return e, false, fmt.Errorf("%w: indentation of %d spaces is not a multiple of %d", ErrSyntax, indent, zplIndent)
	}
	e.depth = indent / zplIndent
	i := 0
	for i < len(rest) && isZPLNameByte(rest[i]) {
		i++
	}
	if i == 0 {
		return e, false, fmt.Errorf("%w: invalid character %q where a name starts", ErrSyntax, rest[0])
	}
	e.name = string(rest[:i])
	rest = trimSpaceLeft(rest[i:])
	if len(rest) == 0 || rest[0] == '#' {
		return e, true, nil
	}
	if rest[0] != '=' {
		return e, false, fmt.Errorf("%w: invalid character %q after name %q", ErrSyntax, rest[0], e.name)
	}
	rest = trimSpaceLeft(rest[1:])
	e.hasValue = true
	if len(rest) > 0 && (rest[0] == '"' || rest[0] == '\'') {
		end := bytes.IndexByte(rest[1:], rest[0])
		if end < 0 {
			return e, false, fmt.Errorf("%w: unterminated quoted value", ErrSyntax)
		}
		e.value = string(rest[1 : 1+end])
		rest = trimSpaceLeft(rest[2+end:])
		if len(rest) > 0 && rest[0] != '#' {
			return e, false, fmt.Errorf("%w: text after the quoted value", ErrSyntax)
		}
		return e, true, nil
	}
	// An unquoted value runs to the end of the line or to a comment
	// introduced by whitespace and '#'.
	end := len(rest)
	for j := 1; j < len(rest); j++ {
		if rest[j] == '#' && (rest[j-1] == ' ' || rest[j-1] == '\t') {
			end = j
			break
		}
	}
	if len(rest) > 0 && rest[0] == '#' {
		end = 0
	}
	e.value = string(bytes.TrimRight(rest[:end], " \t"))
	return e, true, nil
}

func trimSpaceLeft(b []byte) []byte {
	return bytes.TrimLeft(b, " \t")
}

// isZPLNameByte reports whether c may appear in a ZPL name.
func isZPLNameByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '$', '-', '_', '@', '.', '&', '+', '/':
		return true
	}
	return false
}

// validZPLName reports whether s is a non-empty ZPL name.
func validZPLName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isZPLNameByte(s[i]) {
			return false
		}
	}
	return true
}

// appendZPLValue appends v quoted: in double quotes, or in single quotes
// when v holds a double quote. ok is false when v cannot be written (it
// holds both quote characters or a line end).
func appendZPLValue(dst []byte, v string) (_ []byte, ok bool) {
	if bytesContainsAny(v, "\r\n\x00") {
		return dst, false
	}
	q := byte('"')
	if bytesContainsAny(v, `"`) {
		if bytesContainsAny(v, "'") {
			return dst, false
		}
		q = '\''
	}
	dst = append(dst, q)
	dst = append(dst, v...)
	return append(dst, q), true
}

func bytesContainsAny(s, chars string) bool {
	return bytes.ContainsAny([]byte(s), chars)
}
