package labtest

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/testutil"
)

// BenchmarkLab_CreateFromImageToRunning measures, one VM at a time, the
// time from the API's 201 for a VM made from an image (with a cloud-init
// seed) to its domain's Started event: the host clones the root volume,
// writes the seed and starts the domain. The image is on the VM's host
// already (its first use there, with the copy, is BenchmarkLab_ImageCopy's).
func BenchmarkLab_CreateFromImageToRunning(b *testing.B) {
	l := needLab(b)
	host := l.hosts[0]
	c := l.clientOf(b, host)
	img := l.importLabImage(b, c)
	w := l.watchEvents(b)
	var took []time.Duration
	for i := range samples(b, 10) {
		name := uniqueName(fmt.Sprintf("bench-i%d", i))
		vm, err := c.CreateVM(context.Background(), client.VMRequest{Name: name, VCPUs: 1, MemoryMiB: 96, Image: img.Name,
			Placement: &client.PlacementSpec{Nodes: []string{host.Name}}, CloudInit: &client.CloudInit{Hostname: name}})
		if err != nil {
			b.Fatalf("create %s: %v", name, err)
		}
		accepted := time.Now()
		at := w.waitEvent(b, domainName(vm.ID, vm.Name), "Started", runTimeout)
		if err := l.onlyOn(host, vm.ID, "running"); err != nil {
			b.Fatal(err)
		}
		took = append(took, at.Sub(accepted))
		l.deleteVM(b, vm.ID)
	}
	b.ReportMetric(percentile(took, 50), "image-create-to-running-p50-ms")
	b.ReportMetric(percentile(took, 100), "image-create-to-running-max-ms")
	b.Logf("create from image to running (ms), %d VMs: %v", len(took), took)
}

// BenchmarkLab_ImageCopy measures a host's first use of an image another
// host imported: the copy over the cluster's internal API (TLS), verified,
// against a plain cp of the same file on this machine. The image is 256 MiB
// of random bytes (raw: nothing compresses it), so the figure is the copy's
// and not the lab guest's 16 MB.
func BenchmarkLab_ImageCopy(b *testing.B) {
	l := needLab(b)
	from, to := l.hosts[0], l.hosts[1]
	c := l.clientOf(b, from)
	src := filepath.Join(filepath.Dir(l.image), uniqueName("bench-copy")+".raw")
	writeRandom(b, src, 256<<20)
	img, err := c.ImportImage(context.Background(), client.ImageRequest{Name: uniqueName("copy"), Source: src})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.DeleteImage(context.Background(), img.ID) })
	img = waitImage(b, c, img.ID, "ready")

	start := time.Now()
	name := uniqueName("bench-copy")
	// The image is no boot disk: the guest sits in the BIOS, which is all
	// the copy needs.
	l.createVM(b, c, client.VMRequest{Name: name, VCPUs: 1, MemoryMiB: 96, Image: img.Name, Placement: &client.PlacementSpec{Nodes: []string{to.Name}}})
	var line string
	testutil.Eventually(b, 2*time.Minute, "the copy of image "+img.Name+" on "+to.Name, func() error {
		lines := to.agentLogSince(start, "image copied")
		for _, l := range lines {
			if strings.Contains(l, "image="+img.Name+" ") {
				line = l
				return nil
			}
		}
		return fmt.Errorf("not in %s's log yet", to.Name)
	})
	_, tookStr, _ := strings.Cut(line, " took=")
	copyTook, err := time.ParseDuration(strings.Fields(tookStr)[0])
	if err != nil {
		b.Fatalf("%q: %v", line, err)
	}
	dst := src + ".cp"
	cpStart := time.Now()
	if out, err := exec.Command("cp", src, dst).CombinedOutput(); err != nil {
		b.Fatalf("cp: %v %s", err, out)
	}
	if out, err := exec.Command("sync", dst).CombinedOutput(); err != nil {
		b.Fatalf("sync: %v %s", err, out)
	}
	cpTook := time.Since(cpStart)
	os.Remove(dst)
	mib := float64(img.SizeBytes) / (1 << 20)
	b.ReportMetric(mib/copyTook.Seconds(), "copy-MiB/s")
	b.ReportMetric(mib/cpTook.Seconds(), "cp-MiB/s")
	b.ReportMetric(cpTook.Seconds()/copyTook.Seconds(), "copy/cp-speed")
	b.Logf("image copy of %.0f MiB from %s to %s: %s (%.0f MiB/s); cp+sync of the same file: %s (%.0f MiB/s)",
		mib, from.Name, to.Name, copyTook.Round(time.Millisecond), mib/copyTook.Seconds(), cpTook.Round(time.Millisecond), mib/cpTook.Seconds())
}

// writeRandom writes size random bytes to a new file at path, removed when
// the benchmark ends.
func writeRandom(tb testing.TB, path string, size int64) {
	tb.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.Remove(path) })
	if _, err := io.CopyN(f, rand.Reader, size); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
}
