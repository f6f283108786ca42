package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/service"
)

// CloudTrail's LookupEvents is served on the same endpoint, so that `aws
// cloudtrail lookup-events --endpoint-url ...` searches the audit trail:
// JSON 1.1 like KMS, named by its own X-Amz-Target and signed for the
// cloudtrail service. It is the only CloudTrail operation.

// eventSourceCloudTrail is the eventSource of LookupEvents records.
const eventSourceCloudTrail = "cloudtrail.amazonaws.com"

// isLookupEvents reports whether an X-Amz-Target names LookupEvents. The
// AWS CLI sends the service's full target prefix; aws-sdk-go-v2 the short
// one.
func isLookupEvents(target string) bool {
	return target == "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents" ||
		target == "CloudTrail_20131101.LookupEvents"
}

var lookupEvents = op((*service.Service).LookupEvents)

// cloudTrailError renders KMS's internal error as CloudTrail's.
func cloudTrailError(err error) error {
	var ke *kms.Error
	if err == nil || errors.As(err, &ke) && ke.Code != kms.ErrInternal {
		return err
	}
	return kms.InternalFailure(err)
}

// lookupEventsName is the operation name of LookupEvents.
const lookupEventsName = "LookupEvents"

// serveLookupEvents runs a LookupEvents request and records it, as
// serveKMS does a KMS request. It returns the error code answered.
func (h *Handler) serveLookupEvents(w http.ResponseWriter, r *http.Request, reqID string) (code string) {
	const name = lookupEventsName
	rec := newRecord(r, reqID, eventSourceCloudTrail, name, h.now())
	in, out, err := h.runKMS(w, r, reqID, rec, "cloudtrail", name, lookupEvents)
	err = cloudTrailError(err)
	rec.RequestParameters = requestParameters(name, in)
	setOutcome(rec, err)
	if aerr := h.record(r.Context(), rec); aerr != nil && err == nil {
		err = cloudTrailError(aerr)
	}
	var b []byte
	if err == nil {
		b, err = json.Marshal(out)
	}
	if err != nil {
		return h.writeError(w, r, reqID, err, name)
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	writeBody(w, r, b)
	return ""
}
