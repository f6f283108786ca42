package service

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/audit"
	"github.com/openkms/kms/internal/policy"
)

// CloudTrail's LookupEvents over the audit trail, so that `aws cloudtrail
// lookup-events` answers "who used this key". It is served on the KMS
// endpoint and authorized by cloudtrail:LookupEvents in IAM.

// Trail reads the audit trail (package audit's Reader). LookupEvents and
// GetKeyLastUsage answer from it.
type Trail interface {
	Lookup(ctx context.Context, q audit.Query) (events []audit.Event, next string, err error)
	LastUsage(ctx context.Context, keyARN string) (u audit.LastUse, ok bool, err error)
	TrackingStart(ctx context.Context) (time.Time, error)
}

// CloudTrail's error codes for LookupEvents.
const (
	errInvalidLookupAttributes = "InvalidLookupAttributesException"
	errInvalidTimeRange        = "InvalidTimeRangeException"
	errInvalidMaxResults       = "InvalidMaxResultsException"
	errInvalidNextToken        = "InvalidNextTokenException"
	errInvalidEventCategory    = "InvalidEventCategoryException"
)

// LookupEventsInput is the request of CloudTrail's LookupEvents.
type LookupEventsInput struct {
	LookupAttributes []LookupAttribute
	// StartTime and EndTime bound eventTime, both inclusive.
	StartTime *Timestamp
	EndTime   *Timestamp
	// EventCategory "insight" asks for Insights events, which this server
	// does not have.
	EventCategory *string
	MaxResults    *int32
	NextToken     *string
}

// LookupAttribute is one lookup condition; CloudTrail takes at most one.
type LookupAttribute struct {
	AttributeKey   *string
	AttributeValue *string
}

// Validate implements the model constraints, with CloudTrail's error codes.
func (in *LookupEventsInput) Validate() error {
	switch len(in.LookupAttributes) {
	case 0:
	case 1:
		a := in.LookupAttributes[0]
		if a.AttributeKey == nil || a.AttributeValue == nil {
			return kms.Errorf(errInvalidLookupAttributes, "A lookup attribute needs an AttributeKey and an AttributeValue.")
		}
		if n := utf8.RuneCountInString(*a.AttributeValue); n < 1 || n > 2000 {
			return kms.Errorf(errInvalidLookupAttributes, "The AttributeValue must be 1 to 2000 characters long.")
		}
	default:
		return kms.Errorf(errInvalidLookupAttributes, "You can specify at most one lookup attribute.")
	}
	if in.StartTime != nil && in.EndTime != nil && time.Time(*in.StartTime).After(time.Time(*in.EndTime)) {
		return kms.Errorf(errInvalidTimeRange, "The start time must not be after the end time.")
	}
	if in.MaxResults != nil && (*in.MaxResults < 1 || *in.MaxResults > audit.MaxLookupResults) {
		return kms.Errorf(errInvalidMaxResults, "MaxResults must be between 1 and %d.", audit.MaxLookupResults)
	}
	if in.EventCategory != nil && *in.EventCategory != "insight" {
		return kms.Errorf(errInvalidEventCategory, "The only EventCategory is insight.")
	}
	return nil
}

// LookupEventsOutput is the response of LookupEvents.
type LookupEventsOutput struct {
	Events    []TrailEvent
	NextToken *string `json:",omitempty"`
}

// TrailEvent is one event of a LookupEvents response.
type TrailEvent struct {
	EventId     string
	EventName   string
	ReadOnly    string // "true" or "false", as CloudTrail sends it
	AccessKeyId string `json:",omitempty"`
	EventTime   Timestamp
	EventSource string
	Username    string          `json:",omitempty"`
	Resources   []TrailResource `json:",omitempty"`
	// CloudTrailEvent is the whole record, as JSON text.
	CloudTrailEvent string
}

// TrailResource is a resource of a TrailEvent.
type TrailResource struct {
	ResourceType string
	ResourceName string
}

// LookupEvents returns the audit records of the caller's account that match
// the request, newest first.
func (s *Service) LookupEvents(ctx context.Context, c *Caller, in *LookupEventsInput) (*LookupEventsOutput, error) {
	if err := s.authorizeIdentity(ctx, c, "cloudtrail:LookupEvents", "*", nil); err != nil {
		return nil, err
	}
	if s.trail == nil {
		return nil, kms.Errorf(kms.ErrUnsupportedOperation, "This server keeps no audit trail.")
	}
	q, err := lookupQuery(in)
	if err != nil {
		return nil, err
	}
	q.AccountID, q.Region = c.Principal.Account, c.Region
	out := &LookupEventsOutput{Events: []TrailEvent{}}
	if in.EventCategory != nil {
		return out, nil // no Insights events here
	}
	// The token names a position in the results of this query only.
	op := "LookupEvents/" + queryDigest(q)
	if in.NextToken != nil && *in.NextToken != "" {
		if q.NextToken, err = s.parseMarker(op, in.NextToken); err != nil {
			return nil, kms.Errorf(errInvalidNextToken, "The NextToken is not valid, or was made for a lookup with other parameters.")
		}
	}
	events, next, err := s.trail.Lookup(ctx, q)
	if errors.Is(err, audit.ErrBadToken) {
		return nil, kms.Errorf(errInvalidNextToken, "The NextToken is not valid.")
	}
	if err != nil {
		return nil, kms.Internal(err)
	}
	for _, e := range events {
		te := TrailEvent{
			EventId:         e.EventID,
			EventName:       e.EventName,
			ReadOnly:        strconv.FormatBool(e.ReadOnly),
			AccessKeyId:     e.AccessKeyID,
			EventTime:       Timestamp(e.EventTime),
			EventSource:     e.EventSource,
			Username:        e.Username,
			CloudTrailEvent: string(e.Raw),
		}
		for _, r := range e.Resources {
			te.Resources = append(te.Resources, TrailResource{ResourceType: r.Type, ResourceName: r.ARN})
		}
		out.Events = append(out.Events, te)
	}
	if next != "" {
		token := s.newMarker(op, next)
		out.NextToken = &token
	}
	return out, nil
}

// lookupQuery turns a validated request into an audit query.
func lookupQuery(in *LookupEventsInput) (audit.Query, error) {
	q := audit.Query{MaxResults: audit.MaxLookupResults}
	if in.MaxResults != nil {
		q.MaxResults = int(*in.MaxResults)
	}
	if in.StartTime != nil {
		q.StartTime = time.Time(*in.StartTime)
	}
	if in.EndTime != nil {
		q.EndTime = time.Time(*in.EndTime)
	}
	if len(in.LookupAttributes) == 0 {
		return q, nil
	}
	key, value := *in.LookupAttributes[0].AttributeKey, *in.LookupAttributes[0].AttributeValue
	switch key {
	case "EventId":
		q.EventID = value
	case "EventName":
		q.EventName = value
	case "Username":
		q.Username = value
	case "AccessKeyId":
		q.AccessKeyID = value
	case "ResourceName":
		q.ResourceName = value
	case "EventSource":
		q.EventSource = value
	case "ReadOnly":
		b, err := strconv.ParseBool(value)
		if err != nil || value != strconv.FormatBool(b) {
			return q, kms.Errorf(errInvalidLookupAttributes, "The value of ReadOnly must be true or false.")
		}
		q.ReadOnly = &b
	case "ResourceType":
		q.ResourceType = value
	default:
		return q, kms.Errorf(errInvalidLookupAttributes, "%s is not a lookup attribute key.", key)
	}
	return q, nil
}

// queryDigest identifies the conditions of q (not its page or page size),
// so that a NextToken works only with the lookup that returned it.
func queryDigest(q audit.Query) string {
	ro := ""
	if q.ReadOnly != nil {
		ro = strconv.FormatBool(*q.ReadOnly)
	}
	h := sha256.New()
	for _, f := range []string{q.Region, q.AccountID, q.EventName, q.ResourceName, q.ResourceType, q.Username, q.AccessKeyID,
		q.EventID, q.EventSource, ro, timeKey(q.StartTime), timeKey(q.EndTime)} {
		h.Write([]byte(strconv.Quote(f)))
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:12])
}

func timeKey(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return strconv.FormatInt(t.UnixMilli(), 10)
}

// authorizeIdentity decides an action of any service (the full action name,
// such as cloudtrail:LookupEvents) on resource from the caller's IAM
// policies alone. An account's root is allowed unless an explicit deny
// applies, as for kms actions.
func (s *Service) authorizeIdentity(ctx context.Context, c *Caller, action, resource string, fill func(policy.Context)) error {
	pc := s.requestContext(c)
	if fill != nil {
		fill(pc)
	}
	req := &policy.Request{
		Action:    action,
		Resource:  resource,
		Principal: policy.NewPrincipal(c.Principal, c.Principal.RoleARN),
		Context:   pc,
	}
	ids, err := s.identityPolicies(ctx, c)
	if err != nil {
		return err
	}
	if d := policy.Authorize(req, &policy.Inputs{IdentityPolicies: ids}); !d.Allowed {
		return accessDenied(req, d)
	}
	return nil
}
