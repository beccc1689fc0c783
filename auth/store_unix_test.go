//go:build unix

package auth

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestSpecialFiles checks that a FIFO among the certificates or given as
// a certificate or password file is refused without blocking, and that a
// symbolic link to a certificate counts.
func TestSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.key")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip("no FIFO:", err)
	}
	elsewhere := t.TempDir()
	c := newCert(t, nil)
	if err := c.SavePublic(filepath.Join(elsewhere, "c.key")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(elsewhere, "c.key"), filepath.Join(dir, "link.key")); err != nil {
		t.Fatal(err)
	}
	certs, err := LoadCertificates(dir)
	if err != nil || len(certs) != 1 || certs[c.PublicKey] == nil {
		t.Fatalf("certificates %v, error %v", certs, err)
	}
	if _, err := LoadCertificate(fifo); err == nil {
		t.Error("a FIFO loaded as a certificate")
	}
	var a Authenticator
	if err := a.SetPasswordFile(fifo); err == nil {
		t.Error("a FIFO loaded as a password file")
	}
}
