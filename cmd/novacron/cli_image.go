package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/novacron/novacron/api/client"
)

// Image states as the API shows them in Image.State.
const (
	imageImporting = "importing"
	imageReady     = "ready"
	imageFailed    = "failed"
	imageCancelled = "cancelled"
)

// newImageCommand builds `novacron image`: the disk images VMs are made
// from, each in a project (--project), as `vm create --image` names them.
func newImageCommand(a *app) *cobra.Command {
	list := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List images",
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			allProjects, _ := cmd.Flags().GetBool("all-projects")
			c, err := a.client()
			if err != nil {
				return err
			}
			imgs, err := c.Images(cmd.Context(), allProjects)
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(imgs)
			}
			return a.printImages(imgs)
		},
	}
	list.Flags().Bool("all-projects", false, "the images of every project (instead of --project's)")
	show := &cobra.Command{
		Use:   "show ID|NAME",
		Short: "Show one image",
		Args:  exactArgs("ID|NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			img, err := c.Image(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(img)
			}
			return a.printImage(img)
		},
	}
	del := &cobra.Command{
		Use:     "delete ID|NAME",
		Aliases: []string{"rm"},
		Short:   "Delete an image no VM is made from",
		Args:    exactArgs("ID|NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			img, err := c.DeleteImage(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(img)
			}
			printf(a.stdout, "Deleted image %s.\n", nameAndID(img.Name, img.ID))
			return nil
		},
	}
	cmd := newGroupCommand("image", "Import, list and delete the disk images VMs are made from",
		newImageImportCommand(a), list, show, del)
	completeArgs(cmd, a.completeImages)
	return cmd
}

func newImageImportCommand(a *app) *cobra.Command {
	var req client.ImageRequest
	var w longWait
	cmd := &cobra.Command{
		Use:   "import NAME SOURCE [--sha256 HEX] [--pool POOL] [--no-wait]",
		Short: "Import a disk image from a file on the node or a URL",
		Long: `Import a disk image (qcow2 or raw) into a storage pool, under NAME in the
project (--project). SOURCE is an absolute path to a file in one of the image
folders (--image-dir) of the node the CLI talks to, or an http(s) URL on a host
the cluster allows (novacron settings set --image-url-allow HOST); a URL needs
--sha256, the image's SHA-256 checksum, which a file may give too.

The node checks the source at once, then imports in the background: the
command waits until the image is ready (or failed: exit 1 with its error), at
most --timeout; --no-wait returns at once.`,
		Example: `  novacron image import lab-disk /var/lib/novacron/images/lab-disk.qcow2
  novacron image import debian-12 https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-generic-amd64.qcow2 \
      --sha256 HEX      # the checksum the image's publisher gives
  novacron vm create web --image lab-disk --hostname web`,
		Args: exactArgs("NAME", "SOURCE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := w.check(); err != nil {
				return err
			}
			req.Name, req.Source, req.SHA256 = args[0], args[1], strings.TrimSpace(req.SHA256)
			c, err := a.client()
			if err != nil {
				return err
			}
			img, err := c.ImportImage(cmd.Context(), req)
			if err != nil {
				return err
			}
			if w.noWait {
				if a.json() {
					return a.printData(img)
				}
				printf(a.stdout, "Importing image %s (%s) from %s; follow it with 'novacron image show %s'.\n",
					img.Name, img.ID, img.Source, img.Name)
				return nil
			}
			if !a.json() {
				printf(a.stdout, "Importing image %s (%s) from %s...\n", img.Name, img.ID, img.Source)
			}
			return a.waitForImage(cmd.Context(), c, img, w.timeout)
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.SHA256, "sha256", "", "the image's SHA-256 checksum, in hex (required for a URL)")
	f.StringVar(&req.Pool, "pool", "", "storage pool to import into (default: the default pool)")
	w.flags(cmd, "until the image is ready", 30*time.Minute)
	return cmd
}

// waitForImage follows img's import operation until it ends, showing it,
// and prints the result from the image: ready returns nil, failed the
// image's error. Every read waits for the index of the import's answer, so
// a follower that has not applied it yet cannot answer "not found". The
// import goes on after a timeout; only the CLI stops following it.
func (a *app) waitForImage(ctx context.Context, c *client.Client, img *client.Image, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rc := c.WithReadOptions(client.ReadOptions{WaitIndex: c.LastIndex()})
	p := a.newOpProgress("importing " + img.Name)
	_, err := a.followOperation(ctx, rc, img.ID, p, nil)
	p.end()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("timed out after %s waiting for image %s to import; it goes on: follow it with 'novacron image show %s'",
			timeout, img.Name, img.Name)
	}
	if err != nil {
		return err
	}
	cur, err := rc.Image(ctx, img.ID)
	if err != nil {
		return err
	}
	if a.json() {
		if err := a.printData(cur); err != nil {
			return err
		}
	}
	switch cur.State {
	case imageFailed:
		return fmt.Errorf("image %s failed to import: %s", cur.Name, orDash(cur.Error))
	case imageCancelled:
		return fmt.Errorf("the import of image %s was cancelled; delete it with 'novacron image delete %s'", cur.Name, cur.Name)
	case imageReady:
	default:
		return fmt.Errorf("image %s is %s, yet its import ended; follow it with 'novacron image show %s'", cur.Name, cur.State, cur.Name)
	}
	if !a.json() {
		printf(a.stdout, "Image %s is ready: %s, %s (virtual %s) in pool %s on %s.\n", cur.Name, orDash(cur.Format),
			formatSize(cur.SizeBytes), formatSize(cur.VirtualSizeBytes), cur.Pool, orDash(strings.Join(cur.Hosts, ", ")))
	}
	return nil
}

// printImages writes the image table, by project then name.
func (a *app) printImages(imgs []client.Image) error {
	sort.SliceStable(imgs, func(i, j int) bool {
		if imgs[i].Project != imgs[j].Project {
			return imgs[i].Project < imgs[j].Project
		}
		return imgs[i].Name < imgs[j].Name
	})
	t := newTable(a.stdout, "NAME", "PROJECT", "STATE", "FORMAT", "SIZE", "VIRTUAL", "POOL", "HOSTS")
	for _, img := range imgs {
		t.row(img.Name, img.Project, img.State, img.Format, formatSize(img.SizeBytes), formatSize(img.VirtualSizeBytes),
			img.Pool, strings.Join(img.Hosts, ","))
	}
	return t.flush()
}

// printImage writes one image as key-value lines.
func (a *app) printImage(img *client.Image) error {
	f := newFields(a.stdout)
	f.add("ID", img.ID)
	f.add("Name", img.Name)
	f.add("Project", img.Project)
	f.add("State", img.State)
	if img.Error != "" {
		f.add("Error", img.Error)
	}
	f.add("Source", img.Source)
	f.add("Format", img.Format)
	f.add("Size", formatSize(img.SizeBytes))
	f.add("Virtual size", formatSize(img.VirtualSizeBytes))
	f.add("SHA-256", img.SHA256)
	f.add("Pool", img.Pool)
	f.add("Hosts", strings.Join(img.Hosts, ", "))
	f.add("Created", formatTime(img.CreatedAt))
	f.add("Updated", formatTime(img.UpdatedAt))
	return f.flush()
}

// formatSize shows a byte count in binary units, or "" (a dash in a
// table) for 0: a size not known yet.
func formatSize(n int64) string {
	if n <= 0 {
		return ""
	}
	return formatBytes(uint64(n))
}

// completeImages completes an image argument with the names of the
// project's images.
func (a *app) completeImages(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	return a.completeNames(cmd, args, func(ctx context.Context, c *client.Client) ([]string, error) {
		imgs, err := c.Images(ctx, false)
		names := make([]string, 0, len(imgs))
		for _, img := range imgs {
			names = append(names, img.Name)
		}
		return names, err
	})
}
