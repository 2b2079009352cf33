package libvirt

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// guestInit is the tiny guest's /init: it announces itself once per boot and
// then prints a tick every second on the serial console, so a console log
// shows that the guest runs and how many times it booted.
const guestInit = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "novacron guest: init started"
n=0
while true; do
	n=$((n + 1))
	echo "tick $n"
	sleep 1
done
`

var (
	guestOnce                sync.Once
	guestKernel, guestInitrd string
	guestErr                 error
)

// testGuest returns a kernel and an initramfs that boot to a ticking busybox
// in seconds under TCG. NOVACRON_LAB_KERNEL and NOVACRON_LAB_INITRD name ready
// ones; otherwise they are built once per machine under
// os.TempDir()/novacron-guest (kernel from a Debian package, busybox-static).
func testGuest(t *testing.T) (kernel, initrd string) {
	t.Helper()
	guestOnce.Do(func() { guestKernel, guestInitrd, guestErr = buildGuest() })
	if guestErr != nil {
		t.Skipf("no test guest: %v", guestErr)
	}
	return guestKernel, guestInitrd
}

func buildGuest() (string, string, error) {
	k, i := os.Getenv("NOVACRON_LAB_KERNEL"), os.Getenv("NOVACRON_LAB_INITRD")
	if k != "" && i != "" {
		if nonEmpty(k) && nonEmpty(i) {
			return k, i, nil
		}
		return "", "", fmt.Errorf("NOVACRON_LAB_KERNEL=%s or NOVACRON_LAB_INITRD=%s is missing", k, i)
	}
	dir := filepath.Join(os.TempDir(), "novacron-guest")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	kernel, initrd := filepath.Join(dir, "vmlinuz"), filepath.Join(dir, "initrd.img")
	if !nonEmpty(kernel) {
		if err := fetchKernel(dir, kernel); err != nil {
			return "", "", err
		}
	}
	if !nonEmpty(initrd) {
		if err := buildInitrd(dir, initrd); err != nil {
			return "", "", err
		}
	}
	return kernel, initrd, nil
}

func nonEmpty(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Size() > 0
}

func run(ctx context.Context, dir string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// kernelPackages lists candidate packages, best first: the cloud kernel
// (small), then the generic one, unsigned first.
func kernelPackages(ctx context.Context) []string {
	var out []string
	for _, meta := range []string{"linux-image-cloud-amd64", "linux-image-amd64"} {
		deps, err := run(ctx, "", "apt-cache", "depends", meta)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(strings.NewReader(deps))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 2 && f[0] == "Depends:" && strings.HasPrefix(f[1], "linux-image-") {
				out = append(out, f[1]+"-unsigned", f[1])
				break
			}
		}
	}
	return out
}

func fetchKernel(dir, dest string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	work, err := os.MkdirTemp(dir, "kernel-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	pkgs := kernelPackages(ctx)
	var errs []string
	for _, pkg := range pkgs {
		if _, err := run(ctx, work, "apt-get", "download", "-q", pkg); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		debs, _ := filepath.Glob(filepath.Join(work, pkg+"_*.deb"))
		if len(debs) == 0 {
			continue
		}
		root := filepath.Join(work, "root")
		if _, err := run(ctx, work, "dpkg", "-x", debs[0], root); err != nil {
			return err
		}
		found, _ := filepath.Glob(filepath.Join(root, "boot", "vmlinuz-*"))
		if len(found) == 0 {
			return fmt.Errorf("package %s has no boot/vmlinuz-*", pkg)
		}
		return copyAtomic(found[0], dest)
	}
	return fmt.Errorf("no kernel package could be downloaded (tried %v): %s", pkgs, strings.Join(errs, "; "))
}

func buildInitrd(dir, dest string) error {
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return fmt.Errorf("busybox not found (install busybox-static): %w", err)
	}
	if f, err := elf.Open(bb); err == nil {
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				f.Close()
				return fmt.Errorf("%s is dynamically linked; install busybox-static", bb)
			}
		}
		f.Close()
	}
	work, err := os.MkdirTemp(dir, "initrd-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	for _, sub := range []string{"bin", "dev", "proc", "sys"} {
		if err := os.MkdirAll(filepath.Join(work, sub), 0o755); err != nil {
			return err
		}
	}
	if err := copyAtomic(bb, filepath.Join(work, "bin", "busybox")); err != nil {
		return err
	}
	if err := os.Chmod(filepath.Join(work, "bin", "busybox"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(work, "init"), []byte(guestInit), 0o755); err != nil {
		return err
	}
	tmp := dest + ".tmp"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := run(ctx, work, "sh", "-c", "find . | cpio -o -H newc -R 0:0 --quiet | gzip -9 > "+tmp); err != nil {
		return err
	}
	return os.Rename(tmp, dest)
}

func copyAtomic(src, dest string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	tmp := dest + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, dest)
}
