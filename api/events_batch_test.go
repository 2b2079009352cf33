package api

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// The messages batchConn frames itself reach a real WebSocket client whole
// and in order, at every size class of the frame's length field (RFC 6455
// 5.2: 7 bits, 16 bits, 64 bits), and once the library has answered the
// client's close no message follows.
func TestBatchConn_FramesMessagesTheClientReads(t *testing.T) {
	sizes := []int{0, 1, 125, 126, 127, 65535, 65536, 70000}
	afterClose := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hj := &batchHijacker{ResponseWriter: w}
		c, err := websocket.Accept(hj, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := c.CloseRead(context.Background())
		for i, n := range sizes {
			if err := hj.conn.writeText(message(i, n)); err != nil {
				t.Errorf("message %d: %v", i, err)
			}
			if i%3 == 2 { // some batches of one message, some of several
				if err := hj.conn.release(); err != nil {
					t.Errorf("release: %v", err)
				}
			}
		}
		if err := hj.conn.release(); err != nil {
			t.Errorf("release: %v", err)
		}
		<-ctx.Done() // the client closed; the library answered it
		afterClose <- hj.conn.writeText([]byte("too late"))
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.SetReadLimit(1 << 20)
	for i, n := range sizes {
		typ, got, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("message %d (%d bytes): %v", i, n, err)
		}
		if typ != websocket.MessageText || !bytes.Equal(got, message(i, n)) {
			t.Fatalf("message %d: got a %v message of %d bytes, want text of %d", i, typ, len(got), n)
		}
	}
	if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Fatalf("close: %v", err)
	}
	select {
	case err := <-afterClose:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("a message after the close frame: %v, want net.ErrClosed", err)
		}
	case <-ctx.Done():
		t.Fatal("the server never saw the close")
	}
}

// message is the i-th test message, n bytes that differ from message to
// message.
func message(i, n int) []byte {
	return bytes.Repeat([]byte{byte('a' + i)}, n)
}
