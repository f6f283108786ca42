package server

import (
	"net/http"
	"time"

	"github.com/openkms/kms/internal/usage"
)

// usageHandler answers GET /usage on the admin listener: what `kms usage`
// reports, computed from this server's audit trail at AWS's prices.
// Parameters: since (required) and until (default: the start of the
// current hour), RFC 3339 times or dates (YYYY-MM-DD, UTC); account; by
// (key or operation, default key); format (json or csv, default json).
// It reads the whole trail, so it is for an operator, now and then.
func (s *Server) usageHandler(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	bad := func(msg string) { http.Error(w, msg, http.StatusBadRequest) }
	when := func(v string) (time.Time, bool) {
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			return t, true
		}
		t, err := time.Parse(time.DateOnly, v)
		return t, err == nil
	}
	since, ok := when(q.Get("since"))
	if !ok {
		bad("since is required: an RFC 3339 time or a date (YYYY-MM-DD)")
		return
	}
	until := s.now().UTC().Truncate(time.Hour)
	if v := q.Get("until"); v != "" {
		if until, ok = when(v); !ok {
			bad("until must be an RFC 3339 time or a date (YYYY-MM-DD)")
			return
		}
	}
	by := usage.By(q.Get("by"))
	if by == "" {
		by = usage.ByKey
	}
	if by != usage.ByKey && by != usage.ByOperation {
		bad("by must be key or operation")
		return
	}
	format := q.Get("format")
	if format != "" && format != "json" && format != "csv" {
		bad("format must be json or csv")
		return
	}
	rep, err := usage.Compute(r.Context(), s.Audit, usage.Query{Since: since, Until: until, Account: q.Get("account"), Prices: usage.AWSPrices()})
	if err != nil {
		bad(err.Error())
		return
	}
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv")
		err = rep.WriteCSV(w, by)
	} else {
		w.Header().Set("Content-Type", "application/json")
		err = rep.WriteJSON(w, by)
	}
	if err != nil {
		s.log.Warn("usage report not written", "err", err)
	}
}
