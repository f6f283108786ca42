package service

import (
	"context"
	"fmt"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/audit"
)

// Auditor takes the records of the actions the server takes by itself
// (package audit's Log). Append returns once the record is durable.
type Auditor interface {
	Append(ctx context.Context, r *audit.Record) error
	Healthy() error
}

// auditReady is checked before a sweep acts, so that nothing happens while
// its record could not be written.
func (s *Service) auditReady() error {
	if s.audit == nil {
		return nil
	}
	return s.audit.Healthy()
}

// serviceEvent records an action of the server on key k (spec §12.2:
// RotateKey, DeleteKey, DeleteExpiredKeyMaterial), shaped as CloudTrail
// shapes AwsServiceEvent records.
func (s *Service) serviceEvent(ctx context.Context, name string, k *kms.Key) error {
	if s.audit == nil {
		return nil
	}
	rec := &audit.Record{
		EventVersion:        audit.EventVersion,
		UserIdentity:        &audit.UserIdentity{AccountID: k.Account, InvokedBy: audit.InvokedByInternal},
		EventTime:           s.now().UTC(),
		EventSource:         audit.EventSourceKMS,
		EventName:           name,
		AWSRegion:           k.Region,
		SourceIPAddress:     audit.InvokedByInternal,
		UserAgent:           audit.InvokedByInternal,
		RequestID:           kms.NewUUID(),
		EventID:             audit.NewEventID(),
		Resources:           []audit.Resource{{AccountID: k.Account, Type: audit.ResourceTypeKey, ARN: k.ARN()}},
		EventType:           audit.EventTypeService,
		ManagementEvent:     true,
		RecipientAccountID:  k.Account,
		ServiceEventDetails: map[string]string{"keyId": k.KeyID()},
		EventCategory:       audit.CategoryMgmt,
	}
	if err := s.audit.Append(ctx, rec); err != nil {
		return fmt.Errorf("audit record of %s on %s: %w", name, k.ARN(), err)
	}
	return nil
}
