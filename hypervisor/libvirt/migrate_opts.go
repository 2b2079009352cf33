package libvirt

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	golibvirt "libvirt.org/go/libvirt"

	"github.com/novacron/novacron/hypervisor"
)

// migrateFlags and migrateParams turn the options into MigrateToURI3's
// arguments. The migration is peer-to-peer (the source libvirtd connects to the
// destination itself, so this process needs no second connection for it) and
// leaves the domain defined on the destination only.
func migrateFlags(opts hypervisor.MigrateOptions) golibvirt.DomainMigrateFlags {
	flags := golibvirt.MIGRATE_PEER2PEER | golibvirt.MIGRATE_PERSIST_DEST | golibvirt.MIGRATE_UNDEFINE_SOURCE
	if opts.Live {
		flags |= golibvirt.MIGRATE_LIVE
	}
	if opts.AutoConverge {
		flags |= golibvirt.MIGRATE_AUTO_CONVERGE
	}
	if opts.PostCopy {
		flags |= golibvirt.MIGRATE_POSTCOPY
	}
	if opts.Parallel > 1 {
		flags |= golibvirt.MIGRATE_PARALLEL
	}
	if opts.Compression != "" {
		flags |= golibvirt.MIGRATE_COMPRESSED
	}
	if opts.SharedStorage {
		flags |= golibvirt.MIGRATE_UNSAFE
	}
	if len(opts.CopyDisks) > 0 {
		// Only the overlay moves (NBD, incremental): the destination has
		// the image it is backed by.
		flags |= golibvirt.MIGRATE_NON_SHARED_INC
	}
	return flags
}

func migrateParams(opts hypervisor.MigrateOptions, destXML, persistXML string) *golibvirt.DomainMigrateParameters {
	p := &golibvirt.DomainMigrateParameters{DestXMLSet: true, DestXML: destXML}
	if persistXML != "" {
		p.PersistXMLSet, p.PersistXML = true, persistXML
	}
	if opts.MigrateURI != "" {
		p.URISet, p.URI = true, opts.MigrateURI
	}
	if opts.BandwidthMiBps > 0 {
		p.BandwidthSet, p.Bandwidth = true, opts.BandwidthMiBps
	}
	if opts.Parallel > 1 {
		p.ParallelConnectionsSet, p.ParallelConnections = true, opts.Parallel
	}
	if opts.Compression != "" {
		p.CompressionSet, p.Compression = true, opts.Compression
	}
	if len(opts.CopyDisks) > 0 {
		p.MigrateDisksSet, p.MigrateDisks = true, opts.CopyDisks
	}
	return p
}

// withMeta returns doc (domain XML as libvirt printed it) with NovaCron's
// metadata element replaced by m. The rest of the document is kept byte for
// byte: the destination checks that the XML describes the same machine, and
// a full parse-and-render round trip could drop what libvirtxml does not know.
func withMeta(doc string, m vmMeta) (string, error) {
	dec := xml.NewDecoder(strings.NewReader(doc))
	var path []string
	for {
		off := dec.InputOffset()
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return "", errors.New("domain xml has no novacron metadata element")
		}
		if err != nil {
			return "", fmt.Errorf("parse domain xml: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(path) == 2 && path[0] == "domain" && path[1] == "metadata" &&
				t.Name.Space == MetadataNamespace && t.Name.Local == "vm" {
				if err := dec.Skip(); err != nil {
					return "", fmt.Errorf("parse novacron metadata: %w", err)
				}
				end := dec.InputOffset()
				return doc[:off] + metadataXML(m) + doc[end:], nil
			}
			path = append(path, t.Name.Local)
		case xml.EndElement:
			path = path[:len(path)-1]
		}
	}
}

// migrateError maps a failed MigrateToURI3 to the driver's errors.
func migrateError(id, dest string, err error) error {
	op := fmt.Sprintf("migrate domain %s to %s", id, dest)
	switch libvirtCode(err) {
	case golibvirt.ERR_NO_SUPPORT, golibvirt.ERR_ARGUMENT_UNSUPPORTED:
		// The hypervisor cannot migrate, or not peer-to-peer (libvirt's test
		// driver: "p2p migration is not supported by the source host").
		return fmt.Errorf("%w: %s: %w", hypervisor.ErrMigrationUnsupported, op, err)
	case golibvirt.ERR_OPERATION_INVALID:
		return fmt.Errorf("%w: %s: %w", ErrState, op, err)
	case golibvirt.ERR_INVALID_ARG:
		// An option this libvirt does not take ("Unsupported compression
		// method 'zstd'" before libvirt 9.4).
		return fmt.Errorf("%w: %s: libvirt refused the options: %w", hypervisor.ErrInvalidSpec, op, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// progressFrom turns a running job's stats into a progress report.
func progressFrom(info *golibvirt.DomainJobInfo) hypervisor.MigrateProgress {
	p := hypervisor.MigrateProgress{
		Elapsed:   msDuration(info.TimeElapsed),
		DataTotal: info.DataTotal, DataProcessed: info.DataProcessed, DataRemaining: info.DataRemaining,
		Iteration: info.MemIteration,
	}
	if info.MemDirtyRateSet {
		page := info.MemPageSize
		if !info.MemPageSizeSet || page == 0 {
			page = 4096 // QEMU's page size on x86 when libvirt does not say
		}
		p.DirtyRate = info.MemDirtyRate * page
	}
	return p
}

// resultFrom turns a completed job's stats into the result. Total and
// Downtime are libvirt's own figures (time_elapsed, downtime).
func resultFrom(info *golibvirt.DomainJobInfo) hypervisor.MigrateResult {
	return hypervisor.MigrateResult{
		Total: msDuration(info.TimeElapsed), Downtime: msDuration(info.Downtime),
		DataTransferred: info.DataProcessed, DataTotal: info.DataTotal, Iterations: info.MemIteration,
	}
}

// msDuration converts libvirt's milliseconds.
func msDuration(ms uint64) time.Duration { return time.Duration(ms) * time.Millisecond }

// movePaths rewrites, in domain XML, every file attribute under a folder of
// moves (key) to the same file under the destination's folder (value):
// the destination keeps the VM's volumes elsewhere. Only attribute values
// that start with the folder change; the rest stays byte for byte.
func movePaths(doc string, moves map[string]string) string {
	for from, to := range moves {
		for _, q := range []string{"'", `"`} {
			doc = strings.ReplaceAll(doc, q+attrEscape(from)+"/", q+attrEscape(to)+"/")
		}
	}
	return doc
}

// attrEscape escapes s as an XML attribute value.
func attrEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "'", "&apos;", `"`, "&quot;").Replace(s)
}
