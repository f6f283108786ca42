package server

import (
	"context"

	"github.com/openkms/kms/internal/api"
	"github.com/openkms/kms/internal/store"
)

// SetAuditor replaces the auditor of the API handler, before Serve. It is
// for the benchmark that compares the real audit store with a discarding
// one; the server itself has no way to turn auditing off.
func (s *Server) SetAuditor(a api.Auditor) {
	s.apiH.Audit = a
}

// Store returns the server's store, for tests that compare what is stored.
func (s *Server) Store() store.Store { return s.store }

// RefreshNodes counts the cluster's nodes now, as a node does every
// few seconds, and sets its share of the quotas.
func (s *Server) RefreshNodes() error { return s.refreshNodes(context.Background()) }
