package server

import (
	"context"
	"time"

	"github.com/openkms/kms/internal/store/postgres"
)

// quotaShareEvery is how often a cluster node counts the nodes it shares
// the quotas with.
const quotaShareEvery = 5 * time.Second

// shareQuotas keeps a cluster node's quotas at its share of AWS's: every
// node enforces its own buckets, so each allows 1/N of each rate, N being
// the nodes joined to the database now (api.Quotas.SetNodes).
func (s *Server) shareQuotas(ctx context.Context) {
	t := time.NewTicker(quotaShareEvery)
	defer t.Stop()
	for {
		if err := s.refreshQuotaShare(ctx); err != nil && ctx.Err() == nil {
			// The last count stays: a database outage is no reason to
			// let every node take the whole quota.
			s.log.Warn("quotas: counting the cluster's nodes failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Server) refreshQuotaShare(ctx context.Context) error {
	pg, ok := s.rawStore().(*postgres.Store)
	if !ok || s.apiH.Quotas == nil {
		return nil
	}
	n, err := pg.Nodes(ctx)
	if err != nil {
		return err
	}
	s.apiH.Quotas.SetNodes(n) // at least this node, even if its lock is being retaken
	return nil
}
