package audit

import (
	"encoding/json"
	"slices"
	"strconv"

	"github.com/openkms/kms/internal/jsonenc"
)

// appendRecord appends r as MarshalJSON renders it: byte for byte what
// json.Marshal makes of its recordJSON (TestAppendRecord and FuzzRecordJSON
// hold the two equal), but without reflection for what a request's record
// holds. Encoding each record was a twentieth of a 4 KiB Encrypt's CPU.
// Whatever it has no case for, it hands to json.Marshal.
func appendRecord(b []byte, r *Record) ([]byte, error) {
	var err error
	b = append(b, `{"eventVersion":`...)
	b = jsonenc.String(b, r.EventVersion)
	b = append(b, `,"userIdentity":`...)
	if b, err = appendIdentity(b, r.UserIdentity); err != nil {
		return nil, err
	}
	b = append(b, `,"eventTime":`...)
	b = jsonenc.String(b, formatTime(r.EventTime))
	b = append(b, `,"eventSource":`...)
	b = jsonenc.String(b, r.EventSource)
	b = append(b, `,"eventName":`...)
	b = jsonenc.String(b, r.EventName)
	b = append(b, `,"awsRegion":`...)
	b = jsonenc.String(b, r.AWSRegion)
	b = append(b, `,"sourceIPAddress":`...)
	b = jsonenc.String(b, r.SourceIPAddress)
	b = append(b, `,"userAgent":`...)
	b = jsonenc.String(b, r.UserAgent)
	b = appendOptString(b, `,"errorCode":`, r.ErrorCode)
	b = appendOptString(b, `,"errorMessage":`, r.ErrorMessage)
	b = append(b, `,"requestParameters":`...)
	if b, err = appendValue(b, r.RequestParameters); err != nil {
		return nil, err
	}
	b = append(b, `,"responseElements":`...)
	if b, err = appendValue(b, r.ResponseElements); err != nil {
		return nil, err
	}
	if r.AdditionalEventData != nil {
		b = append(b, `,"additionalEventData":`...)
		if b, err = appendValue(b, r.AdditionalEventData); err != nil {
			return nil, err
		}
	}
	b = appendOptString(b, `,"requestID":`, r.RequestID)
	b = append(b, `,"eventID":`...)
	b = jsonenc.String(b, r.EventID)
	b = append(b, `,"readOnly":`...)
	b = strconv.AppendBool(b, r.ReadOnly)
	if len(r.Resources) > 0 {
		b = append(b, `,"resources":[`...)
		for i, res := range r.Resources {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"accountId":`...)
			b = jsonenc.String(b, res.AccountID)
			b = append(b, `,"type":`...)
			b = jsonenc.String(b, res.Type)
			b = append(b, `,"ARN":`...)
			b = jsonenc.String(b, res.ARN)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"eventType":`...)
	b = jsonenc.String(b, r.EventType)
	b = append(b, `,"managementEvent":`...)
	b = strconv.AppendBool(b, r.ManagementEvent)
	b = append(b, `,"recipientAccountId":`...)
	b = jsonenc.String(b, r.RecipientAccountID)
	if r.ServiceEventDetails != nil {
		b = append(b, `,"serviceEventDetails":`...)
		if b, err = appendValue(b, r.ServiceEventDetails); err != nil {
			return nil, err
		}
	}
	b = append(b, `,"eventCategory":`...)
	b = jsonenc.String(b, r.EventCategory)
	if t := r.TLSDetails; t != nil {
		b = append(b, `,"tlsDetails":{`...)
		n := len(b)
		b = appendOptString(b, `,"tlsVersion":`, t.TLSVersion)
		b = appendOptString(b, `,"cipherSuite":`, t.CipherSuite)
		b = appendOptString(b, `,"clientProvidedHostHeader":`, t.ClientProvidedHostHeader)
		b = dropComma(b, n)
		b = append(b, '}')
	}
	return append(b, '}'), nil
}

func appendIdentity(b []byte, u *UserIdentity) ([]byte, error) {
	if u == nil {
		return append(b, "null"...), nil
	}
	b = append(b, '{')
	n := len(b)
	b = appendOptString(b, `,"type":`, u.Type)
	b = appendOptString(b, `,"principalId":`, u.PrincipalID)
	b = appendOptString(b, `,"arn":`, u.ARN)
	b = appendOptString(b, `,"accountId":`, u.AccountID)
	b = appendOptString(b, `,"accessKeyId":`, u.AccessKeyID)
	b = appendOptString(b, `,"userName":`, u.UserName)
	if u.SessionContext != nil {
		j, err := json.Marshal(u.SessionContext)
		if err != nil {
			return nil, err
		}
		b = append(append(b, `,"sessionContext":`...), j...)
	}
	b = appendOptString(b, `,"invokedBy":`, u.InvokedBy)
	b = dropComma(b, n)
	return append(b, '}'), nil
}

// dropComma removes the comma the first member appended at b[n] has
// before it (members are written ",name":value).
func dropComma(b []byte, n int) []byte {
	if len(b) > n {
		return append(b[:n], b[n+1:]...)
	}
	return b
}

// appendOptString appends member (`,"name":`) and s, unless s is empty.
func appendOptString(b []byte, member, s string) []byte {
	if s == "" {
		return b
	}
	return jsonenc.String(append(b, member...), s)
}

// appendValue appends a free-form member (request parameters and the like)
// as json.Marshal does: the shapes the API builds directly, the rest
// through json.Marshal.
func appendValue(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return jsonenc.String(b, v), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int32:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case map[string]string:
		return appendObject(b, v, appendStringValue)
	case map[string]any:
		return appendObject(b, v, appendValue)
	case []string:
		return appendArray(b, v, appendStringValue)
	case []any:
		return appendArray(b, v, appendValue)
	}
	j, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, j...), nil
}

func appendStringValue(b []byte, s string) ([]byte, error) { return jsonenc.String(b, s), nil }

// appendObject appends m as a JSON object, keys sorted as json.Marshal
// sorts them, null if m is nil.
func appendObject[V any](b []byte, m map[string]V, value func([]byte, V) ([]byte, error)) ([]byte, error) {
	if m == nil {
		return append(b, "null"...), nil
	}
	b = append(b, '{')
	for i, k := range sortedKeys(m) {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = value(append(jsonenc.String(b, k), ':'), m[k]); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// appendArray appends s as a JSON array, null if s is nil.
func appendArray[V any](b []byte, s []V, value func([]byte, V) ([]byte, error)) ([]byte, error) {
	if s == nil {
		return append(b, "null"...), nil
	}
	b = append(b, '[')
	for i, x := range s {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = value(b, x); err != nil {
			return nil, err
		}
	}
	return append(b, ']'), nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
