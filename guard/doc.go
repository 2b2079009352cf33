// Package guard is the host's fencing guard: a small process beside the agent
// that stops the host's HA domains when the agent's lease with the leader ends,
// whether or not the agent itself is still being scheduled.
//
// Why a separate process. The agent fences itself when its lease ends (see the
// host agent's lease code), but only if it runs: an agent frozen by SIGSTOP, a
// stuck GC or a swap storm fences nothing, while its QEMU processes, which do
// not depend on it, keep running. The leader restarts those VMs elsewhere once
// the lease has surely ended, and the VM runs twice. The guard is Proxmox's
// watchdog-mux beside pve-ha-lrm: a process of its own, in its own process
// group (a signal to the agent does not reach it), that shares nothing with
// the agent but a lease file, and talks to libvirt on a connection of its own.
//
// The lease file is one memory-mapped page (see lease.go for the layout) of
// 64-bit fields read and written with sync/atomic by both processes:
//
//   - the agent writes its lease deadline, in CLOCK_MONOTONIC nanoseconds
//     (both processes read the same clock, and wall-clock jumps do not move
//     it), its pid, and a disarm flag on a clean stop;
//   - the guard writes its heartbeat (monotonic ns) every Config.Interval, its
//     pid, and which deadline it has fenced.
//
// Beside it, the agent keeps a side file (the lease path plus ".domains",
// JSON, replaced by atomic rename) naming every managed domain it knows on the
// host with its fence action: destroy, pause, or keep (not HA). The guard
// reads it when it changes, so that fencing needs no I/O but libvirt's.
//
// The rules, as the guard applies them every Interval:
//
//   - Deadline zero: the agent never had a lease; nothing to fence.
//   - Deadline passed and not fenced since the last renewal: fence. Every
//     listed destroy or pause domain is stopped at once, in parallel, and,
//     when the Fencer can list the host's domains, every running managed
//     domain the side file does not name is destroyed too (the agent's own
//     fence does the same with a domain it does not know). A failed fence is
//     retried until it succeeds or the agent renews.
//   - The watchdog device, when configured, is petted only while the host is
//     safe: not armed yet, deadline not passed, or the fence finished. A guard
//     that hangs, or a fence that does not finish, lets the kernel reset the
//     host before the leader restarts its VMs elsewhere.
//   - The guard exits on disarm (a clean agent stop: no fence, the watchdog is
//     closed with its magic 'V'); when another live agent has taken the file
//     over, or another guard has; and when the agent is dead and the guard has
//     fenced (nobody will renew), or the agent is dead and was never armed.
//
// The other way round, the agent checks the guard's heartbeat
// (Lease.GuardAlive) and fences by itself when the guard is gone or hung.
//
// The guard process is `novacron guard`, started by the agent (Spawn), never
// by hand.
package guard
