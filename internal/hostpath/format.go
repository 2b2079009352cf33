package hostpath

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
)

// Disk image formats a VM spec records (boot.disk_format).
const (
	FormatRaw   = "raw"
	FormatQCOW2 = "qcow2"
)

// ErrBackingFile refuses a qcow2 image that names a backing file: the backing
// file is another host path, which no check here has confined.
var ErrBackingFile = errors.New("is a qcow2 image with a backing file; only self-contained images are allowed")

// ErrBadImage refuses a file that starts like a qcow2 image but is too short
// to be one.
var ErrBadImage = errors.New("starts with a qcow2 header but is not a valid qcow2 image")

var qcow2Magic = []byte{'Q', 'F', 'I', 0xfb}

// qcow2 header: magic (4 bytes), version (4), backing_file_offset (8, big endian).
const qcow2HeaderLen = 16

// DetectFormat reads the first bytes of a file that Check accepted and tells
// qcow2 from raw. It is meant to run once, when a VM is created, and its answer
// recorded in the spec: probing at every start would let a guest that wrote a
// qcow2 header into its raw disk choose how the host opens that disk next time.
func DetectFormat(resolved string) (string, error) {
	f, err := os.Open(resolved)
	if err != nil {
		return "", ErrNotAllowed
	}
	defer f.Close()
	head := make([]byte, qcow2HeaderLen)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "", ErrNotAllowed
	}
	if n < len(qcow2Magic) || !bytes.Equal(head[:len(qcow2Magic)], qcow2Magic) {
		return FormatRaw, nil
	}
	if err := checkQCOW2Header(head[:n]); err != nil {
		return "", err
	}
	return FormatQCOW2, nil
}

// CheckQCOW2 refuses a qcow2 image with a backing file; a file that does not
// start with the qcow2 magic passes (as qcow2 it would not open at all).
func CheckQCOW2(resolved string) error {
	f, err := os.Open(resolved)
	if err != nil {
		return ErrNotAllowed
	}
	defer f.Close()
	head := make([]byte, qcow2HeaderLen)
	n, _ := io.ReadFull(f, head)
	if n < len(qcow2Magic) || !bytes.Equal(head[:len(qcow2Magic)], qcow2Magic) {
		return nil
	}
	return checkQCOW2Header(head[:n])
}

func checkQCOW2Header(head []byte) error {
	if len(head) < qcow2HeaderLen {
		return ErrBadImage
	}
	if binary.BigEndian.Uint64(head[8:16]) != 0 {
		return ErrBackingFile
	}
	return nil
}

// CheckDisk is Check for a disk image recorded with format: a qcow2 image
// must also name no backing file. Any other format (raw) is not looked into.
func (c *Confiner) CheckDisk(path, format string) (string, error) {
	resolved, err := c.Check(path)
	if err != nil {
		return "", err
	}
	if format == FormatQCOW2 {
		if err := CheckQCOW2(resolved); err != nil {
			return "", err
		}
	}
	return resolved, nil
}
