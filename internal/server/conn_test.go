package server

import (
	"net"
	"testing"
	"time"
)

// TestCork: writes while corked reach the peer only at Uncork, in one
// piece; without the cork they pass straight through.
func TestCork(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c := &bufferedConn{Conn: a}
	got := make(chan string, 4)
	go func() {
		buf := make([]byte, 64)
		for {
			n, err := b.Read(buf)
			if err != nil {
				close(got)
				return
			}
			got <- string(buf[:n])
		}
	}()
	c.Cork()
	for _, s := range []string{"head", "er+", "body"} {
		if n, err := c.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("corked write: %d, %v", n, err)
		}
	}
	select {
	case s := <-got:
		t.Fatalf("%q arrived while corked", s)
	case <-time.After(20 * time.Millisecond):
	}
	c.Uncork()
	if s := <-got; s != "header+body" {
		t.Fatalf("after Uncork: %q, want one write of %q", s, "header+body")
	}
	if _, err := c.Write([]byte("next")); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != "next" {
		t.Fatalf("uncorked write: %q", s)
	}
	// A failed flush fails the writes after it.
	b.Close()
	c.Cork()
	c.Write([]byte("lost"))
	c.Uncork()
	if _, err := c.Write([]byte("x")); err == nil {
		t.Fatal("write after a failed Uncork succeeded")
	}
}
