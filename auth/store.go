package auth

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// LoadCertificates reads the public keys of the certificates in dir, as
// czmq's certificate store and pyzmq's zmq.auth.load_certificates do: every
// regular file whose name neither ends in "_secret" nor starts with "."
// (pyzmq's NAME.key files included) is parsed as a certificate. It returns
// the certificates that parsed, by public key, and the errors of the files
// that did not (each a *CertError, joined). An error reading dir itself
// returns no certificates.
func LoadCertificates(dir string) (map[[32]byte]*Certificate, error) {
	certs, _, err := loadCertDir(dir)
	return certs, err
}

// certFiles lists the files of dir that may be certificates, with a
// signature of their names, sizes and modification times that changes
// whenever one is added, removed or rewritten.
func certFiles(dir string) (paths []string, sig string, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, "", err
	}
	var b strings.Builder
	for _, e := range entries { // sorted by name
		name := e.Name()
		if strings.HasPrefix(name, ".") || strings.HasSuffix(name, SecretSuffix) {
			continue
		}
		info, err := e.Info()
		if err == nil && info.Mode()&fs.ModeSymlink != 0 {
			info, err = os.Stat(filepath.Join(dir, name)) // a link to a certificate counts
		}
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed since the listing
		}
		if err != nil {
			return nil, "", err
		}
		if !info.Mode().IsRegular() {
			continue
		}
		paths = append(paths, filepath.Join(dir, name))
		b.WriteString(name)
		b.WriteByte(0)
		b.WriteString(strconv.FormatInt(info.Size(), 10))
		b.WriteByte(0)
		b.WriteString(strconv.FormatInt(info.ModTime().UnixNano(), 10))
		b.WriteByte(0)
	}
	return paths, b.String(), nil
}

func loadCertDir(dir string) (map[[32]byte]*Certificate, string, error) {
	paths, sig, err := certFiles(dir)
	if err != nil {
		return nil, "", &CertError{Path: dir, Err: err}
	}
	certs := make(map[[32]byte]*Certificate, len(paths))
	var errs []error
	for _, p := range paths {
		c, err := parseCertificateFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed since the listing
		}
		if err != nil {
			var ce *CertError
			if !errors.As(err, &ce) {
				err = &CertError{Path: p, Err: err}
			}
			errs = append(errs, err)
			continue
		}
		c.SecretKey = [32]byte{} // a store holds public certificates
		certs[c.PublicKey] = c
	}
	return certs, sig, errors.Join(errs...)
}

// certDir is a directory of public certificates that reloads itself when
// its files change.
type certDir struct {
	dir string

	mu    sync.Mutex // held while reloading: lookups need the new contents
	sig   string
	certs map[[32]byte]*Certificate
}

// newCertDir loads dir. It fails only when dir cannot be read; the errors
// of files that did not parse are returned beside the store.
func newCertDir(dir string) (*certDir, error) {
	certs, sig, err := loadCertDir(dir)
	if certs == nil {
		return nil, err
	}
	return &certDir{dir: dir, sig: sig, certs: certs}, err
}

// lookup returns the certificate of key, reloading the directory first if
// its files changed since the last load. A directory that can no longer
// be read holds no certificates (fail closed) until it can. The error
// reports files that did not parse (the others are used) or the
// directory's failure.
func (d *certDir) lookup(key [32]byte) (*Certificate, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	err := d.refreshLocked(false)
	return d.certs[key], err
}

// refreshLocked reloads the directory when its signature changed, or
// always when force is set.
func (d *certDir) refreshLocked(force bool) error {
	_, sig, err := certFiles(d.dir)
	if err != nil {
		d.certs, d.sig = nil, ""
		return &CertError{Path: d.dir, Err: err}
	}
	if sig == d.sig && !force {
		return nil
	}
	certs, sig, err := loadCertDir(d.dir)
	d.certs, d.sig = certs, sig
	return err
}

func (d *certDir) reload() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.refreshLocked(true)
}

// ErrPasswordFile reports a line of a password file without "=".
var ErrPasswordFile = errors.New("auth: password file line without '='")

// ParsePasswords reads a password file in czmq's format: one "user=password"
// per line; the user name is what precedes the first '=', the password all
// that follows it (neither is trimmed; a "\r" before the line end is
// dropped); empty lines and lines starting with '#' are ignored. A later
// line for the same user replaces an earlier one. A line without '='
// fails with ErrPasswordFile and its line number.
func ParsePasswords(data []byte) (map[string]string, error) {
	users := make(map[string]string)
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if line == "" || line[0] == '#' {
			continue
		}
		user, pass, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%w (line %d)", ErrPasswordFile, n+1)
		}
		users[user] = pass
	}
	return users, nil
}

// passwordFile is a password file that reloads itself when it changes.
type passwordFile struct {
	path string

	mu    sync.Mutex
	sig   string
	users map[string]string
}

// maxPasswordFileSize bounds the password file read.
const maxPasswordFileSize = 16 << 20

func fileSignature(path string) (string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	return strconv.FormatInt(info.Size(), 10) + "/" + strconv.FormatInt(info.ModTime().UnixNano(), 10), nil
}

func newPasswordFile(path string) (*passwordFile, error) {
	p := &passwordFile{path: path}
	if err := p.refreshLocked(true); err != nil {
		return nil, err
	}
	return p, nil
}

// lookup returns the password of user, reloading the file first when it
// changed. A file that can no longer be read or parsed holds no users.
func (p *passwordFile) lookup(user string) (string, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	err := p.refreshLocked(false)
	pass, ok := p.users[user]
	return pass, ok, err
}

func (p *passwordFile) refreshLocked(force bool) error {
	sig, err := fileSignature(p.path)
	if err == nil && sig == p.sig && !force {
		return nil
	}
	var data []byte
	if err == nil {
		data, err = readLimited(p.path, maxPasswordFileSize)
	}
	var users map[string]string
	if err == nil {
		users, err = ParsePasswords(data)
	}
	if err != nil {
		p.users, p.sig = nil, ""
		return fmt.Errorf("auth: password file %s: %w", p.path, err)
	}
	p.users, p.sig = users, sig
	return nil
}

func (p *passwordFile) reload() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refreshLocked(true)
}

func readLimited(path string, limit int64) ([]byte, error) {
	if info, err := os.Stat(path); err != nil {
		return nil, err
	} else if !info.Mode().IsRegular() {
		return nil, errors.New("not a regular file") // opening a FIFO may block
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("larger than %d octets", limit)
	}
	return data, nil
}
