// Package seed reads the file that `kms server --seed` applies at every
// start: accounts, keys with fixed ids and known material, aliases and IAM
// users and roles, in this server's format or in local-kms's.
//
// # What it does
//
// [Parse] decodes and validates a whole file, in memory, without touching
// anything: a bad file is refused before the server writes to disk. The
// result, a [Seed], says what should exist; package server compares it
// with what does and applies what is missing (all or nothing).
//
// # Formats
//
// The format is told from the top-level keys: local-kms's begins with Keys
// or Aliases (capitalised), this server's with lower-case keys (accounts,
// keys, users, roles, account, region). See examples/seed.yaml.
//
// Errors name entries (keys[3] (1234abcd-…)), never key material.
package seed

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/identity"
	"github.com/openkms/kms/internal/keys"
	"github.com/openkms/kms/internal/policy"
	"go.yaml.in/yaml/v3"
)

// Seed is a parsed and validated seed file: what should exist.
type Seed struct {
	Format          string // "openkms" or "local-kms"
	Accounts        []Account
	ManagedPolicies []ManagedPolicy
	Users           []User
	Roles           []Role
	Keys            []Key
	Aliases         []Alias
}

// ManagedPolicy is a customer managed policy with one version.
type ManagedPolicy struct {
	Entry       string
	Account     string
	Name        string
	Path        string
	Description string
	Document    string
}

// Account is an account with pinned root credentials.
type Account struct {
	Entry           string
	ID              string
	AccessKeyID     string
	SecretAccessKey string
}

// Key is a key with a fixed id. A multi-Region key (mrk-…) has a copy in
// each of Regions, the first its primary; a single-Region key has one.
type Key struct {
	Entry       string // "keys[3] (1234abcd-…)", for messages
	ID          string
	Account     string
	Regions     []string
	Spec        kms.KeySpec
	Usage       kms.KeyUsage
	Origin      kms.Origin
	Description string
	Enabled     bool
	// Materials are the key's given materials, normalised as an import
	// stores them (PKCS #8 DER for key pairs), oldest first, the last
	// current; nil means material the server generates.
	Materials          [][]byte
	RotationEnabled    bool
	RotationPeriodDays int
	NextRotation       time.Time // zero: a period from now
	Policy             string    // "": the default key policy
	Tags               []kms.Tag
}

// Wipe clears the key material the seed holds, once it is applied.
func (s *Seed) Wipe() {
	for i := range s.Keys {
		for _, m := range s.Keys[i].Materials {
			clear(m)
		}
	}
}

// MultiRegion reports whether k is a multi-Region key.
func (k *Key) MultiRegion() bool { return strings.HasPrefix(k.ID, kms.MultiRegionPrefix) }

// Alias points a name at a key in one account and region.
type Alias struct {
	Entry   string
	Name    string // alias/...
	Account string
	Region  string
	KeyID   string
}

// User is an IAM user with its access keys and inline policies.
type User struct {
	Entry      string
	Account    string
	Name       string
	Path       string
	AccessKeys []AccessKey
	Policies   []Policy
	Attached   []string // managed policies of the file, by name
}

// AccessKey is a pinned access key of a user.
type AccessKey struct {
	ID     string
	Secret string
}

// Policy is an inline policy.
type Policy struct {
	Name     string
	Document string
}

// Role is an IAM role with its trust policy and inline policies.
type Role struct {
	Entry       string
	Account     string
	Name        string
	Path        string
	Description string
	TrustPolicy string
	Policies    []Policy
	Attached    []string // managed policies of the file, by name
}

// Defaults are what entries that name no account or region get: the
// server's account and first region.
type Defaults struct {
	Account string
	Region  string
	// Regions, when not empty, are the only regions the server serves.
	Regions []string
}

// Error is a seed file's error: the entry it concerns, and why.
type Error struct {
	Entry string // "" for the file as a whole
	Msg   string
}

func (e *Error) Error() string {
	if e.Entry == "" {
		return "seed: " + e.Msg
	}
	return "seed: " + e.Entry + ": " + e.Msg
}

func errf(entry, format string, args ...any) error {
	return &Error{Entry: entry, Msg: fmt.Sprintf(format, args...)}
}

// Parse decodes and validates a seed file in either format.
func Parse(data []byte, d Defaults) (*Seed, error) {
	if d.Account == "" {
		d.Account = "111122223333"
	}
	if d.Region == "" {
		d.Region = "us-east-1"
		if len(d.Regions) > 0 {
			d.Region = d.Regions[0]
		}
	}
	var top map[string]yaml.Node
	if err := yaml.Unmarshal(data, &top); err != nil {
		return nil, &Error{Msg: yamlMsg(err)}
	}
	if len(top) == 0 {
		return &Seed{Format: "openkms"}, nil
	}
	localKMS := false
	for k := range top {
		if k == "Keys" || k == "Aliases" {
			localKMS = true
		}
	}
	var s *Seed
	var err error
	if localKMS {
		s, err = parseLocalKMS(data, d)
	} else {
		s, err = parseOurs(data, d)
	}
	if err != nil {
		return nil, err
	}
	if err := s.check(d); err != nil {
		return nil, err
	}
	return s, nil
}

// yamlMsg keeps the decoder's message but not its echo of a value, which
// could be key material: yaml.v3 quotes the offending value in type errors.
func yamlMsg(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs := make([]string, len(te.Errors))
		for i, m := range te.Errors {
			if j := strings.Index(m, "cannot unmarshal"); j >= 0 {
				if k := strings.Index(m[j:], " into "); k >= 0 {
					m = m[:j] + "wrong type of value" + m[j+k:]
				}
			}
			msgs[i] = m
		}
		return strings.Join(msgs, "; ")
	}
	return err.Error()
}

var (
	uuidRE   = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	mrkRE    = regexp.MustCompile(`^mrk-[0-9a-f]{32}$`)
	regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d{1,2}$`)
	aliasRE  = regexp.MustCompile(`^alias/[a-zA-Z0-9/_-]{1,250}$`)
	iamName  = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	// policyName: managed policy names are longer than user names.
	policyName = regexp.MustCompile(`^[\w+=,.@-]{1,128}$`)
	akidRE     = regexp.MustCompile(`^[A-Z0-9]{16,128}$`)
	pathRE     = regexp.MustCompile(`^/([\x21-\x7e]*/)?$`)
	digits12   = regexp.MustCompile(`^\d{12}$`)
)

// decodeMaterial reads one given key material: "base64:…" or "hex:…", or a
// PEM block for a key pair, and normalises it as ImportKeyMaterial would.
// Its errors never show the material.
func decodeMaterial(entry string, spec kms.KeySpec, s string) ([]byte, error) {
	var b []byte
	var err error
	t := strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(t, "-----BEGIN"):
		blk, rest := pem.Decode([]byte(t))
		if blk == nil || len(bytes.TrimSpace(rest)) > 0 {
			return nil, errf(entry, "key material is not one PEM block")
		}
		if blk.Type != "PRIVATE KEY" {
			return nil, errf(entry, "key material must be a PKCS #8 PEM block (BEGIN PRIVATE KEY), not %q", blk.Type)
		}
		b = blk.Bytes
	case strings.HasPrefix(t, "base64:"):
		b, err = base64.StdEncoding.DecodeString(strings.Join(strings.Fields(t[len("base64:"):]), ""))
	case strings.HasPrefix(t, "hex:"):
		b, err = hex.DecodeString(strings.Join(strings.Fields(t[len("hex:"):]), ""))
	default:
		return nil, errf(entry, "key material must start with base64: or hex:, or be a PEM block")
	}
	if err != nil {
		return nil, errf(entry, "key material is not valid base64 or hex")
	}
	return normalise(entry, spec, b)
}

// normalise checks material against spec as an import checks it, and
// returns the bytes an import stores.
func normalise(entry string, spec kms.KeySpec, b []byte) ([]byte, error) {
	switch {
	case spec == kms.KeySpecSymmetricDefault:
		if len(b) != keys.SymmetricKeySize {
			return nil, errf(entry, "key material of a %s key must be %d bytes, not %d", spec, keys.SymmetricKeySize, len(b))
		}
		return b, nil
	case keys.IsHMAC(spec):
		if lo, hi := keys.HMACKeySizes(spec); len(b) < lo || len(b) > hi {
			return nil, errf(entry, "key material of a %s key must be %d to %d bytes, not %d", spec, lo, hi, len(b))
		}
		return b, nil
	}
	p, err := keys.ImportPrivateKey(spec, b)
	if err != nil {
		return nil, errf(entry, "key material is not a PKCS #8 private key of spec %s", spec)
	}
	der, err := p.Marshal()
	if err != nil {
		return nil, errf(entry, "key material cannot be re-encoded")
	}
	return der, nil
}

// check validates the whole seed: ids, regions, specs, policies, and that
// every alias names a key of the file and nothing is given twice.
func (s *Seed) check(d Defaults) error {
	regionOK := func(entry, r string) error {
		if !regionRE.MatchString(r) {
			return errf(entry, "region %q is not a region name", r)
		}
		if len(d.Regions) > 0 && !slices.Contains(d.Regions, r) {
			return errf(entry, "region %s is not among the server's --regions", r)
		}
		return nil
	}
	accounts := map[string]bool{d.Account: true}
	akids := map[string]string{}
	for _, a := range s.Accounts {
		if !digits12.MatchString(a.ID) {
			return errf(a.Entry, "account id %q must be 12 digits", a.ID)
		}
		if accounts[a.ID] && a.ID != d.Account {
			return errf(a.Entry, "account %s is given twice", a.ID)
		}
		accounts[a.ID] = true
		// Without pinned credentials nobody could sign in as the root.
		if a.AccessKeyID == "" || a.SecretAccessKey == "" {
			return errf(a.Entry, "an account needs its accessKeyId and secretAccessKey")
		}
		// An account's root credentials are pinned by the operator: any
		// pair the SDKs sign with, LocalStack's test/test too, as with
		// --root-access-key-id.
		if err := identity.CheckPinnedCredentials(a.AccessKeyID, a.SecretAccessKey); err != nil {
			return errf(a.Entry, "%v", err)
		}
		if err := seenAccessKey(a.Entry, a.AccessKeyID, akids); err != nil {
			return err
		}
	}
	accountOK := func(entry, acct string) error {
		if !accounts[acct] {
			return errf(entry, "account %s is neither the server's nor under accounts", acct)
		}
		return nil
	}
	managed := map[string]bool{}
	for _, p := range s.ManagedPolicies {
		if err := accountOK(p.Entry, p.Account); err != nil {
			return err
		}
		if !policyName.MatchString(p.Name) {
			return errf(p.Entry, "policy name %q is not a valid IAM name", p.Name)
		}
		if p.Path != "" && !pathRE.MatchString(p.Path) {
			return errf(p.Entry, "path %q must begin and end with /", p.Path)
		}
		k := p.Account + "/" + strings.ToLower(p.Name)
		if managed[k] {
			return errf(p.Entry, "managed policy %s is given twice", p.Name)
		}
		managed[k] = true
		if _, err := policy.Parse(p.Document, policy.IdentityPolicy); err != nil {
			return errf(p.Entry, "document: %v", err)
		}
	}
	attachedOK := func(entry, account string, names []string) error {
		for j, n := range names {
			if !managed[account+"/"+strings.ToLower(n)] {
				return errf(entry, "managed policy %s is not under managedPolicies of account %s", n, account)
			}
			if slices.ContainsFunc(names[:j], func(o string) bool { return strings.EqualFold(o, n) }) {
				return errf(entry, "managed policy %s is attached twice", n)
			}
		}
		return nil
	}
	users := map[string]bool{}
	for _, u := range s.Users {
		if err := checkOwner(u.Entry, "user", u.Account, u.Name, u.Path, u.Attached, users, attachedOK, accountOK); err != nil {
			return err
		}
		for _, ak := range u.AccessKeys {
			if err := checkAccessKey(u.Entry, ak.ID, ak.Secret, akids); err != nil {
				return err
			}
		}
		if len(u.AccessKeys) > 2 {
			return errf(u.Entry, "a user has at most 2 access keys")
		}
		if err := checkPolicies(u.Entry, u.Policies); err != nil {
			return err
		}
	}
	roles := map[string]bool{}
	for _, r := range s.Roles {
		if err := checkOwner(r.Entry, "role", r.Account, r.Name, r.Path, r.Attached, roles, attachedOK, accountOK); err != nil {
			return err
		}
		if r.TrustPolicy == "" {
			return errf(r.Entry, "a role needs a trustPolicy")
		}
		if _, err := policy.Parse(r.TrustPolicy, policy.TrustPolicy); err != nil {
			return errf(r.Entry, "trust policy: %v", err)
		}
		if err := checkPolicies(r.Entry, r.Policies); err != nil {
			return err
		}
	}
	keyIDs := map[string]*Key{}
	for i := range s.Keys {
		k := &s.Keys[i]
		if err := accountOK(k.Entry, k.Account); err != nil {
			return err
		}
		if !uuidRE.MatchString(k.ID) && !mrkRE.MatchString(k.ID) {
			return errf(k.Entry, "key id must be a lowercase UUID or mrk- and 32 hex digits")
		}
		if keyIDs[k.ID] != nil {
			return errf(k.Entry, "key id is given twice")
		}
		keyIDs[k.ID] = k
		if len(k.Regions) == 0 {
			return errf(k.Entry, "no region")
		}
		if len(k.Regions) > 1 && !k.MultiRegion() {
			return errf(k.Entry, "only a multi-Region key (mrk-…) has copies in several regions")
		}
		for j, r := range k.Regions {
			if err := regionOK(k.Entry, r); err != nil {
				return err
			}
			if slices.Contains(k.Regions[:j], r) {
				return errf(k.Entry, "region %s is given twice", r)
			}
		}
		if !keys.KnownSpec(k.Spec) || (keys.IsAsymmetric(k.Spec) && !keys.Implemented(k.Spec)) {
			return errf(k.Entry, "key spec %q is not supported", k.Spec)
		}
		if !keys.ValidUsage(k.Spec, k.Usage) {
			return errf(k.Entry, "key usage %s does not go with key spec %s", k.Usage, k.Spec)
		}
		switch k.Origin {
		case kms.OriginAWSKMS:
		case kms.OriginExternal:
			if k.Materials == nil {
				return errf(k.Entry, "a key of origin EXTERNAL needs its material given")
			}
			if !keys.Importable(k.Spec) {
				return errf(k.Entry, "key spec %s cannot have imported material", k.Spec)
			}
		default:
			return errf(k.Entry, "origin %q must be AWS_KMS or EXTERNAL", k.Origin)
		}
		if len(k.Materials) > 1 && keys.IsAsymmetric(k.Spec) {
			return errf(k.Entry, "only symmetric and HMAC keys have earlier materials")
		}
		for j, m := range k.Materials {
			if slices.ContainsFunc(k.Materials[:j], func(o []byte) bool { return bytes.Equal(o, m) }) {
				return errf(k.Entry, "materials[%d] repeats an earlier material", j)
			}
		}
		if k.RotationEnabled {
			if k.Spec != kms.KeySpecSymmetricDefault || k.Origin != kms.OriginAWSKMS {
				return errf(k.Entry, "automatic rotation needs a symmetric key of origin AWS_KMS")
			}
			if k.RotationPeriodDays == 0 {
				k.RotationPeriodDays = 365
			}
			if k.RotationPeriodDays < 90 || k.RotationPeriodDays > 2560 {
				return errf(k.Entry, "rotation period must be 90 to 2560 days")
			}
		} else if k.RotationPeriodDays != 0 || !k.NextRotation.IsZero() {
			return errf(k.Entry, "rotation settings given but rotation is not enabled")
		}
		if k.Policy != "" {
			doc, err := policy.Parse(k.Policy, policy.KeyPolicy)
			if err == nil {
				err = doc.CheckNewKeyPolicy()
			}
			if err != nil {
				return errf(k.Entry, "key policy: %v", err)
			}
		}
		seen := map[string]bool{}
		for _, t := range k.Tags {
			if len(t.Key) >= 4 && strings.EqualFold(t.Key[:4], "aws:") {
				return errf(k.Entry, "tag key %q is reserved", t.Key)
			}
			if seen[t.Key] {
				return errf(k.Entry, "tag key %q is given twice", t.Key)
			}
			seen[t.Key] = true
		}
		if len(k.Tags) > 50 {
			return errf(k.Entry, "a key has at most 50 tags")
		}
	}
	aliases := map[string]bool{}
	for _, a := range s.Aliases {
		if !aliasRE.MatchString(a.Name) || strings.HasPrefix(a.Name, "alias/aws/") {
			return errf(a.Entry, "alias name %q must be alias/ and letters, digits, /, _ or -, not under alias/aws/", a.Name)
		}
		k := keyIDs[a.KeyID]
		if k == nil {
			return errf(a.Entry, "target key %s is not a key of the seed file", a.KeyID)
		}
		if a.Account != k.Account || !slices.Contains(k.Regions, a.Region) {
			return errf(a.Entry, "target key %s is not in account %s and region %s", a.KeyID, a.Account, a.Region)
		}
		n := a.Account + "/" + a.Region + "/" + a.Name
		if aliases[n] {
			return errf(a.Entry, "alias %s is given twice in %s", a.Name, a.Region)
		}
		aliases[n] = true
	}
	return nil
}

func checkAccessKey(entry, id, secret string, seen map[string]string) error {
	if !akidRE.MatchString(id) || strings.HasPrefix(id, "ASIA") {
		return errf(entry, "access key id %q must be 16-128 capital letters and digits, not starting with ASIA", id)
	}
	if len(secret) < 16 || len(secret) > 128 {
		return errf(entry, "the secret of access key %s must be 16 to 128 characters", id)
	}
	return seenAccessKey(entry, id, seen)
}

// seenAccessKey refuses an access key id given twice in a file.
func seenAccessKey(entry, id string, seen map[string]string) error {
	if prev, ok := seen[id]; ok {
		return errf(entry, "access key id %s is given twice (also in %s)", id, prev)
	}
	seen[id] = entry
	return nil
}

func checkPolicies(entry string, ps []Policy) error {
	seen := map[string]bool{}
	for _, p := range ps {
		if !iamName.MatchString(p.Name) {
			return errf(entry, "policy name %q is not a valid IAM name", p.Name)
		}
		if seen[strings.ToLower(p.Name)] {
			return errf(entry, "policy %s is given twice", p.Name)
		}
		seen[strings.ToLower(p.Name)] = true
		if _, err := policy.Parse(p.Document, policy.IdentityPolicy); err != nil {
			return errf(entry, "policy %s: %v", p.Name, err)
		}
	}
	return nil
}

// entryName names an entry in messages: its place, and its id if any.
func entryName(list string, i int, id string) string {
	if id == "" {
		return fmt.Sprintf("%s[%d]", list, i)
	}
	return fmt.Sprintf("%s[%d] (%s)", list, i, id)
}

// checkOwner checks what users and roles share: their account, name, path,
// attached policies, and that the file names each once (seen, by account
// and name in any case).
func checkOwner(entry, kind, account, name, path string, attached []string, seen map[string]bool,
	attachedOK func(entry, account string, names []string) error, accountOK func(entry, account string) error) error {
	if err := attachedOK(entry, account, attached); err != nil {
		return err
	}
	if err := accountOK(entry, account); err != nil {
		return err
	}
	if !iamName.MatchString(name) {
		return errf(entry, "%s name %q is not a valid IAM name", kind, name)
	}
	if path != "" && !pathRE.MatchString(path) {
		return errf(entry, "path %q must begin and end with /", path)
	}
	k := account + "/" + strings.ToLower(name)
	if seen[k] {
		return errf(entry, "%s %s is given twice", kind, name)
	}
	seen[k] = true
	return nil
}
