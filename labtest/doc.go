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
// Host failures use lab.sh's kill, restart, cut and heal verbs (each agent has
// an address of its own, 127.0.1.I, which a cut drops). During those tests a
// witness (witness_test.go) samples every host's libvirt at 20 Hz, apart from
// NovaCron, and fails the test if a VM's domain ever runs on two hosts in the
// same round; the HA tests (ha_test.go) measure from the kill or the cut to
// each guest running on another host, and BenchmarkLab_HostFailover reports
// the median as host-failover-s.
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
//	go test -tags libvirt_dlopen -count=1 -v -timeout 30m ./labtest/
//	go test -tags libvirt_dlopen -count=1 -run '^$' -bench . -timeout 30m ./labtest/
package labtest
