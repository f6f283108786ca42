package server

import (
	"context"
	"time"

	"github.com/openkms/kms/internal/store/postgres"
)

// countNodesEvery is how often a cluster node counts the nodes running on
// its database.
const countNodesEvery = 5 * time.Second

// countNodes keeps a cluster node's count of the nodes running on its
// database (kms_cluster_nodes), and its quotas at its share of AWS's:
// every node enforces its own buckets, so each allows 1/N of each rate
// (api.Quotas.SetNodes).
func (s *Server) countNodes(ctx context.Context) {
	t := time.NewTicker(countNodesEvery)
	defer t.Stop()
	for {
		if err := s.refreshNodes(ctx); err != nil && ctx.Err() == nil {
			// The last count stays: a database outage is no reason to
			// let every node take the whole quota.
			s.log.Warn("counting the cluster's nodes failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Server) refreshNodes(ctx context.Context) error {
	pg, ok := s.rawStore().(*postgres.Store)
	if !ok {
		return nil
	}
	n, err := pg.Nodes(ctx)
	if err != nil {
		return err
	}
	s.metrics.clusterNodes.Store(int64(n))
	if s.apiH.Quotas != nil {
		s.apiH.Quotas.SetNodes(n) // at least this node, even while its lock is being retaken
	}
	return nil
}
