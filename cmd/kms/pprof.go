package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// listenPprof serves Go's profiler on addr, which must be a loopback
// address: profiles show what the server is doing (never secrets, but
// request timings and code paths), so only someone already on the machine,
// an operator, may take them.
func listenPprof(addr string) (net.Listener, *http.Server, error) {
	if err := checkPprofAddr(addr); err != nil {
		return nil, nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return ln, srv, nil
}

// checkPprofAddr accepts host:port with a loopback host.
func checkPprofAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return errors.New("the profiler listens on loopback addresses only (such as 127.0.0.1:6060)")
	}
	return nil
}

// pprofURL is where listenPprof's profiles are.
func pprofURL(ln net.Listener) string {
	return fmt.Sprintf("http://%s/debug/pprof/", ln.Addr())
}
