package service

import (
	"context"
	"time"

	"github.com/openkms/kms"
)

// GetKeyLastUsageOutput is the response of GetKeyLastUsage.
type GetKeyLastUsageOutput struct {
	KeyId             string
	KeyCreationDate   Timestamp
	TrackingStartDate Timestamp
	// KeyLastUsage is an empty object for a key not used since tracking
	// began.
	KeyLastUsage KeyLastUsageData
}

// KeyLastUsageData is a key's last successful cryptographic use.
type KeyLastUsageData struct {
	Operation         string     `json:",omitempty"`
	Timestamp         *Timestamp `json:",omitempty"`
	CloudTrailEventId string     `json:",omitempty"`
	KmsRequestId      string     `json:",omitempty"`
}

// GetKeyLastUsage reports the last successful cryptographic operation with
// a key (spec §2.1), from the audit trail. Any key state; key id or key ARN
// only, in the caller's account.
func (s *Service) GetKeyLastUsage(ctx context.Context, c *Caller, in *KeyIDInput) (*GetKeyLastUsageOutput, error) {
	e, err := s.lookup(ctx, c, *in.KeyId, false)
	if err != nil {
		return nil, err
	}
	k := e.key
	err = s.authorizeKey(ctx, c, e, access{action: "GetKeyLastUsage", id: *in.KeyId})
	s.cache.release(e)
	if err != nil {
		return nil, err
	}
	if s.trail == nil {
		return nil, kms.Errorf(kms.ErrUnsupportedOperation, "This server keeps no audit trail.")
	}
	start, err := s.trail.TrackingStart(ctx)
	if err != nil {
		return nil, kms.Internal(err)
	}
	u, used, err := s.trail.LastUsage(ctx, k.ARN())
	if err != nil {
		return nil, kms.Internal(err)
	}
	out := &GetKeyLastUsageOutput{
		KeyId:             k.KeyID(),
		KeyCreationDate:   Timestamp(k.CreationDate),
		TrackingStartDate: Timestamp(latest(start, k.CreationDate)),
	}
	if used {
		t := Timestamp(u.Time)
		out.KeyLastUsage = KeyLastUsageData{Operation: u.EventName, Timestamp: &t, CloudTrailEventId: u.EventID, KmsRequestId: u.RequestID}
	}
	return out, nil
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
