package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Both backends keep a grant's operations and encryption-context
// constraints as JSON text: the operations, in order, as an array; a
// constraint as an object, or NULL (a nil *string) when there is none. An
// empty map is a constraint, stored as "{}". JSON escapes control
// characters, NUL included, so the text fits any TEXT column.

// EncodeGrantColumns returns the columns of g's operations and constraints.
// Nil Operations are stored as an empty list. The strings must be valid
// UTF-8, as anything decoded from a JSON request is: JSON cannot hold other
// bytes, so they are refused rather than altered.
func EncodeGrantColumns(g Grant) (ops string, equals, subset *string, err error) {
	for _, op := range g.Operations {
		if !utf8.ValidString(op) {
			return "", nil, nil, errors.New("grant operation is not valid UTF-8")
		}
	}
	list := g.Operations
	if list == nil {
		list = []string{} // "[]", not "null"
	}
	b, err := json.Marshal(list)
	if err != nil {
		return "", nil, nil, err
	}
	if equals, err = encodeConstraint(g.EncryptionContextEquals); err != nil {
		return "", nil, nil, err
	}
	if subset, err = encodeConstraint(g.EncryptionContextSubset); err != nil {
		return "", nil, nil, err
	}
	return string(b), equals, subset, nil
}

func encodeConstraint(m map[string]string) (*string, error) {
	if m == nil {
		return nil, nil
	}
	for k, v := range m {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, errors.New("grant constraint is not valid UTF-8")
		}
	}
	b, err := json.Marshal(m) // keys sorted, so equal maps store equal text
	s := string(b)
	return &s, err
}

// DecodeGrantColumns fills in g's operations and constraints from the
// columns EncodeGrantColumns made: an empty list of operations comes back
// nil, a NULL constraint as a nil map and "{}" as an empty, non-nil one.
func DecodeGrantColumns(g Grant, ops string, equals, subset *string) (Grant, error) {
	var list []string
	if err := json.Unmarshal([]byte(ops), &list); err != nil {
		return Grant{}, fmt.Errorf("grant %s: operations: %w", g.ID, err)
	}
	g.Operations = nil
	if len(list) > 0 {
		g.Operations = list
	}
	var err error
	if g.EncryptionContextEquals, err = decodeConstraint(equals); err != nil {
		return Grant{}, fmt.Errorf("grant %s: context_equals: %w", g.ID, err)
	}
	if g.EncryptionContextSubset, err = decodeConstraint(subset); err != nil {
		return Grant{}, fmt.Errorf("grant %s: context_subset: %w", g.ID, err)
	}
	return g, nil
}

func decodeConstraint(s *string) (map[string]string, error) {
	if s == nil {
		return nil, nil
	}
	m := map[string]string{}
	if err := json.Unmarshal([]byte(*s), &m); err != nil {
		return nil, err
	}
	return m, nil
}
