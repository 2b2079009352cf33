package testutil

import (
	"net"
	"strconv"
	"testing"
)

func TestFreePorts_FreeForTCPAndUDP(t *testing.T) {
	for _, p := range FreePorts(t, 5) {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
		tcp, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("port %d is not free for TCP: %v", p, err)
		}
		udp, err := net.ListenPacket("udp", addr)
		if err != nil {
			t.Fatalf("port %d is not free for UDP: %v", p, err)
		}
		tcp.Close()
		udp.Close()
	}
}

func TestFreePort_NeverTheSameTwice(t *testing.T) {
	seen := map[int]bool{}
	for range 200 {
		p := FreePort(t)
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
	}
	for _, p := range FreePorts(t, 20) {
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
	}
}

func TestFreePort_SkipsAPortTakenForUDP(t *testing.T) {
	// Which port the kernel offers next cannot be arranged, so take UDP on
	// twenty ports and check that none of them comes back while it is taken.
	taken := map[int]bool{}
	var held []net.PacketConn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for range 20 {
		u, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, u)
		taken[u.LocalAddr().(*net.UDPAddr).Port] = true
	}
	for range 100 {
		if p := FreePort(t); taken[p] {
			t.Fatalf("port %d returned while its UDP side is taken", p)
		}
	}
}
