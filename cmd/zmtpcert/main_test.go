package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/zmtp-go/zmtp/auth"
	"github.com/zmtp-go/zmtp/mechanism"
)

func runCmd(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

func TestKeypair(t *testing.T) {
	code, out, _ := runCmd("keypair")
	m := regexp.MustCompile(`^public-key = "(.{40})"\nsecret-key = "(.{40})"\n$`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("exit %d, output %q", code, out)
	}
	pub, err := mechanism.ParseCurveKey([]byte(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	sec, err := mechanism.ParseCurveKey([]byte(m[2]))
	if err != nil {
		t.Fatal(err)
	}
	if mechanism.CurvePublicKey(sec) != pub {
		t.Fatal("the public key is not the secret key's")
	}
	_, out2, _ := runCmd("keypair")
	if out2 == out {
		t.Fatal("two runs printed the same key pair")
	}
}

func TestGenerateAndShow(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runCmd("generate", "-d", dir, "-m", "name=Jane Doe", "-m", "email=jd@example.com", "client")
	pub, sec := filepath.Join(dir, "client.key"), filepath.Join(dir, "client.key_secret")
	if code != 0 || out != pub+"\n"+sec+"\n" {
		t.Fatalf("exit %d, output %q %s", code, out, errOut)
	}
	c, err := auth.LoadCertificate(pub)
	if err != nil {
		t.Fatal(err)
	}
	if !c.HasSecretKey() || c.Metadata["name"] != "Jane Doe" || c.Metadata["email"] != "jd@example.com" {
		t.Fatalf("loaded %+v", c)
	}

	code, out, _ = runCmd("show", pub)
	want := `public-key = "` + c.PublicText() + `"` + "\nsecret-key: present (-secret prints it)\n" +
		"metadata email = \"jd@example.com\"\nmetadata name = \"Jane Doe\"\n"
	if code != 0 || out != want {
		t.Errorf("show: exit %d\n%s\nwant\n%s", code, out, want)
	}
	code, out, _ = runCmd("show", "-secret", sec)
	if code != 0 || !strings.Contains(out, `secret-key = "`+c.SecretText()+`"`) {
		t.Errorf("show -secret: exit %d\n%s", code, out)
	}

	// Existing files are kept unless -f.
	if code, _, errOut := runCmd("generate", "-d", dir, "client"); code != 1 || !strings.Contains(errOut, "exists") {
		t.Errorf("generate over existing files: exit %d, %q", code, errOut)
	}
	if again, _ := auth.LoadCertificate(pub); again.PublicKey != c.PublicKey {
		t.Error("the certificate was replaced without -f")
	}
	if code, _, errOut := runCmd("generate", "-d", dir, "-f", "client"); code != 0 {
		t.Errorf("generate -f: exit %d, %q", code, errOut)
	}
	if again, _ := auth.LoadCertificate(pub); again.PublicKey == c.PublicKey {
		t.Error("generate -f kept the old certificate")
	}

	// pyzmq reads what generate wrote.
	pyout, err := exec.Command("/usr/bin/python3", "-c",
		"import sys, zmq.auth; p, s = zmq.auth.load_certificate(sys.argv[1]); print(p.decode(), s.decode())", sec).CombinedOutput()
	if err != nil {
		t.Fatalf("pyzmq's load_certificate (needs python3-zmq): %v\n%s", err, pyout)
	}
	c, _ = auth.LoadCertificate(sec)
	if got := strings.TrimSpace(string(pyout)); got != c.PublicText()+" "+c.SecretText() {
		t.Errorf("pyzmq read %q, want %s %s", got, c.PublicText(), c.SecretText())
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.key")
	os.WriteFile(bad, []byte("curve\n    public-key = \"short\"\n"), 0o644)
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{nil, 2, "Usage"},
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"keypair", "x"}, 2, "no arguments"},
		{[]string{"generate"}, 2, "one NAME"},
		{[]string{"generate", "-d", dir, "a/b"}, 2, "one NAME"},
		{[]string{"generate", "-m", "novalue", "x"}, 2, "NAME=VALUE"},
		{[]string{"generate", "-d", dir, "-m", "bad name=x", "x"}, 1, "invalid certificate metadata"},
		{[]string{"generate", "-d", filepath.Join(dir, "missing"), "x"}, 1, "missing"},
		{[]string{"show"}, 2, "one FILE"},
		{[]string{"show", filepath.Join(dir, "missing")}, 1, "no such file"},
		{[]string{"show", bad}, 1, "line 2: invalid CURVE key"},
	} {
		code, _, errOut := runCmd(tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.msg) {
			t.Errorf("%q: exit %d, %q; want %d and %q", tc.args, code, errOut, tc.code, tc.msg)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x.key")); !errors.Is(err, os.ErrNotExist) {
		t.Error("a failed generate left a file")
	}
}
