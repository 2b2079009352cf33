package testutil

import (
	"fmt"
	"io"
	"math/rand/v2"
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

// Test ports come from below the kernel's ephemeral range (32768-60999 by
// default): a port picked there could be given to any outgoing connection
// (a test's HTTP client, a Raft dial) before the agent binds it, which CI
// saw ("bind: address already in use") while other packages' tests ran.
// Here only another test process picking the same random port can race.
const (
	portLow  = 15000
	portHigh = 32000
)

// PickFreePorts is FreePorts for a caller without a testing.TB. Each port is
// free for TCP and UDP on 127.0.0.1 because gossip (memberlist) binds both on
// the same port: it binds a random candidate for TCP, then UDP on that
// number, and holds both until all n are chosen, so none of them can be
// picked twice. A port taken for either, or that this process handed out
// before, is skipped.
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
		p := portLow + rand.IntN(portHigh-portLow)
		if handedOut[p] {
			continue
		}
		tcp, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		udp, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			tcp.Close()
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
