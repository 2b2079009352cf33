package pgtest

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// runAs is the account the server runs as: nil credential for the test's own
// user, the postgres system user's when the test runs as root (initdb and
// postgres refuse to run as root).
type runAs struct {
	cred *syscall.Credential
}

// serverUser picks the account the server runs as.
func serverUser() (runAs, error) {
	if os.Geteuid() != 0 {
		return runAs{}, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return runAs{}, fmt.Errorf("%w: running as root and there is no postgres user to run the server as (%v)", errNotInstalled, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return runAs{}, fmt.Errorf("pgtest: user postgres has uid %q gid %q", u.Uid, u.Gid)
	}
	// Groups empty (not NoSetGroups): the server must not keep root's groups.
	return runAs{cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}, nil
}

// sysProcAttr is the attributes of every process pgtest runs for the server.
func (r runAs) sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: r.cred}
}

// own gives path to the server's account.
func (r runAs) own(path string) error {
	if r.cred == nil {
		return nil
	}
	return os.Lchown(path, int(r.cred.Uid), int(r.cred.Gid))
}

// maxSocketPath bounds the path of a unix socket (sun_path is 108 bytes with
// its NUL); the server's is DIR/.s.PGSQL.PORT.
const maxSocketPath = 107 - len("/.s.PGSQL.65535")

// baseDir chooses where the server's temp dir goes: os.TempDir when the
// server's account can reach it and a socket path there fits, else /tmp. A
// root test's TMPDIR may sit under /root (mode 0700), which the postgres user
// cannot enter.
func (r runAs) baseDir() (string, error) {
	var why []string
	for _, d := range []string{os.TempDir(), "/tmp"} {
		if len(d)+len("/pgtest-0000000000") > maxSocketPath {
			why = append(why, d+": too long for a unix socket path")
			continue
		}
		if err := r.traversable(d); err != nil {
			why = append(why, err.Error())
			continue
		}
		return d, nil
	}
	return "", fmt.Errorf("pgtest: no temp dir the server can use: %v", why)
}

// traversable checks that the server's account may enter dir and every
// directory above it.
func (r runAs) traversable(dir string) error {
	if r.cred == nil {
		return nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for p := abs; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("%s: no owner information", p)
		}
		m := fi.Mode().Perm()
		switch {
		case st.Uid == r.cred.Uid && m&0o100 != 0:
		case st.Gid == r.cred.Gid && m&0o010 != 0:
		case m&0o001 != 0:
		default:
			return fmt.Errorf("%s (mode %v) cannot be entered by uid %d", p, m, r.cred.Uid)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}
