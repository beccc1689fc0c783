package frame

import (
	"encoding/binary"
	"strings"
)

// MaxPropertyValueSize is the largest metadata value the grammar allows:
// a 4-octet length below 2^31.
const MaxPropertyValueSize = 1<<31 - 1

// Well-known metadata property names.
const (
	PropSocketType = "Socket-Type"
	PropIdentity   = "Identity"
	PropResource   = "Resource"
	PropUserID     = "User-Id"
	PropPeerAddr   = "Peer-Address"
)

// Property is one metadata property: a name and an opaque value.
type Property struct {
	Name  string
	Value []byte
}

// Metadata is an ordered list of properties, as carried by READY and
// INITIATE. Names compare without regard to case.
type Metadata []Property

// Lookup returns the value of the first property whose name equals name
// without regard to ASCII case.
func (m Metadata) Lookup(name string) ([]byte, bool) {
	for _, p := range m {
		if strings.EqualFold(p.Name, name) {
			return p.Value, true
		}
	}
	return nil, false
}

// Get returns the value of the named property as a string, or "" when it is
// absent.
func (m Metadata) Get(name string) string {
	v, _ := m.Lookup(name)
	return string(v)
}

// Set replaces the value of the named property (compared without regard to
// case) or appends a new property.
func (m *Metadata) Set(name string, value []byte) {
	for i, p := range *m {
		if strings.EqualFold(p.Name, name) {
			(*m)[i].Value = value
			return
		}
	}
	*m = append(*m, Property{Name: name, Value: value})
}

// Validate checks every name against the grammar (1 to 255 octets of
// letters, digits and - _ . +) and every value length.
func (m Metadata) Validate() error {
	for _, p := range m {
		if !ValidPropertyName(p.Name) {
			return ErrBadPropertyName
		}
		if len(p.Value) > MaxPropertyValueSize {
			return ErrMalformedMetadata
		}
	}
	return nil
}

// EncodedLen returns the number of octets AppendMetadata appends for m.
func (m Metadata) EncodedLen() int {
	n := 0
	for _, p := range m {
		n += 1 + len(p.Name) + 4 + len(p.Value)
	}
	return n
}

// AppendMetadata appends the wire form of m. It does not validate m; call
// Validate first for metadata that did not come from this package's parser.
func AppendMetadata(dst []byte, m Metadata) []byte {
	for _, p := range m {
		dst = append(dst, byte(len(p.Name)))
		dst = append(dst, p.Name...)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(p.Value)))
		dst = append(dst, p.Value...)
	}
	return dst
}

// ParseMetadata parses a sequence of properties that must fill b exactly.
// Values are views into b; names are copied. A property with an empty or
// invalid name, a value length of 2^31 or more, a value running past the end
// of b, or stray octets after the last property are errors.
func ParseMetadata(b []byte) (Metadata, error) {
	var m Metadata
	for len(b) > 0 {
		nameLen := int(b[0])
		b = b[1:]
		if nameLen == 0 || len(b) < nameLen+4 {
			return nil, ErrMalformedMetadata
		}
		name := b[:nameLen]
		if !validPropertyNameBytes(name) {
			return nil, ErrBadPropertyName
		}
		b = b[nameLen:]
		vlen := binary.BigEndian.Uint32(b)
		b = b[4:]
		if vlen > MaxPropertyValueSize || uint64(vlen) > uint64(len(b)) {
			return nil, ErrMalformedMetadata
		}
		m = append(m, Property{Name: internPropertyName(name), Value: b[:vlen:vlen]})
		b = b[vlen:]
	}
	return m, nil
}

// ValidPropertyName reports whether name matches the grammar of a metadata
// property name.
func ValidPropertyName(name string) bool {
	if len(name) == 0 || len(name) > 255 {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !propertyNameChar(name[i]) {
			return false
		}
	}
	return true
}

func validPropertyNameBytes(name []byte) bool {
	for _, c := range name {
		if !propertyNameChar(c) {
			return false
		}
	}
	return len(name) > 0
}

func propertyNameChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	case c == '-', c == '_', c == '.', c == '+':
		return true
	}
	return false
}

func internPropertyName(b []byte) string {
	switch string(b) {
	case PropSocketType:
		return PropSocketType
	case PropIdentity:
		return PropIdentity
	case PropResource:
		return PropResource
	case PropUserID:
		return PropUserID
	}
	return string(b)
}
