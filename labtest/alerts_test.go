package labtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/novacron/novacron/alerting"
	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/testutil"
)

// A lab host killed outright (libvirtd and agent, issue 16): the built-in
// host_failed alert fires, a webhook receiver on loopback gets one
// notification with a valid signature, an acknowledgement through the CLI
// shows in the API, and the host's return resolves the alert.
func TestLab_HostFailedAlertNotifies(t *testing.T) {
	l := needLab(t)
	ctx := context.Background()
	const secret = "lab-webhook-secret-0123456789"
	var mu sync.Mutex
	var notices []alerting.Notice
	bad := 0
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts, _ := strconv.ParseInt(r.Header.Get(alerting.TimestampHeader), 10, 64)
		mu.Lock()
		defer mu.Unlock()
		if r.Header.Get(alerting.SignatureHeader) != alerting.Sign(secret, ts, body) {
			bad++
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var n alerting.Notice
		if json.Unmarshal(body, &n) == nil {
			notices = append(notices, n)
		}
	}))
	defer hook.Close()

	leader := l.leaderHost(t)
	var victim *labHost
	for _, h := range l.hosts[1:] { // the CLI talks to the first host
		if h != leader {
			victim = h
			break
		}
	}
	c := l.client(t, victim.Name)
	target := uniqueName("lab-hook")
	if _, err := c.PutAlertTarget(ctx, client.AlertTarget{Name: target, Kind: "webhook", URL: hook.URL, Secret: secret, Severities: []string{"critical"}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.DeleteAlertTarget(context.Background(), target) })

	l.killHost(t, victim)
	var id string
	testutil.Eventually(t, 2*time.Minute, "a signed host_failed notice of "+victim.Name, func() error {
		mu.Lock()
		defer mu.Unlock()
		for _, n := range notices {
			if n.Alert.Rule == "host_failed" && n.Alert.ObjectName == victim.Name && n.State == "firing" {
				id = n.Alert.ID
				return nil
			}
		}
		return fmt.Errorf("%d notices, %d with a bad signature", len(notices), bad)
	})
	if res := l.cli(t, "alert", "ack", id); !strings.Contains(res.Stdout, "acknowledged") {
		t.Fatalf("novacron alert ack: %s", res)
	}
	acked, err := c.Alerts(ctx, "acknowledged")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(fmt.Sprint(acked), id) {
		t.Fatalf("acknowledged alerts %+v lack %s", acked, id)
	}

	l.restartHost(t, victim)
	testutil.Eventually(t, time.Minute, "the alert resolved with "+victim.Name+" back", func() error {
		resolved, err := c.Alerts(ctx, "resolved")
		if err != nil {
			return err
		}
		if !strings.Contains(fmt.Sprint(resolved), id) {
			return fmt.Errorf("not resolved yet")
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	if bad != 0 {
		t.Fatalf("%d notices with a bad signature", bad)
	}
}
