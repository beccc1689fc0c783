package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/zmtp-go/zmtp/auth"
)

const usage = `Usage:
  zmtpcert keypair                 print a new CURVE key pair in Z85
  zmtpcert generate [-d DIR] [-m NAME=VALUE]... [-f] NAME
                                   write DIR/NAME.key and DIR/NAME.key_secret
  zmtpcert show [-secret] FILE     print a certificate's keys and metadata
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage marks command-line mistakes (exit status 2).
var errUsage = errors.New("usage")

func run(args []string, stdout, stderr io.Writer) int {
	err := dispatch(args, stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		if msg := strings.TrimPrefix(err.Error(), errUsage.Error()); msg != "" {
			fmt.Fprintln(stderr, "zmtpcert"+msg)
		}
		fmt.Fprint(stderr, usage)
		return 2
	}
	fmt.Fprintln(stderr, "zmtpcert:", err)
	return 1
}

func dispatch(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errUsage
	}
	switch args[0] {
	case "keypair":
		if len(args) > 1 {
			return fmt.Errorf("%w: keypair takes no arguments", errUsage)
		}
		return keypair(stdout)
	case "generate":
		return generate(args[1:], stdout, stderr)
	case "show":
		return show(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return fmt.Errorf("%w: unknown command %q", errUsage, args[0])
}

func keypair(stdout io.Writer) error {
	c, err := auth.NewCertificate(nil)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "public-key = %q\nsecret-key = %q\n", c.PublicText(), c.SecretText())
	return err
}

// metadataFlag collects -m NAME=VALUE.
type metadataFlag map[string]string

func (m metadataFlag) String() string { return "" }

func (m metadataFlag) Set(s string) error {
	name, value, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return errors.New("want NAME=VALUE")
	}
	if _, dup := m[name]; dup {
		return fmt.Errorf("%s given twice", name)
	}
	m[name] = value
	return nil
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("zmtpcert "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	return fs
}

func generate(args []string, stdout, stderr io.Writer) error {
	flags := newFlagSet("generate", stderr)
	dir := flags.String("d", ".", "write the files in `DIR`")
	force := flags.Bool("f", false, "replace existing files")
	md := metadataFlag{}
	flags.Var(md, "m", "add metadata `NAME=VALUE` (repeatable)")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if flags.NArg() != 1 || flags.Arg(0) == "" || strings.ContainsRune(flags.Arg(0), filepath.Separator) {
		return fmt.Errorf("%w: generate takes one NAME (without a directory: use -d)", errUsage)
	}
	path := filepath.Join(*dir, flags.Arg(0)+".key")
	if !*force {
		for _, p := range []string{path, path + auth.SecretSuffix} {
			if _, err := os.Lstat(p); err == nil {
				return fmt.Errorf("%s exists (-f replaces it)", p)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	c, err := auth.NewCertificate(nil)
	if err != nil {
		return err
	}
	if len(md) > 0 {
		c.Metadata = md
	}
	if err := c.Save(path); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s\n%s\n", path, path+auth.SecretSuffix)
	return err
}

func show(args []string, stdout, stderr io.Writer) error {
	flags := newFlagSet("show", stderr)
	secret := flags.Bool("secret", false, "print the secret key too")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if flags.NArg() != 1 {
		return fmt.Errorf("%w: show takes one FILE", errUsage)
	}
	c, err := auth.LoadCertificate(flags.Arg(0))
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "public-key = %q\n", c.PublicText())
	switch {
	case !c.HasSecretKey():
		b.WriteString("secret-key: none\n")
	case *secret:
		fmt.Fprintf(&b, "secret-key = %q\n", c.SecretText())
	default:
		b.WriteString("secret-key: present (-secret prints it)\n")
	}
	for _, name := range slices.Sorted(maps.Keys(c.Metadata)) {
		fmt.Fprintf(&b, "metadata %s = %q\n", name, c.Metadata[name])
	}
	_, err = io.WriteString(stdout, b.String())
	return err
}
