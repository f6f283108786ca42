package server

import "github.com/openkms/kms/internal/api"

// SetAuditor replaces the auditor of the API handler, before Serve. It is
// for the benchmark that compares the real audit store with a discarding
// one; the server itself has no way to turn auditing off.
func (s *Server) SetAuditor(a api.Auditor) {
	h, ok := s.handler.(*api.Handler)
	if !ok {
		panic("server: the handler is not an *api.Handler")
	}
	h.Audit = a
}
