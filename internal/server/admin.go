package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The admin listener (Config.AdminListen) serves what operators and their
// monitoring ask of a server, apart from the API so that neither a
// firewall rule nor a client ever mixes them up:
//
//	/metrics       Prometheus metrics (metrics.go)
//	/healthz       200 while the process serves at all
//	/readyz        200 while it answers requests: serving, its audit trail
//	               healthy and, on a cluster, its change feed trusted
//	/debug/pprof/  Go's profiler, with Config.AdminPprof only

// CheckAdmin refuses an admin configuration that would expose more than
// asked: like the API, plain HTTP off loopback needs saying so, and the
// profiler stays on loopback whatever is said.
func (cfg Config) CheckAdmin() error {
	if cfg.AdminListen == "" {
		if cfg.AdminPprof {
			return errors.New("--admin-pprof needs --admin-listen")
		}
		return nil
	}
	if _, _, err := net.SplitHostPort(cfg.AdminListen); err != nil {
		return fmt.Errorf("bad --admin-listen %q: %v", cfg.AdminListen, err)
	}
	if loopback(cfg.AdminListen) {
		return nil
	}
	if cfg.AdminPprof {
		return fmt.Errorf("refusing --admin-pprof on non-loopback address %s: profiles are for someone already on the machine", cfg.AdminListen)
	}
	if cfg.TLSCert == "" && !cfg.AdminInsecureHTTP {
		return fmt.Errorf("refusing plain HTTP on non-loopback admin address %s: give --tls-cert/--tls-key (the admin listener uses the same certificate) or --admin-insecure-http", cfg.AdminListen)
	}
	return nil
}

// ListenAdmin opens the admin listener, which Serve then serves; nil
// without Config.AdminListen. It serves TLS, with the API's certificate,
// when the API does.
func (s *Server) ListenAdmin() (net.Listener, error) {
	if s.cfg.AdminListen == "" {
		return nil, nil
	}
	if err := s.cfg.CheckAdmin(); err != nil {
		return nil, err
	}
	tc, err := s.cfg.tlsConfig()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", s.cfg.AdminListen)
	if err != nil {
		return nil, fmt.Errorf("admin listener: %w", err)
	}
	if tc != nil {
		ln = tls.NewListener(ln, tc)
	}
	s.adminLn = ln
	return ln, nil
}

// AdminHandler returns the handler of the admin listener.
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{
		ErrorLog:      slogPrintln{s}, // a collector that failed; the rest is served
		ErrorHandling: promhttp.ContinueOnError,
		// A scrape must not pile up behind a slow store.
		Timeout: 10 * time.Second,
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		if err := s.ready(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, err.Error()+"\n")
			return
		}
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /usage", s.usageHandler)
	if s.cfg.AdminPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// ready says why the server would not answer requests now, or nil.
func (s *Server) ready() error {
	if !s.serving.Load() {
		return errors.New("not serving")
	}
	if s.feed != nil && !s.feed.Trusted() {
		return errors.New("cluster change feed not trusted: reconnecting to the database")
	}
	if s.Audit != nil {
		if err := s.Audit.Healthy(); err != nil {
			return errors.New("audit trail failing: requests are refused")
		}
	}
	return nil
}

// slogPrintln adapts the server's logger to promhttp's ErrorLog.
type slogPrintln struct{ s *Server }

func (l slogPrintln) Println(v ...any) { l.s.log.Warn("metrics: " + fmt.Sprint(v...)) }
