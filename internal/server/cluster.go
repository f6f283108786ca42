package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/openkms/kms/internal/audit"
	"github.com/openkms/kms/internal/identity"
	"github.com/openkms/kms/internal/seal"
	"github.com/openkms/kms/internal/store/postgres"
)

// A cluster: any number of nodes (kms server --store postgres://...) share
// one PostgreSQL database, which holds the keys, identities, the seal's
// state and the audit trail; each node keeps only caches, and its data dir
// keeps its lock, its root key file (by default) and the credentials file
// of a first start.

// clusterOpenTimeout bounds connecting to the database and preparing it at
// start; a node that cannot reach it refuses to start.
const clusterOpenTimeout = 30 * time.Second

// requestDeadline bounds each request of a cluster node, so that a request
// waiting on an unreachable database fails with DependencyTimeoutException
// before the SDKs' own timeouts (never a hang).
const requestDeadline = 10 * time.Second

// checkStore refuses a --store that is not a PostgreSQL URL pgx accepts,
// without connecting.
func checkStore(dsn string) error {
	if dsn == "" {
		return nil
	}
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return errors.New("--store must be a postgres:// URL (or empty for the embedded store)")
	}
	if _, err := pgxpool.ParseConfig(dsn); err != nil {
		return fmt.Errorf("--store: %w", err) // pgconn leaves the password out
	}
	return nil
}

// openCluster opens the database of cfg.Store: the store, the seal whose
// state it keeps (a node with another root key or passphrase refuses to
// start, having written nothing), and this node's audit chain.
func (s *Server) openCluster() error {
	cfg := s.cfg
	ctx, cancel := context.WithTimeout(context.Background(), clusterOpenTimeout)
	defer cancel()
	st, err := postgres.Open(ctx, cfg.Store)
	if err != nil {
		return err
	}
	// Held until the store closes, so that an offline seal rotation refuses
	// while this node runs; taken before the seal is opened, so that the
	// node refuses to start while a rotation runs.
	if err := st.JoinCluster(ctx); err != nil {
		st.Close()
		return err
	}
	sc := cfg.sealConfig(cfg.DataDir)
	sc.Create, sc.State = true, st
	sealer, err := seal.Open(sc)
	if err != nil {
		st.Close()
		return err
	}
	host, _ := os.Hostname()
	log, err := audit.OpenPostgres(ctx, audit.PostgresConfig{
		DSN:    cfg.Store,
		Node:   host + " " + cfg.Listen,
		Signer: AuditSigner(sealer),
		Sync:   cfg.AuditSync,
		Now:    s.now,
		Logger: cfg.Logger,
	})
	if err != nil {
		st.Close()
		return fmt.Errorf("audit trail: %w", err)
	}
	s.store, s.sealer, s.Audit = st, sealer, log
	s.lead = st.TryLead
	return nil
}

// changed applies a change committed on any node to this node's caches.
func (s *Server) changed(c postgres.Change) {
	switch c.Kind {
	case postgres.ChangeKey, postgres.ChangeAlias, postgres.ChangeIdentity:
		s.metrics.invalidated(string(c.Kind))
	default:
		s.metrics.invalidated("other")
	}
	switch c.Kind {
	case postgres.ChangeKey:
		s.Service.InvalidateKey(c.KeyID)
	case postgres.ChangeAlias:
		s.Service.InvalidateAliases()
		s.Service.InvalidateKey(c.KeyID) // its entry lists its aliases
	case postgres.ChangeIdentity:
		s.identity.Purge()
	default: // a kind this binary does not know: drop everything
		s.Service.Purge()
		s.identity.Purge()
	}
}

// withDeadline gives every request of a cluster node a deadline. The
// deadline's context is released when net/http ends the request's own,
// after the response is out: released as the handler returned (defer), it
// cut off large responses that net/http was still flushing (LookupEvents
// pages, seen one run in three under the race detector).
func withDeadline(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), requestDeadline)
		context.AfterFunc(r.Context(), cancel)
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// createClusterAccount is CreateAccount on a cluster's database: the nodes
// may be running (the change feed tells them).
func createClusterAccount(cfg Config, id string) (identity.RootCredentials, error) {
	if err := checkStore(cfg.Store); err != nil {
		return identity.RootCredentials{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterOpenTimeout)
	defer cancel()
	st, err := postgres.Open(ctx, cfg.Store)
	if err != nil {
		return identity.RootCredentials{}, err
	}
	defer st.Close()
	// No seal rotation may run while the secret is sealed and stored.
	if err := st.JoinAsTool(ctx); err != nil {
		return identity.RootCredentials{}, err
	}
	// The seal must exist: an account's secret is sealed under it.
	sc := cfg.sealConfig(cfg.DataDir)
	sc.State = st
	sealer, err := seal.Open(sc)
	if err != nil {
		return identity.RootCredentials{}, err
	}
	ids, err := identity.New(identity.Config{Store: st, Sealer: sealer, Now: cfg.Now, Logger: cfg.Logger})
	if err != nil {
		return identity.RootCredentials{}, err
	}
	defer ids.Close()
	return createAccount(ids, id)
}
