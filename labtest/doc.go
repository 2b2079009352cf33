// Package labtest holds NovaCron's tests against real hypervisor hosts: a lab of
// three libvirt hosts on this machine (deploy/lab/lab.sh), each with its own
// libvirtd in a mount namespace of its own and one `novacron agent` driving it
// through the libvirt driver, booting real QEMU guests (TCG).
//
// The tests drive the cluster the way a user does, through api/client and the
// CLI binary, and check every outcome independently of NovaCron with
// `virsh -c <host URI>`, the QEMU pid files and the guests' serial logs: a VM the
// API calls running must be a running domain on its assigned host and on no
// other one.
//
// Migrations are checked the same way: after a live migration the guest's
// domain runs on the destination only, and its serial console's `tick N`
// counter goes on there from where it stopped on the source (no reboot). The
// drain and rebalancing tests allow one migration per host at a time and check
// that the bound held (oneAtATime). BenchmarkLab_LiveMigrationVsVirsh compares NovaCron's
// live migration with a plain `virsh migrate` of an identical foreign guest.
//
// TestMain builds the binary (-tags libvirt_dlopen), starts the lab in a fresh
// NOVACRON_LAB_DIR (the guest image cache NOVACRON_LAB_CACHE is shared), runs the
// tests and always runs `lab.sh down`; a watchdog process runs `down` too if the
// test binary dies without doing it (panic, -timeout). When a test failed, the
// tail of every agent's log is printed and the logs are copied to a folder that
// is kept.
//
// The package skips, with the reason, under `go test -short`, when not run as
// root, and when the lab's dependencies are missing (run
// `sudo deploy/lab/lab.sh deps`, which `make test` does as root). Set
// NOVACRON_LABTEST_REQUIRE=1 to turn those skips into failures (in CI, where the
// lab must run). A lab that has its dependencies but does not start (ports taken
// by another lab, libvirtd failing) fails the package.
//
// Run it as root:
//
//	go test -tags libvirt_dlopen -count=1 -v ./labtest/
//	go test -tags libvirt_dlopen -count=1 -run '^$' -bench . ./labtest/
package labtest
