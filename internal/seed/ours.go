package seed

import (
	"bytes"
	"sort"
	"strconv"
	"time"

	"github.com/openkms/kms"
	"github.com/openkms/kms/internal/keys"
	"go.yaml.in/yaml/v3"
)

// The shape of this server's format (examples/seed.yaml documents it).
// Decoding is strict: an unknown field is an error naming it.
type ourFile struct {
	Account  string       `yaml:"account"` // default for the entries below
	Region   string       `yaml:"region"`  // default for the entries below
	Accounts []ourAccount `yaml:"accounts"`
	Keys     []ourKey     `yaml:"keys"`
	Users    []ourUser    `yaml:"users"`
	Managed  []ourManaged `yaml:"managedPolicies"`
	Roles    []ourRole    `yaml:"roles"`
}

type ourAccount struct {
	ID              string `yaml:"id"`
	AccessKeyID     string `yaml:"accessKeyId"`
	SecretAccessKey string `yaml:"secretAccessKey"`
}

type ourKey struct {
	ID          string            `yaml:"id"`
	Account     string            `yaml:"account"`
	Region      string            `yaml:"region"`
	Regions     []string          `yaml:"regions"`
	Spec        string            `yaml:"spec"`
	Usage       string            `yaml:"usage"`
	Origin      string            `yaml:"origin"`
	Description string            `yaml:"description"`
	Enabled     *bool             `yaml:"enabled"`
	Material    string            `yaml:"material"`
	Materials   []string          `yaml:"materials"`
	Rotation    *ourRotation      `yaml:"rotation"`
	Policy      string            `yaml:"policy"`
	Tags        map[string]string `yaml:"tags"`
	Aliases     []string          `yaml:"aliases"`
}

type ourRotation struct {
	Enabled    *bool     `yaml:"enabled"`
	PeriodDays int       `yaml:"periodDays"`
	Next       time.Time `yaml:"next"`
}

type ourUser struct {
	Name       string            `yaml:"name"`
	Account    string            `yaml:"account"`
	Path       string            `yaml:"path"`
	AccessKeys []ourAccessKey    `yaml:"accessKeys"`
	Policies   map[string]string `yaml:"policies"`
	Managed    []string          `yaml:"managedPolicies"`
}

type ourManaged struct {
	Name        string `yaml:"name"`
	Account     string `yaml:"account"`
	Path        string `yaml:"path"`
	Description string `yaml:"description"`
	Document    string `yaml:"document"`
}

type ourAccessKey struct {
	ID     string `yaml:"id"`
	Secret string `yaml:"secret"`
}

type ourRole struct {
	Name        string            `yaml:"name"`
	Account     string            `yaml:"account"`
	Path        string            `yaml:"path"`
	Description string            `yaml:"description"`
	TrustPolicy string            `yaml:"trustPolicy"`
	Policies    map[string]string `yaml:"policies"`
	Managed     []string          `yaml:"managedPolicies"`
}

func parseOurs(data []byte, d Defaults) (*Seed, error) {
	var f ourFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, &Error{Msg: yamlMsg(err)}
	}
	if f.Account != "" {
		d.Account = f.Account
	}
	if f.Region != "" {
		d.Region = f.Region
	}
	or := func(s, def string) string {
		if s == "" {
			return def
		}
		return s
	}
	s := &Seed{Format: "openkms"}
	for i, a := range f.Accounts {
		s.Accounts = append(s.Accounts, Account{Entry: entryName("accounts", i, a.ID), ID: a.ID,
			AccessKeyID: a.AccessKeyID, SecretAccessKey: a.SecretAccessKey})
	}
	for i, p := range f.Managed {
		s.ManagedPolicies = append(s.ManagedPolicies, ManagedPolicy{Entry: entryName("managedPolicies", i, p.Name),
			Account: or(p.Account, d.Account), Name: p.Name, Path: p.Path, Description: p.Description, Document: p.Document})
	}
	for i, u := range f.Users {
		out := User{Entry: entryName("users", i, u.Name), Account: or(u.Account, d.Account), Name: u.Name, Path: u.Path,
			Policies: policies(u.Policies), Attached: u.Managed}
		for _, ak := range u.AccessKeys {
			out.AccessKeys = append(out.AccessKeys, AccessKey(ak))
		}
		s.Users = append(s.Users, out)
	}
	for i, r := range f.Roles {
		s.Roles = append(s.Roles, Role{Entry: entryName("roles", i, r.Name), Account: or(r.Account, d.Account), Name: r.Name,
			Path: r.Path, Description: r.Description, TrustPolicy: r.TrustPolicy, Policies: policies(r.Policies), Attached: r.Managed})
	}
	for i, k := range f.Keys {
		entry := entryName("keys", i, k.ID)
		out := Key{Entry: entry, ID: k.ID, Account: or(k.Account, d.Account), Regions: k.Regions,
			Spec: kms.KeySpec(or(k.Spec, string(kms.KeySpecSymmetricDefault))), Origin: kms.Origin(or(k.Origin, string(kms.OriginAWSKMS))),
			Description: k.Description, Enabled: k.Enabled == nil || *k.Enabled, Policy: k.Policy}
		if k.Region != "" && len(k.Regions) > 0 {
			return nil, errf(entry, "give region or regions, not both")
		}
		if len(out.Regions) == 0 {
			out.Regions = []string{or(k.Region, d.Region)}
		}
		out.Usage = kms.KeyUsage(k.Usage)
		if k.Usage == "" {
			out.Usage = defaultUsage(out.Spec)
		}
		if k.Material != "" && len(k.Materials) > 0 {
			return nil, errf(entry, "give material or materials, not both")
		}
		given := k.Materials
		if k.Material != "" {
			given = []string{k.Material}
		}
		for _, m := range given {
			b, err := decodeMaterial(entry, out.Spec, m)
			if err != nil {
				return nil, err
			}
			out.Materials = append(out.Materials, b)
		}
		if r := k.Rotation; r != nil {
			out.RotationEnabled = r.Enabled == nil || *r.Enabled
			out.RotationPeriodDays, out.NextRotation = r.PeriodDays, r.Next
		}
		for name, v := range k.Tags {
			out.Tags = append(out.Tags, kms.Tag{Key: name, Value: v})
		}
		sort.Slice(out.Tags, func(a, b int) bool { return out.Tags[a].Key < out.Tags[b].Key })
		// A key's aliases name it in every region it has a copy in.
		for j, name := range k.Aliases {
			for _, r := range out.Regions {
				s.Aliases = append(s.Aliases, Alias{Entry: entry + " aliases[" + strconv.Itoa(j) + "]", Name: name,
					Account: out.Account, Region: r, KeyID: out.ID})
			}
		}
		s.Keys = append(s.Keys, out)
	}
	return s, nil
}

// defaultUsage is the usage a key gets when the file names none: the one
// its spec allows, or the first of AWS's list for specs with several.
func defaultUsage(spec kms.KeySpec) kms.KeyUsage {
	switch {
	case spec == kms.KeySpecSymmetricDefault:
		return kms.KeyUsageEncryptDecrypt
	case keys.IsHMAC(spec):
		return kms.KeyUsageGenerateVerifyMAC
	}
	return kms.KeyUsageSignVerify
}

func policies(m map[string]string) []Policy {
	var ps []Policy
	for name, doc := range m {
		ps = append(ps, Policy{Name: name, Document: doc})
	}
	sort.Slice(ps, func(a, b int) bool { return ps[a].Name < ps[b].Name })
	return ps
}
