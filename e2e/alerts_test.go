package e2e

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

// A host dies on a real 3-agent cluster (issue 16): the built-in
// host_failed alert fires, a webhook receiver on loopback gets one
// notification with a valid signature, acknowledging the alert through
// the CLI shows in the API, and the host's return resolves it.
func TestE2E_HostFailedAlertNotifiesAndIsAcknowledged(t *testing.T) {
	requireBinary(t)
	t.Parallel()
	c := startCluster(t, 3, func(_ int, cfg *agentConfig) {
		cfg.extra = append(cfg.extra, "--fence-timeout", "2s", "--heartbeat-interval", "250ms")
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	const secret = "webhook-secret-0123456789"
	var mu sync.Mutex
	var notices []alerting.Notice
	var badSignatures int
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts, _ := strconv.ParseInt(r.Header.Get(alerting.TimestampHeader), 10, 64)
		mu.Lock()
		defer mu.Unlock()
		if r.Header.Get(alerting.SignatureHeader) != alerting.Sign(secret, ts, body) {
			badSignatures++
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var n alerting.Notice
		if err := json.Unmarshal(body, &n); err == nil {
			notices = append(notices, n)
		}
	}))
	defer hook.Close()

	leader := c.leader()
	api := leader.client(c.token)
	if _, err := api.PutAlertTarget(ctx, client.AlertTarget{Name: "ops", Kind: "webhook", URL: hook.URL, Secret: secret, Severities: []string{"critical"}}); err != nil {
		t.Fatal(err)
	}
	victim := c.followers(leader)[0]
	victim.kill()
	var alertID string
	testutil.Eventually(t, time.Minute, "the host_failed alert of "+victim.name+" notified", func() error {
		mu.Lock()
		defer mu.Unlock()
		for _, n := range notices {
			if n.Alert.Rule == "host_failed" && n.Alert.ObjectName == victim.name && n.State == "firing" {
				alertID = n.Alert.ID
				return nil
			}
		}
		return fmt.Errorf("%d notices so far, %d with a bad signature", len(notices), badSignatures)
	})
	if res := runCLI(t, leader.addr(), c.token, "alert", "ack", alertID); res.Code != 0 || !strings.Contains(res.Stdout, "acknowledged") {
		t.Fatalf("novacron alert ack: %s", res)
	}
	other := c.followers(leader)[0] // the victim is not running: the other follower
	testutil.Eventually(t, 30*time.Second, "the acknowledgement read on another node", func() error {
		alerts, err := other.client(c.token).Alerts(ctx, "acknowledged")
		if err != nil {
			return err
		}
		for _, a := range alerts {
			if a.ID == alertID && a.AckedBy != "" {
				return nil
			}
		}
		return fmt.Errorf("acknowledged alerts: %+v", alerts)
	})

	victim.start()
	testutil.Eventually(t, time.Minute, "the alert resolved once "+victim.name+" is back", func() error {
		alerts, err := api.Alerts(ctx, "resolved")
		if err != nil {
			return err
		}
		for _, a := range alerts {
			if a.ID == alertID {
				return nil
			}
		}
		return fmt.Errorf("not resolved yet")
	})
	mu.Lock()
	defer mu.Unlock()
	firing := 0
	for _, n := range notices {
		if n.Alert.ID == alertID && n.State == "firing" {
			firing++
		}
	}
	if firing != 1 || badSignatures != 0 {
		t.Fatalf("%d firing notices of the alert (want 1), %d bad signatures", firing, badSignatures)
	}
}
