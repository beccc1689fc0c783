package conformance

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jcmturner/gokrb5/v8/client"
	krbconfig "github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/keytab"
)

// The GSSAPI scenarios need a Kerberos realm. The first of them starts
// one: MIT's krb5kdc (Debian's krb5-kdc package) in the foreground as a
// child process, serving a throw-away database under a temporary
// directory, on a free loopback port. StopKerberos stops it; the test
// binary and cmd/matrix call it before they exit. When the realm cannot
// be started, every GSSAPI case fails with the reason: they are never
// skipped.
const (
	krbRealm    = "ZMTP.TEST"
	krbHost     = "localhost"
	krbService  = "zmtp"       // the service principal zmtp/localhost
	krbOther    = "zmtp-other" // a second service, zmtp-other/localhost
	krbUser     = "alice"      // the client principal
	krbStranger = "mallory"    // a client principal the ZAP policies refuse
)

// kdcRealm is a running realm.
type kdcRealm struct {
	dir    string
	krb5   string // krb5.conf
	keytab string // every principal's keys
	cfg    *krbconfig.Config
	kt     *keytab.Keytab
	cmd    *exec.Cmd
	exited chan struct{}
	log    string // krb5kdc's standard output and error
}

var kerberos struct {
	mu    sync.Mutex
	realm *kdcRealm
	err   error
}

// realm returns the running realm, starting it on first use; the
// environment variables MIT Kerberos reads (and libzmq through it) point
// at it from then on.
func realm(ctx context.Context) (*kdcRealm, error) {
	kerberos.mu.Lock()
	defer kerberos.mu.Unlock()
	if kerberos.realm == nil && kerberos.err == nil {
		kerberos.realm, kerberos.err = startRealm(ctx)
		if kerberos.err != nil {
			kerberos.err = fmt.Errorf("starting a Kerberos realm (krb5kdc, kdb5_util and kadmin.local from Debian's krb5-kdc and krb5-admin-server): %w", kerberos.err)
		}
	}
	if kerberos.err != nil {
		return nil, kerberos.err
	}
	select {
	case <-kerberos.realm.exited:
		return nil, fmt.Errorf("krb5kdc exited: %s", kerberos.realm.output())
	default:
	}
	return kerberos.realm, nil
}

// StopKerberos stops the realm of the GSSAPI scenarios, if one was
// started, and removes its files.
func StopKerberos() error {
	kerberos.mu.Lock()
	defer kerberos.mu.Unlock()
	r := kerberos.realm
	kerberos.realm, kerberos.err = nil, errors.New("the Kerberos realm was stopped")
	if r == nil {
		return nil
	}
	return r.close()
}

// kdcTool finds a Kerberos program in PATH or in /usr/sbin, where Debian
// puts them.
func kdcTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	p := filepath.Join("/usr/sbin", name)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%s not found in PATH or /usr/sbin", name)
	}
	return p, nil
}

func startRealm(ctx context.Context) (r *kdcRealm, err error) {
	var tools [3]string
	for i, name := range []string{"krb5kdc", "kdb5_util", "kadmin.local"} {
		if tools[i], err = kdcTool(name); err != nil {
			return nil, err
		}
	}
	dir, err := os.MkdirTemp("", "zmtp-krb5-")
	if err != nil {
		return nil, err
	}
	r = &kdcRealm{dir: dir, krb5: filepath.Join(dir, "krb5.conf"), keytab: filepath.Join(dir, "all.keytab"),
		log: filepath.Join(dir, "krb5kdc.out"), exited: make(chan struct{})}
	if err := os.Mkdir(filepath.Join(dir, "ccache"), 0o700); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	// A free port: krb5kdc listens on the port it is told; the few
	// attempts cover another process taking the port in between.
	for attempt := 0; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		if err := r.writeConfig(port); err != nil {
			return nil, err
		}
		if attempt == 0 {
			if err := r.makeDatabase(ctx, tools[1], tools[2]); err != nil {
				return nil, err
			}
		}
		err = r.startKDC(ctx, tools[0], port)
		if err == nil {
			break
		}
		if attempt == 2 {
			return nil, err
		}
	}
	if r.kt, err = keytab.Load(r.keytab); err != nil {
		return nil, err
	}
	if r.cfg, err = krbconfig.Load(r.krb5); err != nil {
		return nil, err
	}
	for k, v := range map[string]string{
		"KRB5_CONFIG":        r.krb5,
		"KRB5_KDC_PROFILE":   filepath.Join(dir, "kdc.conf"),
		"KRB5_KTNAME":        "FILE:" + r.keytab,
		"KRB5_CLIENT_KTNAME": "FILE:" + r.keytab,
		// A collection: libzmq's servers acquire credentials for their
		// own principal and its clients for theirs, each with its cache.
		"KRB5CCNAME":    "DIR:" + filepath.Join(dir, "ccache"),
		"KRB5RCACHEDIR": dir, // MIT's replay cache, here rather than in /var/tmp
	} {
		if err := os.Setenv(k, v); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func (r *kdcRealm) writeConfig(port int) error {
	kdc := "127.0.0.1:" + strconv.Itoa(port)
	krb5 := fmt.Sprintf(`[libdefaults]
 default_realm = %[1]s
 dns_lookup_kdc = false
 dns_lookup_realm = false
 dns_canonicalize_hostname = false
 rdns = false
 udp_preference_limit = 1
 default_tkt_enctypes = aes256-cts-hmac-sha1-96
 default_tgs_enctypes = aes256-cts-hmac-sha1-96
 permitted_enctypes = aes256-cts-hmac-sha1-96
[realms]
 %[1]s = {
  kdc = %[2]s
 }
[domain_realm]
 %[3]s = %[1]s
`, krbRealm, kdc, krbHost)
	kdcConf := fmt.Sprintf(`[kdcdefaults]
 kdc_listen = %[2]s
 kdc_tcp_listen = %[2]s
[realms]
 %[1]s = {
  database_name = %[3]s/principal
  key_stash_file = %[3]s/stash
  acl_file = %[3]s/kadm5.acl
  supported_enctypes = aes256-cts-hmac-sha1-96:normal
 }
[logging]
 kdc = FILE:%[3]s/kdc.log
`, krbRealm, kdc, r.dir)
	if err := os.WriteFile(r.krb5, []byte(krb5), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(r.dir, "kadm5.acl"), nil, 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(r.dir, "kdc.conf"), []byte(kdcConf), 0o600)
}

// kdcEnv is the environment of the realm's tools.
func (r *kdcRealm) kdcEnv() []string {
	return append(os.Environ(), "KRB5_CONFIG="+r.krb5, "KRB5_KDC_PROFILE="+filepath.Join(r.dir, "kdc.conf"))
}

// makeDatabase creates the database, the principals (random keys) and
// one keytab holding them all.
func (r *kdcRealm) makeDatabase(ctx context.Context, kdb5Util, kadmin string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	run := func(stdin string, name string, args ...string) error {
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Env = r.kdcEnv()
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %w: %s", filepath.Base(name), err, out)
		}
		return nil
	}
	if err := run("", kdb5Util, "create", "-s", "-r", krbRealm, "-P", "zmtp-master-key"); err != nil {
		return err
	}
	princs := []string{krbService + "/" + krbHost, krbOther + "/" + krbHost, krbUser, krbStranger}
	var script strings.Builder
	for _, p := range princs {
		fmt.Fprintf(&script, "addprinc -randkey %s\n", p)
	}
	fmt.Fprintf(&script, "ktadd -k %s -norandkey %s\n", r.keytab, strings.Join(princs, " "))
	if err := run(script.String(), kadmin, "-r", krbRealm); err != nil {
		return err
	}
	if _, err := os.Stat(r.keytab); err != nil {
		return fmt.Errorf("kadmin.local wrote no keytab: %w", err)
	}
	return nil
}

// startKDC starts krb5kdc in the foreground and waits until it answers
// on its TCP port.
func (r *kdcRealm) startKDC(ctx context.Context, krb5kdc string, port int) error {
	cmd := exec.Command(krb5kdc, "-n", "-r", krbRealm)
	cmd.Env = r.kdcEnv()
	// A file, not a pipe: no goroutine copies the output.
	out, err := os.Create(r.log)
	if err != nil {
		return err
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			r.cmd, r.exited = cmd, exited
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("krb5kdc exited: %s", r.output())
		case <-ctx.Done():
			cmd.Process.Kill()
			<-exited
			return fmt.Errorf("krb5kdc does not answer on %s: %w", addr, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// output returns what krb5kdc wrote.
func (r *kdcRealm) output() string {
	b, _ := os.ReadFile(r.log)
	return strings.TrimSpace(string(b))
}

// KerberosWaiter names the goroutine that waits for the realm's krb5kdc
// to exit; it runs from the first GSSAPI case to StopKerberos, so leak
// checks around single cases must ignore it.
const KerberosWaiter = "github.com/zmtp-go/zmtp/conformance.(*kdcRealm).startKDC.func1"

func (r *kdcRealm) close() error {
	if r.cmd != nil {
		r.cmd.Process.Kill()
		<-r.exited
		r.cmd = nil
	}
	return os.RemoveAll(r.dir)
}

// newClient returns a gokrb5 client logged in as user with its key from
// the realm's keytab.
func (r *kdcRealm) newClient(user string) (*client.Client, error) {
	cl := client.NewWithKeytab(user, krbRealm, r.kt, r.cfg, client.DisablePAFXFAST(true))
	if err := cl.Login(); err != nil {
		return nil, fmt.Errorf("Kerberos login as %s: %w", user, err)
	}
	return cl, nil
}
