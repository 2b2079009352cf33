package main

import (
	"errors"
	"os"
	"testing"
)

// refuseProbe stands in for the libvirt probe of an agent given no
// --hypervisor: the unit tests never reach the machine's own libvirtd.
func refuseProbe(string) error { return errors.New("no libvirt in unit tests") }

func TestMain(m *testing.M) {
	probeLibvirt = refuseProbe
	os.Exit(m.Run())
}
