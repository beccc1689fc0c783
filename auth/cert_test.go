package auth

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zmtp-go/zmtp/mechanism"
)

// detRand is a deterministic source of key material for tests.
type detRand byte

func (r *detRand) Read(p []byte) (int, error) {
	for i := range p {
		*r++
		p[i] = byte(*r)
	}
	return len(p), nil
}

func newCert(t *testing.T, md map[string]string) *Certificate {
	t.Helper()
	c, err := NewCertificate(nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Metadata = md
	return c
}

func sameCert(a, b *Certificate) bool {
	if a.PublicKey != b.PublicKey || a.SecretKey != b.SecretKey || len(a.Metadata) != len(b.Metadata) {
		return false
	}
	for k, v := range a.Metadata {
		if w, ok := b.Metadata[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestCertificateFileFormat(t *testing.T) {
	r := detRand(0)
	c, err := NewCertificate(&r)
	if err != nil {
		t.Fatal(err)
	}
	c.Metadata = map[string]string{"name": "alice", "quote": `say "hi"`}
	pub, err := c.MarshalPublic(time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	want := "#   ZeroMQ CURVE public certificate (czmq zcert format)\n" +
		"#   Give this file to the peers that must know this public key.\n" +
		"\nmetadata\n" +
		"    name = \"alice\"\n" +
		"    quote = 'say \"hi\"'\n" +
		"curve\n" +
		"    public-key = \"" + c.PublicText() + "\"\n"
	if string(pub) != want {
		t.Errorf("public file:\n%s\nwant:\n%s", pub, want)
	}
	sec, err := c.MarshalSecret(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(sec, []byte("#   written by zmtp-go on 2026-01-02T03:04:05Z\n")) ||
		!bytes.HasSuffix(sec, []byte("    secret-key = \""+c.SecretText()+"\"\n")) {
		t.Errorf("secret file:\n%s", sec)
	}
	gotPub, err := ParseCertificate(pub)
	if err != nil {
		t.Fatal(err)
	}
	if gotPub.PublicKey != c.PublicKey || gotPub.HasSecretKey() || !sameCert(&Certificate{PublicKey: c.PublicKey, Metadata: c.Metadata}, gotPub) {
		t.Errorf("public file parsed as %+v", gotPub)
	}
	gotSec, err := ParseCertificate(sec)
	if err != nil {
		t.Fatal(err)
	}
	if !sameCert(gotSec, c) {
		t.Errorf("secret file parsed as %+v, want %+v", gotSec, c)
	}
	if _, err := (&Certificate{PublicKey: c.PublicKey}).MarshalSecret(time.Time{}); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("MarshalSecret without a secret key: %v", err)
	}
}

// TestParseCertificateForms reads what czmq and pyzmq write (czmq quotes
// metadata values, pyzmq does not) and ZPL's other forms.
func TestParseCertificateForms(t *testing.T) {
	c := newCert(t, nil)
	pub, sec := c.PublicText(), c.SecretText()
	for name, text := range map[string]string{
		"pyzmq secret": "#   ****  Generated on 2026-12-07 06:00:00 by pyzmq  ****\n#   ZeroMQ CURVE **Secret** Certificate\n\n" +
			"metadata\n    name = John Doe\n    email = jd@example.com\ncurve\n    public-key = \"" + pub + "\"\n    secret-key = \"" + sec + "\"\n",
		"czmq secret": "metadata\n    name = \"John Doe\"\n    email = \"jd@example.com\"\ncurve\n    public-key = \"" + pub + "\"\n    secret-key = \"" + sec + "\"\n",
		"single quotes, comments, CRLF": "# c\r\nmetadata   # m\r\n    name = 'John Doe'   # trailing\r\n    email=jd@example.com # x\r\n\r\ncurve\r\n" +
			"    public-key = '" + pub + "'\r\n    secret-key = \"" + sec + "\"\r\n",
		"other sections and nesting ignored": "context\n    iothreads = 1\nmetadata\n    name = John Doe\n    email = jd@example.com\n    more\n        deep = 1\ncurve\n" +
			"    public-key = \"" + pub + "\"\n    comment = x\n    secret-key = \"" + sec + "\"",
	} {
		got, err := ParseCertificate([]byte(text))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		want := &Certificate{PublicKey: c.PublicKey, SecretKey: c.SecretKey,
			Metadata: map[string]string{"name": "John Doe", "email": "jd@example.com"}}
		if !sameCert(got, want) {
			t.Errorf("%s: got %+v", name, got)
		}
	}
}

// TestParseCertificateErrors checks that each malformed certificate gives
// the typed error and the line at fault.
func TestParseCertificateErrors(t *testing.T) {
	c := newCert(t, nil)
	other := newCert(t, nil)
	pub := c.PublicText()
	curve := "curve\n    public-key = \"" + pub + "\"\n"
	for _, tc := range []struct {
		name, text string
		err        error
		line       int
	}{
		{"empty", "", ErrNoPublicKey, 0},
		{"metadata only", "metadata\n    name = x\n", ErrNoPublicKey, 0},
		{"tab indent", "curve\n\tpublic-key = \"" + pub + "\"\n", ErrSyntax, 2},
		{"3-space indent", "curve\n   public-key = \"" + pub + "\"\n", ErrSyntax, 2},
		{"too deep", "curve\n        public-key = \"" + pub + "\"\n", ErrSyntax, 2},
		{"bad name", "cur(ve\n", ErrSyntax, 1},
		{"unterminated quote", "curve\n    public-key = \"" + pub + "\n", ErrSyntax, 2},
		{"text after quote", "curve\n    public-key = \"" + pub + "\" x\n", ErrSyntax, 2},
		{"junk after name", "curve\n    public-key : x\n", ErrSyntax, 2},
		{"short key", "curve\n    public-key = \"abc\"\n", ErrInvalidKey, 2},
		{"bad z85", "curve\n    public-key = \"" + strings.Repeat("~", 40) + "\"\n", ErrInvalidKey, 2},
		{"z85 overflow", "curve\n    public-key = \"" + strings.Repeat("#", 40) + "\"\n", ErrInvalidKey, 2},
		{"two public keys", curve + "    public-key = \"" + pub + "\"\n", ErrInvalidKey, 3},
		{"mismatched secret", curve + "    secret-key = \"" + other.SecretText() + "\"\n", ErrKeyMismatch, 0},
		{"zero secret", curve + "    secret-key = \"" + z85Key([32]byte{}) + "\"\n", ErrInvalidKey, 0},
		{"duplicate metadata", "metadata\n    a = 1\n    a = 2\n" + curve, ErrMetadata, 3},
		{"too large", curve + strings.Repeat("#", MaxCertificateSize), ErrTooLarge, 0},
	} {
		_, err := ParseCertificate([]byte(tc.text))
		var ce *CertError
		if !errors.Is(err, tc.err) || !errors.As(err, &ce) || ce.Line != tc.line {
			t.Errorf("%s: %v, want %v at line %d", tc.name, err, tc.err, tc.line)
		}
	}
}

func TestSaveAndLoad(t *testing.T) {
	dir := t.TempDir()
	c := newCert(t, map[string]string{"name": "server", "email": "ops@example.com"})
	path := filepath.Join(dir, "server.key")
	if err := c.Save(path); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + SecretSuffix} {
		got, err := LoadCertificate(p)
		if err != nil {
			t.Fatal(err)
		}
		if !sameCert(got, c) {
			t.Errorf("LoadCertificate(%s) = %+v, want %+v", p, got, c)
		}
	}
	info, err := os.Stat(path + SecretSuffix)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("secret file mode %v, want 0600", info.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("directory holds %d files, want 2 (no temporary file left)", len(entries))
	}

	// A public file alone has no secret key.
	pubOnly := filepath.Join(dir, "pub.key")
	if err := c.SavePublic(pubOnly); err != nil {
		t.Fatal(err)
	}
	got, err := LoadCertificate(pubOnly)
	if err != nil || got.HasSecretKey() || got.PublicKey != c.PublicKey {
		t.Errorf("public only: %+v, %v", got, err)
	}

	// A secret file of another key beside a public file is refused.
	other := newCert(t, nil)
	if err := other.Save(filepath.Join(dir, "other.key")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "other.key_secret"), pubOnly+SecretSuffix); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCertificate(pubOnly); !errors.Is(err, ErrKeyMismatch) {
		t.Errorf("mismatched secret file: %v", err)
	}

	if _, err := LoadCertificate(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	bad := &Certificate{PublicKey: c.PublicKey, Metadata: map[string]string{"public-key-x": "v"}}
	if err := bad.Save(filepath.Join(dir, "bad")); !errors.Is(err, ErrMetadata) {
		t.Errorf("metadata name pyzmq would read as a key: %v", err)
	}
	bad.Metadata = map[string]string{"x": "a\nb"}
	if err := bad.Save(filepath.Join(dir, "bad")); !errors.Is(err, ErrMetadata) {
		t.Errorf("value with a line end: %v", err)
	}
}

func TestLoadCertificates(t *testing.T) {
	dir := t.TempDir()
	a, b := newCert(t, map[string]string{"name": "a"}), newCert(t, nil)
	if err := a.Save(filepath.Join(dir, "a.key")); err != nil {
		t.Fatal(err)
	}
	if err := b.SavePublic(filepath.Join(dir, "b.txt")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "README"), []byte("not a certificate\n"), 0o644)
	os.WriteFile(filepath.Join(dir, ".hidden"), []byte("ignored"), 0o644)
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	certs, err := LoadCertificates(dir)
	var ce *CertError
	if !errors.As(err, &ce) || ce.Path != filepath.Join(dir, "README") || !errors.Is(err, ErrSyntax) {
		t.Errorf("error %v, want README's syntax error", err)
	}
	if len(certs) != 2 || certs[a.PublicKey] == nil || certs[b.PublicKey] == nil {
		t.Fatalf("certificates %v", certs)
	}
	if certs[a.PublicKey].HasSecretKey() || certs[a.PublicKey].Metadata["name"] != "a" {
		t.Errorf("a loaded as %+v", certs[a.PublicKey])
	}
	if _, err := LoadCertificates(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing directory: %v", err)
	}
}

func TestCertificateMechanisms(t *testing.T) {
	srv, cli := newCert(t, nil), newCert(t, nil)
	s := srv.CurveServer(nil)
	c := cli.CurveClient(&Certificate{PublicKey: srv.PublicKey})
	if !s.Server || s.SecretKey != srv.SecretKey || c.ServerKey != srv.PublicKey || c.SecretKey != cli.SecretKey {
		t.Fatalf("server %+v client %+v", s, c)
	}
	if err := mechanism.Validate(s); err != nil {
		t.Error(err)
	}
	if err := mechanism.Validate(c); err != nil {
		t.Error(err)
	}
}
