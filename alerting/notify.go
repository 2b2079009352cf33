package alerting

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/smtp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/novacron/novacron/fsm"
)

// Notifications. A target gets an alert's state once: firing, then
// acknowledged, then resolved (what it was told is recorded through Raft
// with the alert, so a new leader does not repeat it). A send that fails
// is tried again with back-off, 1 s doubling to 5 min, for as long as the
// alert stays in that state.

// SignatureHeader carries a webhook body's HMAC-SHA256, "sha256=<hex>",
// over the timestamp (TimestampHeader), a '.', and the body, keyed with
// the target's secret: a receiver recomputes it, and refuses a timestamp
// far from its clock (a replay).
const (
	SignatureHeader = "X-Novacron-Signature"
	TimestampHeader = "X-Novacron-Timestamp"
)

// Notice is a webhook's body.
type Notice struct {
	Cluster string    `json:"cluster,omitempty"`
	Target  string    `json:"target"`
	State   string    `json:"state"`
	Alert   fsm.Alert `json:"alert"`
	Rule    string    `json:"rule_description,omitempty"`
	SentAt  time.Time `json:"sent_at"`
}

// Sign returns the signature of body sent at ts with secret.
func Sign(secret string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Mail is how mail targets are sent: through an SMTP server (the agent's
// --smtp-addr), from an address.
type Mail struct {
	Addr string
	From string
}

// sender sends notices.
type sender struct {
	http *http.Client
	mail Mail
}

func newSender(mail Mail) *sender {
	dialer := &net.Dialer{Timeout: 5 * time.Second, Control: refuseLinkLocal}
	return &sender{mail: mail, http: &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{DialContext: dialer.DialContext, Proxy: nil, TLSHandshakeTimeout: 5 * time.Second},
		// A webhook's redirect would send the signed body elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// errLinkLocal: webhooks never reach link-local addresses, where the cloud
// metadata services answer (169.254.169.254).
var errLinkLocal = errors.New("link-local address (a cloud metadata service) refused")

func refuseLinkLocal(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip != nil && (ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast()) {
		return fmt.Errorf("%s: %w", host, errLinkLocal)
	}
	return nil
}

// send delivers n to target t.
func (s *sender) send(ctx context.Context, t fsm.AlertTarget, n Notice) error {
	switch t.Kind {
	case "webhook":
		return s.webhook(ctx, t, n)
	case "email":
		return s.email(t, n)
	}
	return fmt.Errorf("target %s: unknown kind %q", t.Name, t.Kind)
}

func (s *sender) webhook(ctx context.Context, t fsm.AlertTarget, n Notice) error {
	body, err := json.Marshal(n)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	ts := n.SentAt.Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "novacron-alerts")
	req.Header.Set(TimestampHeader, strconv.FormatInt(ts, 10))
	if t.Secret != "" {
		req.Header.Set(SignatureHeader, Sign(t.Secret, ts, body))
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("webhook %s answered HTTP %d", t.Name, resp.StatusCode)
	}
	return nil
}

func (s *sender) email(t fsm.AlertTarget, n Notice) error {
	if s.mail.Addr == "" || s.mail.From == "" {
		return errors.New("no SMTP server configured (the agent's --smtp-addr and --smtp-from)")
	}
	subject := fmt.Sprintf("[NovaCron %s] %s %s: %s", strings.ToUpper(n.Alert.Severity), n.State, n.Alert.Rule, n.Alert.ObjectName)
	var msg strings.Builder
	fmt.Fprintf(&msg, "From: %s\r\nTo: %s\r\nSubject: %s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n", s.mail.From, strings.Join(t.To, ", "), oneLine(subject))
	fmt.Fprintf(&msg, "%s\r\n\r\nalert:   %s\r\nstate:   %s\r\nobject:  %s %s (%s)\r\nproject: %s\r\nsince:   %s\r\n",
		oneLine(n.Alert.Message), n.Alert.ID, n.State, n.Alert.ObjectType, oneLine(n.Alert.ObjectName), n.Alert.ObjectID, n.Alert.Project,
		n.Alert.PendingSince.Format(time.RFC3339))
	return smtp.SendMail(s.mail.Addr, nil, s.mail.From, t.To, []byte(msg.String()))
}

// oneLine keeps text from breaking a header or a line.
func oneLine(s string) string { return strings.NewReplacer("\r", " ", "\n", " ").Replace(s) }

// matches reports whether target t takes alert a.
func matches(t fsm.AlertTarget, a fsm.Alert) bool {
	if len(t.Severities) > 0 && !contains(t.Severities, a.Severity) {
		return false
	}
	if t.Project != "" && t.Project != a.Project {
		return false
	}
	return labelsMatch(t.Labels, a.Labels)
}

// Silenced reports whether a silence in force at now mutes alert a.
func Silenced(now time.Time, silences []fsm.Silence, a fsm.Alert) bool {
	for _, s := range silences {
		if now.Before(s.StartsAt) || !now.Before(s.EndsAt) {
			continue
		}
		if (s.Rule == "" || s.Rule == a.Rule) && (s.Severity == "" || s.Severity == a.Severity) &&
			(s.Project == "" || s.Project == a.Project) && (s.Object == "" || s.Object == a.ObjectID || s.Object == a.ObjectName) &&
			labelsMatch(s.Labels, a.Labels) {
			return true
		}
	}
	return false
}

func labelsMatch(want, have map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
