package server

import (
	"context"
	"net"
	"net/http"
	"os"

	"golang.org/x/sys/unix"
)

type peerKey struct{}

// peerContext records the uid of the process at the other end of a
// control connection (SO_PEERCRED).
func peerContext(ctx context.Context, c net.Conn) context.Context {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return ctx
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return ctx
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil || credErr != nil {
		return ctx
	}
	return context.WithValue(ctx, peerKey{}, cred.Uid)
}

// peerCheck refuses a peer that is neither the server's user nor root.
func peerCheck(h http.Handler) http.Handler {
	me := uint32(os.Getuid())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		uid, ok := r.Context().Value(peerKey{}).(uint32)
		if !ok || uid != me && uid != 0 {
			http.Error(w, `{"error":"the control socket answers the server's own user and root only"}`, http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}
