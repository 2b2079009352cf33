package fsm

//msgp:tag json
//msgp:timezone utc

import (
	"cmp"
	"slices"
	"time"
)

// Images (issue 15): the disks VMs start from. An image is imported once by
// the node that took the request (from a file in its allowed image folders
// or an allow-listed URL), which detects its format once with qemu-img and
// records it with its size and SHA-256; every later use passes the recorded
// format and never probes. It lives in one pool: in a shared pool every host
// reads the one copy, in a dir pool a host copies it from a host that holds
// it on first use, and Hosts grows.

// ImageState is where an image is in its life.
type ImageState string

// Image states.
const (
	ImageImporting ImageState = "importing"
	ImageReady     ImageState = "ready"
	ImageFailed    ImageState = "failed"
	// ImageCancelled: a user cancelled the import; its importer stops and
	// removes what it had written.
	ImageCancelled ImageState = "cancelled"
)

// Bounds on images.
const (
	MaxImages      = 10000
	MaxImageHosts  = 1024
	MaxImageSource = 2048
	MaxErrorLen    = 1024
)

// Image formats: the only two a VM disk may be.
const (
	ImageRaw   = DiskRaw
	ImageQCOW2 = DiskQCOW2
)

// Image is an imported disk image.
type Image struct {
	ID      string `json:"id"`
	Project string `json:"project"`
	Name    string `json:"name"`
	Pool    string `json:"pool"`
	// Source is what it was imported from: a file path or a URL.
	Source string     `json:"source"`
	State  ImageState `json:"state"`
	// Format, sizes and checksum are recorded when the import finishes.
	Format           string `json:"format,omitempty"`
	SizeBytes        int64  `json:"size_bytes,omitempty"`
	VirtualSizeBytes int64  `json:"virtual_size_bytes,omitempty"`
	SHA256           string `json:"sha256,omitempty"`
	Error            string `json:"error,omitempty"`
	// Importer is the node that imports it; Hosts the nodes holding a
	// verified copy (for a dir pool).
	Importer  string    `json:"importer"`
	Hosts     []string  `json:"hosts,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// CreateImage records an import that is starting.
type CreateImage struct {
	Image Image `json:"image"`
}

// UpdateImage records how an import ended (State ready or failed, with the
// facts found), or, with only Host set, a host that now holds a copy.
type UpdateImage struct {
	ID               string     `json:"id"`
	State            ImageState `json:"state,omitempty"`
	Format           string     `json:"format,omitempty"`
	SizeBytes        int64      `json:"size_bytes,omitempty"`
	VirtualSizeBytes int64      `json:"virtual_size_bytes,omitempty"`
	SHA256           string     `json:"sha256,omitempty"`
	Error            string     `json:"error,omitempty"`
	Host             string     `json:"host,omitempty"`
	At               time.Time  `json:"at"`
}

// DeleteImage removes an image no VM uses.
type DeleteImage struct {
	ID string `json:"id"`
}

// CancelImageImport cancels an import under way (the image_import
// operation's DELETE): the image is recorded cancelled at once, and its
// importer, which watches its record, stops and removes its partial file.
type CancelImageImport struct {
	ID string    `json:"id"`
	At time.Time `json:"at"`
}

func (CreateImage) Type() CommandType          { return CmdCreateImage }
func (UpdateImage) Type() CommandType          { return CmdUpdateImage }
func (DeleteImage) Type() CommandType          { return CmdDeleteImage }
func (CancelImageImport) Type() CommandType    { return CmdCancelImageImport }
func (c CreateImage) target() (string, string) { return "image", c.Image.ID }
func (c UpdateImage) target() (string, string) { return "image", c.ID }
func (c DeleteImage) target() (string, string) { return "image", c.ID }
func (c CancelImageImport) target() (string, string) {
	return "image", c.ID
}

func init() {
	register(CmdCreateImage, "CreateImage", applyCreateImage)
	register(CmdUpdateImage, "UpdateImage", applyUpdateImage)
	register(CmdDeleteImage, "DeleteImage", applyDeleteImage)
	register(CmdCancelImageImport, "CancelImageImport", applyCancelImageImport)
}

func applyCreateImage(s *state, c *CreateImage, _ uint64) error {
	img := c.Image
	if err := ValidateName("image id", img.ID); err != nil {
		return err // an ID names the image's file on every host: no slashes
	}
	if _, dup := s.images[img.ID]; dup {
		return errorf(ErrConflict, "image id %q already exists", img.ID)
	}
	if err := ValidateName("image name", img.Name); err != nil {
		return err
	}
	img.Project = projectOf(img.Project)
	if _, ok := s.projects[img.Project]; !ok {
		return errorf(ErrNotFound, "project %q not found", img.Project)
	}
	if img.Pool == "" {
		img.Pool = DefaultPool
	}
	if _, ok := s.pool(img.Pool); !ok {
		return errorf(ErrNotFound, "pool %q not found", img.Pool)
	}
	if img.Source == "" || len(img.Source) > MaxImageSource {
		return errorf(ErrInvalid, "image source is required, at most %d characters", MaxImageSource)
	}
	if img.Importer == "" {
		return errorf(ErrInvalid, "image importer node is required")
	}
	if s.imageByName(img.Project, img.Name) != nil {
		return errorf(ErrConflict, "project %s already has an image named %s", img.Project, img.Name)
	}
	if len(s.images) >= MaxImages {
		return errorf(ErrConflict, "the cluster holds %d images, the most it may", MaxImages)
	}
	img.State, img.Error, img.Hosts = ImageImporting, "", nil
	img.Format, img.SizeBytes, img.VirtualSizeBytes, img.SHA256 = "", 0, 0, ""
	img.UpdatedAt = img.CreatedAt
	s.images[img.ID] = &img
	return nil
}

func applyUpdateImage(s *state, c *UpdateImage, _ uint64) error {
	img, ok := s.images[c.ID]
	if !ok {
		return errorf(ErrNotFound, "image %q not found", c.ID)
	}
	if len(c.Error) > MaxErrorLen {
		c.Error = c.Error[:MaxErrorLen]
	}
	switch c.State {
	case "":
		if c.Host == "" {
			return errorf(ErrInvalid, "an image update needs a state or a host")
		}
		if img.State != ImageReady {
			return errorf(ErrState, "image %s is %s, not ready: no host can hold a copy", img.Name, img.State)
		}
	case ImageReady:
		if img.State != ImageImporting {
			return errorf(ErrState, "image %s is %s, not importing", img.Name, img.State)
		}
		if c.Format != ImageRaw && c.Format != ImageQCOW2 {
			return errorf(ErrInvalid, "image format %q: only %s and %s", c.Format, ImageRaw, ImageQCOW2)
		}
		if c.SizeBytes <= 0 || c.VirtualSizeBytes <= 0 || len(c.SHA256) != 64 || c.Host == "" {
			return errorf(ErrInvalid, "a ready image needs its size, virtual size, SHA-256 and the host holding it")
		}
		img.Format, img.SizeBytes, img.VirtualSizeBytes, img.SHA256 = c.Format, c.SizeBytes, c.VirtualSizeBytes, c.SHA256
		img.State, img.Error = ImageReady, ""
	case ImageFailed:
		if img.State != ImageImporting {
			return errorf(ErrState, "image %s is %s, not importing", img.Name, img.State)
		}
		img.State, img.Error = ImageFailed, c.Error
	default:
		return errorf(ErrInvalid, "image state %q: use ready or failed", c.State)
	}
	if c.Host != "" && !slices.Contains(img.Hosts, c.Host) {
		if len(img.Hosts) >= MaxImageHosts {
			return errorf(ErrConflict, "image %s is on %d hosts, the most recorded", img.Name, MaxImageHosts)
		}
		img.Hosts = append(slices.Clone(img.Hosts), c.Host)
		slices.Sort(img.Hosts)
	}
	img.UpdatedAt = c.At
	return nil
}

func applyCancelImageImport(s *state, c *CancelImageImport, _ uint64) error {
	img, ok := s.images[c.ID]
	if !ok {
		return errorf(ErrNotFound, "image %q not found", c.ID)
	}
	if img.State != ImageImporting {
		return errorf(ErrState, "image %s is %s, not importing: nothing to cancel", img.Name, img.State)
	}
	img.State, img.Error, img.UpdatedAt = ImageCancelled, "import cancelled", c.At
	return nil
}

func applyDeleteImage(s *state, c *DeleteImage, _ uint64) error {
	img, ok := s.images[c.ID]
	if !ok {
		return errorf(ErrNotFound, "image %q not found", c.ID)
	}
	for _, vm := range s.vms {
		if vm.Spec.Image == img.ID {
			return errorf(ErrState, "image %s is the base of vm %s's disk; delete the vm first", img.Name, vm.Spec.Name)
		}
	}
	delete(s.images, c.ID)
	return nil
}

// imageByName finds an image by project and name.
func (s *state) imageByName(project, name string) *Image {
	for _, img := range s.images {
		if img.Project == project && img.Name == name {
			return img
		}
	}
	return nil
}

func cloneImage(img *Image) Image {
	c := *img
	c.Hosts = slices.Clone(img.Hosts)
	return c
}

// Images returns every image, by project and name.
func (f *FSM) Images() []Image {
	f.mu.RLock()
	out := make([]Image, 0, len(f.s.images))
	for _, img := range f.s.images {
		out = append(out, cloneImage(img))
	}
	f.mu.RUnlock()
	slices.SortFunc(out, func(a, b Image) int {
		return cmp.Or(cmp.Compare(a.Project, b.Project), cmp.Compare(a.Name, b.Name))
	})
	return out
}

// Image returns one image by ID.
func (f *FSM) Image(id string) (Image, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	img, ok := f.s.images[id]
	if !ok {
		return Image{}, errorf(ErrNotFound, "image %q not found", id)
	}
	return cloneImage(img), nil
}

// ImageByName returns the image of a project with that name.
func (f *FSM) ImageByName(project, name string) (Image, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	img := f.s.imageByName(projectOf(project), name)
	if img == nil {
		return Image{}, errorf(ErrNotFound, "project %s has no image %q", projectOf(project), name)
	}
	return cloneImage(img), nil
}

// checkDisk checks a new VM's image and pool: the image is ready, in the
// VM's project and its pool, and no larger than the root volume.
func (s *state) checkDisk(project string, spec *VMSpec) error {
	pool := spec.EffectivePool()
	if _, ok := s.pool(pool); !ok {
		return errorf(ErrNotFound, "pool %q not found", pool)
	}
	if spec.Image == "" {
		return nil
	}
	img, ok := s.images[spec.Image]
	if !ok || img.Project != project {
		return errorf(ErrNotFound, "image %q not found in project %s", spec.Image, project)
	}
	switch {
	case img.State != ImageReady:
		return errorf(ErrState, "image %s is %s, not ready", img.Name, img.State)
	case img.Pool != pool:
		return errorf(ErrInvalid, "image %s is in pool %s, the vm's disk would be in %s: use pool %s", img.Name, img.Pool, pool, img.Pool)
	case img.VirtualSizeBytes > spec.DiskGiB<<30:
		return errorf(ErrInvalid, "disk_gib %d is smaller than image %s (%d bytes)", spec.DiskGiB, img.Name, img.VirtualSizeBytes)
	}
	return nil
}
