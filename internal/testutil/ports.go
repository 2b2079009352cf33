package testutil

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
)

// portTries bounds how many candidate ports PickFreePorts looks at per port
// asked for before it gives up.
const portTries = 100

var (
	// portsMu serialises PickFreePorts, so that two tests of one process
	// never hold the same candidate.
	portsMu sync.Mutex
	// handedOut is every port this process handed out: a port a test's agent
	// released (killed, restarting) must not go to another test meanwhile.
	handedOut = map[int]bool{}
)

// FreePort returns a port on 127.0.0.1 that is free for both TCP and UDP and
// that this process has not handed out before; it fails tb when there is none.
func FreePort(tb testing.TB) int {
	tb.Helper()
	return FreePorts(tb, 1)[0]
}

// FreePorts returns n distinct ports as FreePort does (an agent's gossip, raft
// and HTTP ports, say).
func FreePorts(tb testing.TB, n int) []int {
	tb.Helper()
	ports, err := PickFreePorts(n)
	if err != nil {
		tb.Fatalf("free ports: %v", err)
	}
	return ports
}

// PickFreePorts is FreePorts for a caller without a testing.TB. Each port is
// free for TCP and UDP on 127.0.0.1 because gossip (memberlist) binds both on
// the same port: it binds a kernel-chosen TCP port, then UDP on that number,
// and holds both until all n are chosen, so none of them can be picked twice.
// A port whose UDP side is taken, or that this process handed out before, is
// skipped. Between the return and the agent's own bind another process may
// take a port; the kernel hands out ports at random, so that is rare.
func PickFreePorts(n int) ([]int, error) {
	portsMu.Lock()
	defer portsMu.Unlock()
	var held []io.Closer
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	ports := make([]int, 0, n)
	for tries := 0; len(ports) < n; tries++ {
		if tries == portTries*n {
			return nil, fmt.Errorf("no port free for both TCP and UDP on 127.0.0.1 after %d tries", tries)
		}
		tcp, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		p := tcp.Addr().(*net.TCPAddr).Port
		udp, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			tcp.Close()
			continue
		}
		if handedOut[p] {
			tcp.Close()
			udp.Close()
			continue
		}
		held = append(held, tcp, udp)
		ports = append(ports, p)
	}
	for _, p := range ports {
		handedOut[p] = true
	}
	return ports, nil
}
