package alerting

import (
	"bufio"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/novacron/novacron/fsm"
)

// smtpReceiver is the receiving end of an SMTP conversation on loopback:
// it accepts every message and keeps it.
type smtpReceiver struct {
	ln   net.Listener
	mu   sync.Mutex
	mail []string
}

func newSMTPReceiver(t *testing.T) *smtpReceiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &smtpReceiver{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go r.serve(c)
		}
	}()
	return r
}

func (r *smtpReceiver) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	rd := bufio.NewReader(c)
	say := func(s string) { c.Write([]byte(s + "\r\n")) }
	say("220 test ESMTP")
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			return
		}
		switch cmd := strings.ToUpper(strings.TrimSpace(line)); {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			say("250 test")
		case cmd == "DATA":
			say("354 go on")
			var msg strings.Builder
			for {
				l, err := rd.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				msg.WriteString(l)
			}
			r.mu.Lock()
			r.mail = append(r.mail, msg.String())
			r.mu.Unlock()
			say("250 queued")
		case cmd == "QUIT":
			say("221 bye")
			return
		default: // MAIL FROM, RCPT TO, RSET, NOOP
			say("250 ok")
		}
	}
}

func (r *smtpReceiver) received() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.mail...)
}

// A mail target gets the firing notice through the agent's SMTP server;
// without one configured, the send fails (and is tried again later).
func TestEngine_MailTarget(t *testing.T) {
	smtpd := newSMTPReceiver(t)
	e, c, clk := newEngine(t, nil)
	e.sender.mail = Mail{Addr: smtpd.ln.Addr().String(), From: "novacron@example.com"}
	c.must(t, &fsm.PutAlertTarget{Target: fsm.AlertTarget{Name: "oncall", Kind: "email", To: []string{"ops@example.com"}}})
	c.must(t, &fsm.RegisterNode{Node: fsm.Node{ID: "n1", Name: "host-1", Status: fsm.NodeAlive, Capacity: fsm.Capacity{VCPUs: 4, MemoryMiB: 4096, DiskGiB: 10}}, At: clk.now})
	c.must(t, &fsm.SetNodeStatus{ID: "n1", Status: fsm.NodeFailed, At: clk.now})
	e.Round(context.Background())
	mail := smtpd.received()
	if len(mail) != 1 || !strings.Contains(mail[0], "Subject: [NovaCron CRITICAL] firing host_failed: host-1") ||
		!strings.Contains(mail[0], "To: ops@example.com") || !strings.Contains(mail[0], "host host-1 is failed") {
		t.Fatalf("mail %q", mail)
	}
	if a, _ := c.f.Alert("host_failed:node:n1"); a.Notified["oncall"] != fsm.AlertFiring {
		t.Fatalf("the mail is not recorded: %+v", a.Notified)
	}

	err := newSender(Mail{}).send(context.Background(), fsm.AlertTarget{Name: "x", Kind: "email", To: []string{"a@b.c"}}, Notice{})
	if err == nil || !strings.Contains(err.Error(), "--smtp-addr") {
		t.Fatalf("mail without a server: %v", err)
	}
}
