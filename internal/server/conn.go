package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"sync"

	"github.com/openkms/kms/internal/api"
)

// readBufferSize is each connection's read buffer: a whole request of the
// calls that carry data (a 4 KiB Encrypt is about 6.5 KiB with its
// headers) in one read. net/http reads through a 4 KiB buffer of its own,
// so without this such a request takes two or three read system calls
// (measured: a tenth of the server's CPU went to reads).
const readBufferSize = 16 << 10

// bufferedListener gives each accepted connection a read buffer and a way
// to send a response in one write. It sits under TLS, when TLS is on,
// where it saves the same reads and writes of records.
type bufferedListener struct{ net.Listener }

func (l bufferedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &bufferedConn{Conn: c, r: bufio.NewReaderSize(c, readBufferSize)}, nil
}

// bufferedConn is a connection with a read buffer, whose writes can be
// held back (Cork) and sent together (Uncork): net/http writes through a
// 4 KiB buffer, so a response of 6 KiB otherwise leaves in two writes, two
// system calls and two TCP segments.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader

	mu     sync.Mutex // guards the rest: TLS may write alerts from a reader
	corked bool
	held   []byte
	err    error // of the last held write that failed: later writes fail too
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func (c *bufferedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	if c.corked {
		c.held = append(c.held, p...)
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// Cork holds back writes until Uncork.
func (c *bufferedConn) Cork() {
	c.mu.Lock()
	c.corked = true
	c.mu.Unlock()
}

// Uncork sends what was held back in one write.
func (c *bufferedConn) Uncork() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	if len(c.held) > 0 && c.err == nil {
		_, c.err = c.Conn.Write(c.held)
	}
	clear(c.held) // responses carry plaintext: it does not wait here for the next
	if cap(c.held) > 64<<10 {
		c.held = nil // a rare large response does not pin its buffer
	}
	c.held = c.held[:0]
}

// CloseWrite lets net/http half-close a TCP connection before closing it,
// as it does with a bare *net.TCPConn.
func (c *bufferedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// connContext gives the API handler the connection's Cork and Uncork.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if bc, ok := c.(*bufferedConn); ok {
		return api.WithCorker(ctx, bc)
	}
	return ctx
}
