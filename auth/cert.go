package auth

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/zmtp-go/zmtp/mechanism"
	"github.com/zmtp-go/zmtp/z85"
)

// Certificate is a CURVE key pair with metadata, in czmq's zcert format: a
// public certificate file holds the public key and the metadata; a secret
// certificate file (the same name with "_secret" appended) holds both keys.
// pyzmq's zmq.auth.create_certificates writes NAME.key and NAME.key_secret
// in this format and zmq.auth.load_certificate reads it.
//
// The zero SecretKey means that the certificate holds no secret key (a
// public certificate). A Certificate is a plain value: copy it freely.
type Certificate struct {
	// PublicKey is the CURVE long-term public key.
	PublicKey [32]byte
	// SecretKey is the matching secret key, or all zeros when unknown.
	SecretKey [32]byte
	// Metadata are the properties of the certificate's "metadata" section,
	// such as "name" or "email". Names are ZPL names (letters, digits and
	// "$-_@.&+/"), values text without line ends.
	Metadata map[string]string
}

// SecretSuffix is appended to a certificate's file name for the file that
// holds its secret key.
const SecretSuffix = "_secret"

// MaxCertificateSize bounds the size of a certificate file that is read.
const MaxCertificateSize = 64 << 10

// Errors of certificates, found with errors.Is in a *CertError.
var (
	// ErrSyntax reports text that is not valid ZPL.
	ErrSyntax = errors.New("invalid ZPL syntax")
	// ErrInvalidKey reports a key that is not 40 characters of Z85, or a
	// key given twice.
	ErrInvalidKey = errors.New("invalid CURVE key")
	// ErrNoPublicKey reports a certificate without a public key.
	ErrNoPublicKey = errors.New("no public key")
	// ErrKeyMismatch reports a secret key whose public key is not the one
	// in the certificate (also between a public and a secret file).
	ErrKeyMismatch = errors.New("the secret key does not belong to the public key")
	// ErrTooLarge reports a certificate file larger than MaxCertificateSize.
	ErrTooLarge = errors.New("certificate too large")
	// ErrMetadata reports metadata that cannot be written in a certificate:
	// a name that is not a ZPL name or that pyzmq would take for a key, a
	// value with a line end or with both quote characters, or a name given
	// twice in a file.
	ErrMetadata = errors.New("invalid certificate metadata")
)

// CertError is the error of reading or writing a certificate. Err is one
// of the Err* values of this package (wrapped with details) or an error of
// the file system.
type CertError struct {
	Path string // the file, when known
	Line int    // the line of the file, 1-based, or 0
	Err  error
}

// Error gives the file, the line and the cause.
func (e *CertError) Error() string {
	var b strings.Builder
	b.WriteString("auth: certificate")
	if e.Path != "" {
		b.WriteString(" " + e.Path)
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, " line %d", e.Line)
	}
	b.WriteString(": " + e.Err.Error())
	return b.String()
}

// Unwrap returns Err.
func (e *CertError) Unwrap() error { return e.Err }

// NewCertificate returns a certificate with a new key pair whose secret key
// is read from r (crypto/rand when r is nil), and no metadata.
func NewCertificate(r io.Reader) (*Certificate, error) {
	pub, sec, err := mechanism.GenerateCurveKeyPair(r)
	if err != nil {
		return nil, err
	}
	return &Certificate{PublicKey: pub, SecretKey: sec}, nil
}

// HasSecretKey reports whether c holds a secret key.
func (c *Certificate) HasSecretKey() bool { return c.SecretKey != [32]byte{} }

// PublicText returns the public key in Z85, the 40 characters libzmq's
// ZMQ_CURVE_PUBLICKEY and ZMQ_CURVE_SERVERKEY options take.
func (c *Certificate) PublicText() string { return z85Key(c.PublicKey) }

// SecretText returns the secret key in Z85, or "" when c holds none.
func (c *Certificate) SecretText() string {
	if !c.HasSecretKey() {
		return ""
	}
	return z85Key(c.SecretKey)
}

func z85Key(k [32]byte) string {
	s, _ := z85.EncodeToString(k[:]) // 32 is a multiple of 4
	return s
}

// CurveServer returns the CURVE mechanism of a server using c's key pair,
// which asks a about each client.
func (c *Certificate) CurveServer(a mechanism.Authenticator) mechanism.Curve {
	return mechanism.Curve{Server: true, PublicKey: c.PublicKey, SecretKey: c.SecretKey, Authenticator: a}
}

// CurveClient returns the CURVE mechanism of a client using c's key pair,
// connecting to the server whose public certificate is server.
func (c *Certificate) CurveClient(server *Certificate) mechanism.Curve {
	return mechanism.Curve{PublicKey: c.PublicKey, SecretKey: c.SecretKey, ServerKey: server.PublicKey}
}

// MarshalPublic returns the public certificate file: a comment, the
// metadata and the public key. The file tells when it was written (at, in
// UTC); pass the zero time for none.
func (c *Certificate) MarshalPublic(at time.Time) ([]byte, error) {
	return c.marshal(false, at)
}

// MarshalSecret returns the secret certificate file: a comment, the
// metadata and both keys. It fails when c holds no secret key.
func (c *Certificate) MarshalSecret(at time.Time) ([]byte, error) {
	if !c.HasSecretKey() {
		return nil, &CertError{Err: fmt.Errorf("%w: no secret key to write", ErrInvalidKey)}
	}
	return c.marshal(true, at)
}

func (c *Certificate) marshal(secret bool, at time.Time) ([]byte, error) {
	var b []byte
	kind := "public"
	if secret {
		kind = "SECRET"
	}
	b = append(b, "#   ZeroMQ CURVE "+kind+" certificate (czmq zcert format)\n"...)
	if !at.IsZero() {
		b = append(b, "#   written by zmtp-go on "+at.UTC().Format(time.RFC3339)+"\n"...)
	}
	if secret {
		b = append(b, "#   Keep this file private: it holds the secret key.\n"...)
	} else {
		b = append(b, "#   Give this file to the peers that must know this public key.\n"...)
	}
	b = append(b, "\nmetadata\n"...)
	names := make([]string, 0, len(c.Metadata))
	for name := range c.Metadata {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !validZPLName(name) || strings.HasPrefix(name, "public-key") || strings.HasPrefix(name, "secret-key") {
			return nil, &CertError{Err: fmt.Errorf("%w: name %q", ErrMetadata, name)}
		}
		b = append(b, "    "+name+" = "...)
		var ok bool
		if b, ok = appendZPLValue(b, c.Metadata[name]); !ok {
			return nil, &CertError{Err: fmt.Errorf("%w: value of %q", ErrMetadata, name)}
		}
		b = append(b, '\n')
	}
	b = append(b, "curve\n    public-key = \""+c.PublicText()+"\"\n"...)
	if secret {
		b = append(b, "    secret-key = \""+c.SecretText()+"\"\n"...)
	}
	return b, nil
}

// ParseCertificate reads a certificate file's contents, public or secret.
// The errors are *CertError values with the line at fault. A secret key
// must belong to the public key. Sections and names other than "metadata"
// and "curve"'s "public-key" and "secret-key" are ignored, as are entries
// nested more deeply under "metadata".
func ParseCertificate(data []byte) (*Certificate, error) {
	if len(data) > MaxCertificateSize {
		return nil, &CertError{Err: ErrTooLarge}
	}
	entries, err := parseZPL(data)
	if err != nil {
		return nil, err
	}
	c := &Certificate{}
	var section string
	var havePublic, haveSecret bool
	for _, e := range entries {
		if e.depth == 0 {
			section = e.name
			continue
		}
		if e.depth != 1 || !e.hasValue {
			continue
		}
		switch section {
		case "metadata":
			if _, dup := c.Metadata[e.name]; dup {
				return nil, &CertError{Line: e.line, Err: fmt.Errorf("%w: %q given twice", ErrMetadata, e.name)}
			}
			if c.Metadata == nil {
				c.Metadata = make(map[string]string)
			}
			c.Metadata[e.name] = e.value
		case "curve":
			var key *[32]byte
			var seen *bool
			switch e.name {
			case "public-key":
				key, seen = &c.PublicKey, &havePublic
			case "secret-key":
				key, seen = &c.SecretKey, &haveSecret
			default:
				continue
			}
			if *seen {
				return nil, &CertError{Line: e.line, Err: fmt.Errorf("%w: %s given twice", ErrInvalidKey, e.name)}
			}
			*seen = true
			if len(e.value) != 40 {
				return nil, &CertError{Line: e.line, Err: fmt.Errorf("%w: %s is %d characters, not 40", ErrInvalidKey, e.name, len(e.value))}
			}
			if _, err := z85.Decode(key[:], []byte(e.value)); err != nil {
				return nil, &CertError{Line: e.line, Err: fmt.Errorf("%w: %s: %w", ErrInvalidKey, e.name, err)}
			}
		}
	}
	if !havePublic {
		return nil, &CertError{Err: ErrNoPublicKey}
	}
	if haveSecret {
		if !c.HasSecretKey() {
			return nil, &CertError{Err: fmt.Errorf("%w: all-zero secret key", ErrInvalidKey)}
		}
		if mechanism.CurvePublicKey(c.SecretKey) != c.PublicKey {
			return nil, &CertError{Err: ErrKeyMismatch}
		}
	}
	return c, nil
}

// readCertificateFile reads at most MaxCertificateSize octets of path.
func readCertificateFile(path string) ([]byte, error) {
	// Refuse a FIFO or device before opening it: opening may block.
	if info, err := os.Stat(path); err != nil {
		return nil, err
	} else if !info.Mode().IsRegular() {
		return nil, &CertError{Path: path, Err: errors.New("not a regular file")}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxCertificateSize+1))
	if err != nil {
		return nil, &CertError{Path: path, Err: err}
	}
	if len(data) > MaxCertificateSize {
		return nil, &CertError{Path: path, Err: ErrTooLarge}
	}
	return data, nil
}

// parseCertificateFile reads and parses one file.
func parseCertificateFile(path string) (*Certificate, error) {
	data, err := readCertificateFile(path)
	if err != nil {
		return nil, err
	}
	c, err := ParseCertificate(data)
	if err != nil {
		var ce *CertError
		if errors.As(err, &ce) {
			ce.Path = path
		}
		return nil, err
	}
	return c, nil
}

// LoadCertificate reads the certificate at path, as czmq's zcert_load
// does: when path holds no secret key and path+"_secret" exists, the
// secret key comes from there (its public key must be the same), and its
// metadata complete those of path. path may also name a secret file
// itself. A missing file is an error matching fs.ErrNotExist.
func LoadCertificate(path string) (*Certificate, error) {
	c, err := parseCertificateFile(path)
	if err != nil {
		return nil, err
	}
	if c.HasSecretKey() || strings.HasSuffix(path, SecretSuffix) {
		return c, nil
	}
	s, err := parseCertificateFile(path + SecretSuffix)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, err
	}
	if s.PublicKey != c.PublicKey {
		return nil, &CertError{Path: path + SecretSuffix, Err: fmt.Errorf("%w: it names another public key than %s", ErrKeyMismatch, path)}
	}
	c.SecretKey = s.SecretKey
	for name, v := range s.Metadata {
		if _, ok := c.Metadata[name]; !ok {
			if c.Metadata == nil {
				c.Metadata = make(map[string]string)
			}
			c.Metadata[name] = v
		}
	}
	return c, nil
}

// Save writes the public certificate to path and, when c holds a secret
// key, the secret certificate to path+"_secret", readable by its owner
// only. Each file is written whole under a temporary name and then renamed,
// so that a reader of the directory never sees half a file. To be found by
// pyzmq's zmq.auth.load_certificates, a public certificate's name ends in
// ".key".
func (c *Certificate) Save(path string) error {
	now := time.Now()
	pub, err := c.MarshalPublic(now)
	if err != nil {
		return err
	}
	if c.HasSecretKey() {
		sec, err := c.MarshalSecret(now)
		if err != nil {
			return err
		}
		if err := writeFileAtomic(path+SecretSuffix, sec, 0o600); err != nil {
			return err
		}
	}
	return writeFileAtomic(path, pub, 0o644)
}

// SavePublic writes only the public certificate to path.
func (c *Certificate) SavePublic(path string) error {
	pub, err := c.MarshalPublic(time.Now())
	if err != nil {
		return err
	}
	return writeFileAtomic(path, pub, 0o644)
}

func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return &CertError{Path: path, Err: err}
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return &CertError{Path: path, Err: err}
	}
	if err := f.Chmod(perm); err != nil {
		return fail(err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return &CertError{Path: path, Err: err}
	}
	return nil
}
