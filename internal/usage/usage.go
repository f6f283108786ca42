// Package usage computes what a KMS workload would cost on AWS, from the
// audit trail alone: requests by account, key and price class, key-months,
// rotations, and their cost at AWS's published prices (or others).
//
// # Exact and reproducible
//
// [Compute] reads every record of the trail, oldest first, and derives each
// figure from the records only, so the same trail and [Query] always give
// the same [Report]. Money is kept as exact fractions of a dollar
// ([big.Rat]); it is rounded only when printed, to micro-dollars.
//
// # Pricing rules
//
// The defaults are AWS KMS's price list (https://aws.amazon.com/kms/pricing/):
//
//   - A customer managed key costs Prices.KeyMonth ($1) a month, prorated by
//     the hour: a key is billed for every UTC clock hour it existed in,
//     from its CreateKey record (a replica's ReplicateKey record; for a
//     key created before the trail starts, its first successful record)
//     to its DeleteKey service event. A month is HoursPerMonth (730) hours.
//   - AWS managed keys (those used through alias/aws/<service>) cost
//     nothing to keep; their requests are charged.
//   - A key scheduled for deletion is not charged from its
//     ScheduleKeyDeletion to its deletion; if the deletion is cancelled,
//     the waiting period is charged as though it had never been scheduled.
//   - Each of the first ChargedRotations (2) rotations of a key's material
//     (RotateKey service events and RotateKeyOnDemand requests) adds
//     RotationMonth ($1) a month, prorated like the key, from the
//     rotation on; later rotations are free.
//   - Requests: every KMS API request record counts, failed or not, except
//     throttled ones (ThrottlingException). The account that made it pays
//     (userIdentity.accountId), also for a key of another account; such a
//     request is recorded once for each account and counted once. A request
//     no account made (a bad signature) bills nobody. IAM, STS and
//     CloudTrail requests are free. Each falls in one of five price classes
//     (see [Class]): GenerateDataKeyPair* by the pair's spec; uses of key
//     material (Encrypt, Sign, GenerateMac, GetPublicKey, ...) by the key's
//     spec, from its CreateKey record (symmetric if the trail does not
//     have it); every other request is symmetric.
//   - Free tier: FreeRequests (20,000) symmetric-class requests per account
//     and calendar month (UTC) are free; the other classes are excluded
//     from the free tier, as on AWS.
package usage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"time"

	"github.com/openkms/kms/internal/audit"
)

// Class is a request's price class.
type Class string

// The price classes of AWS's price list.
const (
	// Symmetric: requests on symmetric and HMAC keys, and requests that
	// name no key (ListKeys, CreateKey, GenerateRandom, ...).
	ClassSymmetric Class = "symmetric"
	// RSA2048: requests on RSA_2048 keys.
	ClassRSA2048 Class = "rsa-2048"
	// Asymmetric: requests on every other asymmetric key (RSA_3072,
	// RSA_4096, ECC_*, ML_DSA_*, SM2).
	ClassAsymmetric Class = "asymmetric"
	// ECCDataKeyPair: GenerateDataKeyPair* requests for an ECC key pair.
	ClassECCDataKeyPair Class = "ecc-data-key-pair"
	// RSADataKeyPair: GenerateDataKeyPair* requests for an RSA key pair.
	ClassRSADataKeyPair Class = "rsa-data-key-pair"
)

// Classes lists the classes in the order reports show them.
var Classes = []Class{ClassSymmetric, ClassRSA2048, ClassAsymmetric, ClassECCDataKeyPair, ClassRSADataKeyPair}

// Prices are what a report charges. Amounts are in dollars.
type Prices struct {
	KeyMonth         *big.Rat           // a customer managed key, a month
	RotationMonth    *big.Rat           // each charged rotation, a month
	ChargedRotations int                // how many rotations of a key are charged
	Per10k           map[Class]*big.Rat // 10,000 requests of a class
	FreeRequests     int64              // free symmetric requests per account and month
	HoursPerMonth    int64
}

// rat parses a decimal; only for constants.
func rat(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic("usage: bad price " + s)
	}
	return r
}

// AWSPrices returns AWS KMS's published prices (us-east-1): $1 a key-month,
// $1 a month for each of a key's first two rotations (since April 2024),
// and per 10,000 requests "$0.03 per 10,000 requests; $0.03 per 10,000
// requests involving RSA 2048 keys; $0.10 per 10,000 ECC
// GenerateDataKeyPair requests; $0.15 per 10,000 asymmetric requests except
// RSA 2048; $12.00 per 10,000 RSA GenerateDataKeyPair requests", with
// 20,000 free requests a month.
func AWSPrices() Prices {
	return Prices{
		KeyMonth:         rat("1"),
		RotationMonth:    rat("1"),
		ChargedRotations: 2,
		Per10k: map[Class]*big.Rat{
			ClassSymmetric:      rat("0.03"),
			ClassRSA2048:        rat("0.03"),
			ClassAsymmetric:     rat("0.15"),
			ClassECCDataKeyPair: rat("0.10"),
			ClassRSADataKeyPair: rat("12.00"),
		},
		FreeRequests:  20000,
		HoursPerMonth: 730,
	}
}

// Query selects what a report covers.
type Query struct {
	// Since and Until bound the period, [Since, Until). Both are
	// truncated to the hour; Until is required.
	Since, Until time.Time
	// Account, if set, keeps only that account's rows.
	Account string
	Prices  Prices
}

// Reader is what Compute reads: a data dir's audit log ([audit.Reader]) or
// a cluster's ([audit.PostgresReader]).
type Reader interface {
	Since(ctx context.Context, t time.Time, fn func(audit.Event) error) error
}

// Report is the usage of a period.
type Report struct {
	Since, Until time.Time
	Prices       Prices
	// Keys has one entry per account and key (Key "" for requests that
	// name no key), sorted by account and key ARN.
	Keys []KeyUsage
	// Accounts has one entry per account, sorted, with its totals.
	Accounts []AccountUsage
	Total    *big.Rat
}

// KeyUsage is one account's use of one key in the period. Requests are
// the account's requests on the key; key-hours and rotations belong to
// the key's owner, whose row it is.
type KeyUsage struct {
	Account string
	Key     string // ARN; "" for requests that name no key
	Spec    string // from the key's CreateKey record; "" if unknown
	Manager string // CUSTOMER or AWS
	// Requests and Failed count requests by class; Failed counts those
	// with an errorCode (they are charged too), Throttled those not charged.
	Requests  map[Class]int64
	Failed    int64
	Throttled int64
	// KeyHours are the billed hours of the key; RotationHours the billed
	// hours of its charged rotations (summed over them).
	KeyHours, RotationHours int64
	Rotations               int64 // rotations in the period, charged or not
	RequestCost             *big.Rat
	KeyCost                 *big.Rat
	RotationCost            *big.Rat
}

// Total is the row's cost.
func (k *KeyUsage) Total() *big.Rat {
	t := new(big.Rat).Add(k.RequestCost, k.KeyCost)
	return t.Add(t, k.RotationCost)
}

// RequestCount is the row's requests of every class.
func (k *KeyUsage) RequestCount() int64 {
	var n int64
	for _, c := range k.Requests {
		n += c
	}
	return n
}

// AccountUsage totals an account.
type AccountUsage struct {
	Account   string
	Requests  map[Class]int64
	Failed    int64
	Throttled int64
	// FreeRequests are the symmetric requests the free tier covered;
	// FreeTierCredit their price, subtracted from Total.
	FreeRequests            int64
	FreeTierCredit          *big.Rat
	KeyHours, RotationHours int64
	Rotations               int64
	RequestCost             *big.Rat // before the free tier
	KeyCost, RotationCost   *big.Rat
	Total                   *big.Rat
}

// record is what Compute reads of an event's JSON.
type record struct {
	EventType          string `json:"eventType"`
	ErrorCode          string `json:"errorCode"`
	RecipientAccountID string `json:"recipientAccountId"`
	UserIdentity       struct {
		AccountID string `json:"accountId"`
	} `json:"userIdentity"`
	RequestParameters struct {
		KeyID                 string `json:"keyId"`
		KeySpec               string `json:"keySpec"`
		CustomerMasterKeySpec string `json:"customerMasterKeySpec"`
		KeyPairSpec           string `json:"keyPairSpec"`
	} `json:"requestParameters"`
	ResponseElements struct {
		KeyMetadata struct {
			Arn        string `json:"arn"`
			KeySpec    string `json:"keySpec"`
			KeyManager string `json:"keyManager"`
		} `json:"keyMetadata"`
	} `json:"responseElements"`
}

// key is what Compute knows of a key's life.
type key struct {
	arn, account, spec string
	managed            bool
	seen               bool // a record of it succeeded
	// billable intervals, and the start of the open one (zero if none).
	intervals   [][2]time.Time
	open        time.Time
	pendingFrom time.Time // start of a deletion waiting period, if any
	deleted     bool
	rotations   []time.Time // all rotations, in order
}

func (k *key) start(t time.Time) {
	if k.open.IsZero() && !k.deleted {
		k.open = t
	}
}

func (k *key) stop(t time.Time) {
	if !k.open.IsZero() {
		k.intervals = append(k.intervals, [2]time.Time{k.open, t})
		k.open = time.Time{}
	}
}

type rowKey struct{ account, key string }

type monthKey struct {
	account string
	month   time.Time
}

// Compute reads the whole trail and reports the usage of q's period.
func Compute(ctx context.Context, r Reader, q Query) (*Report, error) {
	since, until := q.Since.UTC().Truncate(time.Hour), q.Until.UTC().Truncate(time.Hour)
	if until.IsZero() || !since.Before(until) {
		return nil, errors.New("usage: the period is empty: Until must be after Since, in whole hours")
	}
	p := q.Prices
	if p.KeyMonth == nil || p.RotationMonth == nil || p.HoursPerMonth <= 0 {
		return nil, errors.New("usage: incomplete prices")
	}
	for _, c := range Classes {
		if p.Per10k[c] == nil {
			return nil, fmt.Errorf("usage: no price for %s requests", c)
		}
	}
	keys := map[string]*key{}
	getKey := func(arn string, t time.Time, ok bool) *key {
		k := keys[arn]
		if k == nil {
			k = &key{arn: arn, account: arnAccount(arn)}
			keys[arn] = k
		}
		if ok && !k.seen {
			// First appearance of a key created before the trail starts.
			k.seen = true
			k.start(t)
		}
		return k
	}
	rows := map[rowKey]*KeyUsage{}
	row := func(account, arn string) *KeyUsage {
		rk := rowKey{account, arn}
		u := rows[rk]
		if u == nil {
			u = &KeyUsage{Account: account, Key: arn, Requests: map[Class]int64{}}
			rows[rk] = u
		}
		return u
	}
	symmetric := map[monthKey]int64{} // symmetric requests per account and month
	err := r.Since(ctx, time.Time{}, func(e audit.Event) error {
		if e.EventSource != audit.EventSourceKMS {
			return nil
		}
		var rec record
		if err := json.Unmarshal(e.Raw, &rec); err != nil {
			return fmt.Errorf("usage: record %s: %w", e.EventID, err)
		}
		// A request on another account's key is recorded twice, once for
		// each account (as CloudTrail delivers it); the key owner's copy
		// is the same request again.
		if rec.EventType != audit.EventTypeService && rec.UserIdentity.AccountID != "" && rec.RecipientAccountID != rec.UserIdentity.AccountID {
			return nil
		}
		t := e.EventTime.UTC()
		ok := rec.ErrorCode == ""
		var ks []*key
		for _, res := range e.Resources {
			if res.Type == audit.ResourceTypeKey && res.ARN != "" {
				ks = append(ks, getKey(res.ARN, t, ok))
			}
		}
		if rec.EventType == audit.EventTypeService {
			for _, k := range ks {
				switch e.EventName {
				case "RotateKey":
					k.rotations = append(k.rotations, t)
				case "DeleteKey":
					k.stop(t)
					k.pendingFrom = time.Time{}
					k.deleted = true
				}
			}
			return nil
		}
		// A request.
		if ok && e.EventName == "ReplicateKey" && len(ks) == 2 {
			// The primary, then the new replica: a key of the same spec,
			// billed from now like any other (AWS bills each replica).
			r := ks[1]
			r.spec, r.intervals, r.open, r.deleted, r.seen = ks[0].spec, nil, t, false, true
		}
		if ok {
			for _, k := range ks {
				if strings.HasPrefix(rec.RequestParameters.KeyID, "alias/aws/") {
					// AWS managed keys are symmetric, made on first use.
					k.managed = true
					k.spec = firstOf(k.spec, "SYMMETRIC_DEFAULT")
				}
				switch e.EventName {
				case "CreateKey":
					km := rec.ResponseElements.KeyMetadata
					k.spec = firstOf(km.KeySpec, rec.RequestParameters.KeySpec, rec.RequestParameters.CustomerMasterKeySpec, "SYMMETRIC_DEFAULT")
					k.managed = km.KeyManager == "AWS"
					// Created now, whatever came before.
					k.intervals, k.open, k.deleted, k.seen = nil, t, false, true
				case "RotateKeyOnDemand":
					k.rotations = append(k.rotations, t)
				case "ScheduleKeyDeletion":
					if k.pendingFrom.IsZero() {
						k.pendingFrom = t
						k.stop(t)
					}
				case "CancelKeyDeletion":
					if !k.pendingFrom.IsZero() {
						// Charged as though never scheduled.
						k.open = k.pendingFrom
						k.pendingFrom = time.Time{}
					}
				}
			}
		}
		// The caller's account pays, even for a key of another account
		// (whose account the record is filed with, as recipientAccountId).
		// Requests that no account made (a bad signature) bill nobody.
		account := rec.UserIdentity.AccountID
		if t.Before(since) || !t.Before(until) || account == "" {
			return nil
		}
		arn := ""
		if len(ks) > 0 {
			arn = ks[0].arn
		}
		u := row(account, arn)
		if rec.ErrorCode == "ThrottlingException" {
			u.Throttled++
			return nil
		}
		if !ok {
			u.Failed++
		}
		c := classOf(e.EventName, rec.RequestParameters.KeyPairSpec, ks)
		u.Requests[c]++
		if c == ClassSymmetric {
			month := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
			symmetric[monthKey{account, month}]++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}

	// Key-hours and rotation-hours, on the owner's row.
	for _, k := range keys {
		if k.managed {
			continue
		}
		ivs := k.intervals
		if !k.open.IsZero() {
			ivs = append(ivs, [2]time.Time{k.open, until})
		}
		var keyHours, rotHours, rotations int64
		for i, rt := range k.rotations {
			if !rt.Before(since) && rt.Before(until) {
				rotations++
			}
			if i < p.ChargedRotations {
				rotHours += hours(ivs, rt, since, until)
			}
		}
		keyHours = hours(ivs, time.Time{}, since, until)
		if keyHours == 0 && rotHours == 0 && rotations == 0 {
			continue
		}
		u := row(k.account, k.arn)
		u.KeyHours, u.RotationHours, u.Rotations = keyHours, rotHours, rotations
	}

	rep := &Report{Since: since, Until: until, Prices: p, Total: new(big.Rat)}
	accounts := map[string]*AccountUsage{}
	for _, u := range rows {
		if q.Account != "" && u.Account != q.Account {
			continue
		}
		if k := keys[u.Key]; k != nil {
			u.Spec = k.spec
			u.Manager = "CUSTOMER"
			if k.managed {
				u.Manager = "AWS"
			}
		}
		u.RequestCost = new(big.Rat)
		for c, n := range u.Requests {
			u.RequestCost.Add(u.RequestCost, requestCost(n, p.Per10k[c]))
		}
		u.KeyCost = monthCost(u.KeyHours, p.KeyMonth, p.HoursPerMonth)
		u.RotationCost = monthCost(u.RotationHours, p.RotationMonth, p.HoursPerMonth)
		rep.Keys = append(rep.Keys, *u)
		a := accounts[u.Account]
		if a == nil {
			a = &AccountUsage{Account: u.Account, Requests: map[Class]int64{}, FreeTierCredit: new(big.Rat),
				RequestCost: new(big.Rat), KeyCost: new(big.Rat), RotationCost: new(big.Rat), Total: new(big.Rat)}
			accounts[u.Account] = a
		}
		for c, n := range u.Requests {
			a.Requests[c] += n
		}
		a.Failed += u.Failed
		a.Throttled += u.Throttled
		a.KeyHours += u.KeyHours
		a.RotationHours += u.RotationHours
		a.Rotations += u.Rotations
		a.RequestCost.Add(a.RequestCost, u.RequestCost)
		a.KeyCost.Add(a.KeyCost, u.KeyCost)
		a.RotationCost.Add(a.RotationCost, u.RotationCost)
	}
	for mk, n := range symmetric {
		a := accounts[mk.account]
		if a == nil {
			continue
		}
		a.FreeRequests += min(n, p.FreeRequests)
	}
	for _, a := range accounts {
		a.FreeTierCredit = requestCost(a.FreeRequests, p.Per10k[ClassSymmetric])
		a.Total.Add(a.RequestCost, a.KeyCost)
		a.Total.Add(a.Total, a.RotationCost)
		a.Total.Sub(a.Total, a.FreeTierCredit)
		rep.Accounts = append(rep.Accounts, *a)
		rep.Total.Add(rep.Total, a.Total)
	}
	sort.Slice(rep.Keys, func(i, j int) bool {
		a, b := rep.Keys[i], rep.Keys[j]
		if a.Account != b.Account {
			return a.Account < b.Account
		}
		return a.Key < b.Key
	})
	sort.Slice(rep.Accounts, func(i, j int) bool { return rep.Accounts[i].Account < rep.Accounts[j].Account })
	return rep, nil
}

// keyOps are the requests that use a key's material, whose price depends
// on the key's spec; every other request is in the symmetric class.
var keyOps = map[string]bool{
	"Decrypt": true, "DeriveSharedSecret": true, "Encrypt": true,
	"GenerateDataKey": true, "GenerateDataKeyWithoutPlaintext": true,
	"GenerateMac": true, "GetPublicKey": true, "ReEncrypt": true,
	"Sign": true, "Verify": true, "VerifyMac": true,
}

// classOf is a request's price class: for GenerateDataKeyPair*, by the
// key pair it asks for; for a use of key material, by the most expensive
// key it names (ReEncrypt names two); else symmetric.
func classOf(name, pairSpec string, ks []*key) Class {
	if strings.HasPrefix(name, "GenerateDataKeyPair") {
		if strings.HasPrefix(pairSpec, "RSA_") {
			return ClassRSADataKeyPair
		}
		return ClassECCDataKeyPair
	}
	c := ClassSymmetric
	if !keyOps[name] {
		return c
	}
	for _, k := range ks {
		switch {
		case k.spec == "RSA_2048":
			if c == ClassSymmetric {
				c = ClassRSA2048
			}
		case k.spec == "" || k.spec == "SYMMETRIC_DEFAULT" || strings.HasPrefix(k.spec, "HMAC_"):
		default:
			c = ClassAsymmetric
		}
	}
	return c
}

// hours counts the UTC clock hours, within [since, until), that the
// intervals touch from `from` on: a started hour is a billed hour (so a
// key scheduled for deletion in the second it was created is billed one
// hour), and an hour two intervals touch counts once. Intervals are in
// time order; since and until are whole hours.
func hours(ivs [][2]time.Time, from, since, until time.Time) int64 {
	var n int64
	var done time.Time // end of the last hour counted
	for _, iv := range ivs {
		a := later(later(iv[0], from), since)
		b := iv[1]
		if b.After(until) {
			b = until
		}
		instant := iv[0].Equal(iv[1]) && a.Equal(b) && a.Before(until)
		if !a.Before(b) && !instant {
			continue
		}
		h0 := later(a.Truncate(time.Hour), done)
		h1 := b.Truncate(time.Hour)
		if h1.Before(b) || instant {
			h1 = h1.Add(time.Hour)
		}
		if h1.After(h0) {
			n += int64(h1.Sub(h0) / time.Hour)
			done = h1
		}
	}
	return n
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func requestCost(n int64, per10k *big.Rat) *big.Rat {
	c := new(big.Rat).SetInt64(n)
	c.Mul(c, per10k)
	return c.Quo(c, big.NewRat(10000, 1))
}

func monthCost(hours int64, perMonth *big.Rat, hoursPerMonth int64) *big.Rat {
	c := new(big.Rat).SetInt64(hours)
	c.Mul(c, perMonth)
	return c.Quo(c, big.NewRat(hoursPerMonth, 1))
}

// arnAccount is the account of arn:aws:kms:REGION:ACCOUNT:key/ID.
func arnAccount(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return "unknown"
	}
	return parts[4]
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
