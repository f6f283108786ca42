package api

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/openkms/kms"
)

// Request quotas, as AWS KMS has them: requests per second per account and
// Region, each quota counted on its own, an over-quota request answered
// ThrottlingException "Rate exceeded". The defaults are those of AWS's
// "Request quotas" page (developerguide/requests-per-second.html) in its
// smallest Region tier.
//
// An operation's quota is known from its X-Amz-Target alone, so it is
// charged right after authentication, before the body is decoded — except
// where AWS charges by the kind of key: Encrypt, Decrypt, ReEncrypt, Sign,
// Verify and DeriveSharedSecret are charged to the family of the first key
// they resolve (symmetric, RSA, ECC, SM2, ML-DSA), GenerateDataKeyPair* to
// the spec of the pair it makes, once that is known (see service.Caller.Quota).

// Quota names: the shared cryptographic quotas, by key family.
const (
	QuotaSymmetric = "Symmetric"
	QuotaRSA       = "RSA"
	QuotaECC       = "ECC"
	QuotaSM2       = "SM2"
	QuotaMLDSA     = "ML-DSA"
	// QuotaDataKeyPair prefixes the GenerateDataKeyPair quotas, one per
	// KeyPairSpec: "GenerateDataKeyPair/RSA_2048".
	QuotaDataKeyPair = "GenerateDataKeyPair/"
)

// DefaultQuotas are the request quotas in requests per second. The
// symmetric one is AWS's base tier (10,000; 20,000 and more in its larger
// Regions). ML-DSA's is not published; it is given ECC's.
var DefaultQuotas = map[string]float64{
	QuotaSymmetric: 10000,
	QuotaRSA:       500,
	QuotaECC:       300,
	QuotaSM2:       300,
	QuotaMLDSA:     300,

	QuotaDataKeyPair + "RSA_2048":        1,
	QuotaDataKeyPair + "RSA_3072":        0.5,
	QuotaDataKeyPair + "RSA_4096":        0.1,
	QuotaDataKeyPair + "ECC_NIST_P256":   25,
	QuotaDataKeyPair + "ECC_NIST_P384":   10,
	QuotaDataKeyPair + "ECC_NIST_P521":   5,
	QuotaDataKeyPair + "ECC_SECG_P256K1": 25,
	QuotaDataKeyPair + "SM2":             25,

	"CreateKey":                 5,
	"CreateAlias":               5,
	"UpdateAlias":               5,
	"CancelKeyDeletion":         5,
	"DisableKey":                5,
	"EnableKey":                 5,
	"DisableKeyRotation":        5,
	"ImportKeyMaterial":         5,
	"DeleteImportedKeyMaterial": 5,
	"UntagResource":             5,
	"UpdateKeyDescription":      5,
	"ReplicateKey":              5,
	"UpdatePrimaryRegion":       5,
	"DescribeCustomKeyStores":   5,
	"TagResource":               10,
	"DeleteAlias":               15,
	"EnableKeyRotation":         15,
	"PutKeyPolicy":              15,
	"ScheduleKeyDeletion":       15,
	"RetireGrant":               30,
	"RevokeGrant":               30,
	"CreateGrant":               50,
	"ListGrants":                100,
	"ListKeyPolicies":           100,
	"ListRetirableGrants":       100,
	"ListAliases":               500,
	"ListKeys":                  500,
	"GetKeyPolicy":              1000,
	"GetKeyRotationStatus":      1000,
	"DescribeKey":               2000,
	"GetPublicKey":              2000,
	"ListResourceTags":          2000,
	"GetParametersForImport":    0.25,
}

// opQuota maps an operation to the quota it is charged before decoding;
// an operation absent here and from byKey has no quota (AWS publishes
// none for RotateKeyOnDemand, ListKeyRotations, GetKeyLastUsage).
var opQuota = func() map[string]string {
	m := map[string]string{
		"GenerateDataKey":                 QuotaSymmetric,
		"GenerateDataKeyWithoutPlaintext": QuotaSymmetric,
		"GenerateMac":                     QuotaSymmetric,
		"VerifyMac":                       QuotaSymmetric,
		"GenerateRandom":                  QuotaSymmetric,
	}
	for name := range DefaultQuotas {
		if _, ok := routes[name]; ok {
			m[name] = name
		}
	}
	return m
}()

// byKey are the operations charged to the family of their key, or, for
// the data key pairs, to the spec of the pair.
var byKey = map[string]bool{
	"Encrypt": true, "Decrypt": true, "ReEncrypt": true,
	"Sign": true, "Verify": true, "DeriveSharedSecret": true,
	"GenerateDataKeyPair": true, "GenerateDataKeyPairWithoutPlaintext": true,
}

// family returns the shared quota of a key spec.
func family(spec string) string {
	switch {
	case strings.HasPrefix(spec, "RSA_"):
		return QuotaRSA
	case strings.HasPrefix(spec, "ECC_"):
		return QuotaECC
	case spec == string(kms.KeySpecSM2):
		return QuotaSM2
	case strings.HasPrefix(spec, "ML_DSA_"):
		return QuotaMLDSA
	}
	return QuotaSymmetric // SYMMETRIC_DEFAULT and HMAC_*
}

// QuotaConfig adjusts the defaults: Default for every account, Accounts
// for one account (over Default), by quota name, in requests per second.
// 0 lifts a quota.
type QuotaConfig struct {
	Default  map[string]float64            `yaml:"default"`
	Accounts map[string]map[string]float64 `yaml:"accounts"`
}

// ParseQuotaConfig reads a quota file (YAML; JSON is YAML too). Unknown
// keys and quota names and negative rates are refused.
func ParseQuotaConfig(b []byte) (*QuotaConfig, error) {
	var c QuotaConfig
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && len(bytes.TrimSpace(b)) > 0 {
		return nil, fmt.Errorf("quota file: %w", err)
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *QuotaConfig) check() error {
	one := func(where string, m map[string]float64) error {
		for name, r := range m {
			if _, ok := DefaultQuotas[name]; !ok {
				return fmt.Errorf("quota file: %s: unknown quota %q (known: %s)", where, name, strings.Join(QuotaNames(), ", "))
			}
			if r < 0 || math.IsNaN(r) || math.IsInf(r, 0) {
				return fmt.Errorf("quota file: %s: %s: rate %v is not a number of requests per second >= 0", where, name, r)
			}
		}
		return nil
	}
	if err := one("default", c.Default); err != nil {
		return err
	}
	for acct, m := range c.Accounts {
		if err := one("accounts: "+acct, m); err != nil {
			return err
		}
	}
	return nil
}

// QuotaNames lists the quota names, sorted.
func QuotaNames() []string {
	names := make([]string, 0, len(DefaultQuotas))
	for n := range DefaultQuotas {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Quotas holds the token buckets of every (account, region, quota). The
// buckets live in a sync.Map, whose reads of existing keys take no lock,
// and each is one atomic word: no request waits for another's.
type Quotas struct {
	cfg     QuotaConfig
	now     func() time.Time
	buckets sync.Map // bucketKey -> *bucket
	// nodes is how many cluster nodes share the quotas (SetNodes): each
	// holds its account's requests to 1/nodes of the rate.
	nodes atomic.Int64
}

type bucketKey struct{ account, region, quota string }

// NewQuotas returns quotas with cfg's adjustments (nil: AWS's defaults),
// on clock now (nil: time.Now).
func NewQuotas(cfg *QuotaConfig, now func() time.Time) *Quotas {
	q := &Quotas{now: now}
	q.nodes.Store(1)
	if cfg != nil {
		q.cfg = *cfg
	}
	if q.now == nil {
		q.now = time.Now
	}
	return q
}

// Rate returns the quota of an account in requests per second; 0 is none.
func (q *Quotas) Rate(account, quota string) float64 {
	if r, ok := q.cfg.Accounts[account][quota]; ok {
		return r
	}
	if r, ok := q.cfg.Default[quota]; ok {
		return r
	}
	return DefaultQuotas[quota]
}

// SetNodes tells the quotas that n nodes of a cluster serve the accounts,
// each enforcing its own buckets: each then allows 1/n of every rate, so
// that the cluster as a whole allows the quota when its load balancer
// spreads requests evenly (a node that gets more than its share throttles
// earlier than AWS would). A change of n starts every bucket afresh.
func (q *Quotas) SetNodes(n int) {
	n = max(n, 1)
	if q.nodes.Swap(int64(n)) != int64(n) {
		q.buckets.Clear()
	}
}

var errRateExceeded = kms.Errorf(kms.ErrThrottling, "Rate exceeded")

// Take charges one request to a quota, or returns ThrottlingException.
func (q *Quotas) Take(account, region, quota string) error {
	k := bucketKey{account, region, quota}
	v, ok := q.buckets.Load(k)
	if !ok {
		v, _ = q.buckets.LoadOrStore(k, newBucket(q.Rate(account, quota)/float64(q.nodes.Load())))
	}
	if !v.(*bucket).take(q.now().UnixNano()) {
		return errRateExceeded
	}
	return nil
}

// bucket is a token bucket in the form of GCRA: tat is the time at which
// the bucket will be full again; a request is allowed while tat is at
// most tau ahead of now, and moves it one interval on.
type bucket struct {
	tat      atomic.Int64
	interval int64 // ns per request; 0: unlimited
	tau      int64 // ns of burst: the bucket holds max(1, rate) requests
}

func newBucket(rate float64) *bucket {
	if rate <= 0 {
		return &bucket{}
	}
	b := &bucket{interval: int64(float64(time.Second) / rate)}
	b.tau = int64(float64(b.interval) * (math.Max(1, math.Floor(rate)) - 1))
	return b
}

func (b *bucket) take(now int64) bool {
	if b.interval == 0 {
		return true
	}
	for {
		old := b.tat.Load()
		tat := max(old, now)
		if tat-now > b.tau {
			return false
		}
		if b.tat.CompareAndSwap(old, tat+b.interval) {
			return true
		}
	}
}

// charger returns the hook that charges a request of op to the quota of
// its key's spec (service.Caller.Quota), or nil if op is not charged so.
func (q *Quotas) charger(account, region, op string) func(spec string) error {
	if !byKey[op] {
		return nil
	}
	pair := strings.HasPrefix(op, "GenerateDataKeyPair")
	return func(spec string) error {
		if pair {
			if _, ok := DefaultQuotas[QuotaDataKeyPair+spec]; !ok {
				return nil // a spec AWS publishes no quota for
			}
			return q.Take(account, region, QuotaDataKeyPair+spec)
		}
		return q.Take(account, region, family(spec))
	}
}
