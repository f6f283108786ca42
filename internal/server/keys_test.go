package server_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/openkms/kms/internal/server"
)

var ctx = context.Background()

func TestCreateAndDescribeKey(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	out := must[*awskms.CreateKeyOutput](t)(c.CreateKey(ctx, &awskms.CreateKeyInput{
		Description: aws.String("demo"),
		Tags:        []types.Tag{{TagKey: aws.String("team"), TagValue: aws.String("blue")}},
	}))
	m := out.KeyMetadata
	if m.Description == nil || *m.Description != "demo" || m.KeyState != types.KeyStateEnabled || !m.Enabled ||
		m.KeySpec != types.KeySpecSymmetricDefault || m.KeyUsage != types.KeyUsageTypeEncryptDecrypt ||
		m.Origin != types.OriginTypeAwsKms || m.KeyManager != types.KeyManagerTypeCustomer ||
		*m.AWSAccountId != testAccount || len(m.EncryptionAlgorithms) != 1 || m.CurrentKeyMaterialId == nil {
		t.Fatalf("unexpected metadata %+v", m)
	}
	wantARN := "arn:aws:kms:us-east-1:111122223333:key/" + *m.KeyId
	if *m.Arn != wantARN {
		t.Fatalf("arn %s, want %s", *m.Arn, wantARN)
	}
	if time.Since(*m.CreationDate) > time.Minute {
		t.Fatalf("creation date %v", m.CreationDate)
	}
	must[*awskms.CreateAliasOutput](t)(c.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/demo"), TargetKeyId: m.KeyId}))
	for _, id := range []string{*m.KeyId, wantARN, "alias/demo", "arn:aws:kms:us-east-1:111122223333:alias/demo"} {
		d, err := c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(id)})
		if err != nil {
			t.Fatalf("describe %s: %v", id, err)
		}
		if *d.KeyMetadata.KeyId != *m.KeyId {
			t.Fatalf("describe %s gave key %s", id, *d.KeyMetadata.KeyId)
		}
	}
	for _, tc := range []struct{ id, code, msg string }{
		{"not-a-key", "NotFoundException", "Invalid keyId 'not-a-key'"},
		{"1234abcd-12ab-34cd-56ef-1234567890ab", "NotFoundException", "Key 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab' does not exist"},
		{"alias/nope", "NotFoundException", "Alias arn:aws:kms:us-east-1:111122223333:alias/nope is not found."},
		{"arn:aws:kms:eu-west-1:111122223333:key/" + *m.KeyId, "NotFoundException", "Invalid arn eu-west-1"},
		{"arn:aws:kms:us-east-1", "InvalidArnException", ""},
	} {
		_, err := c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(tc.id)})
		wantMessage(t, err, tc.code, tc.msg)
	}
	// Keys are regional: invisible from another region.
	_, err := ts.client("eu-west-1").DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: m.KeyId})
	wantMessage(t, err, "NotFoundException", "arn:aws:kms:eu-west-1:111122223333:key/"+*m.KeyId)
	eu := must[*awskms.CreateKeyOutput](t)(ts.client("eu-west-1").CreateKey(ctx, &awskms.CreateKeyInput{}))
	if !strings.HasPrefix(*eu.KeyMetadata.Arn, "arn:aws:kms:eu-west-1:") {
		t.Fatalf("eu key arn %s", *eu.KeyMetadata.Arn)
	}
}

func TestCreateKeyValidation(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	for _, tc := range []struct {
		name string
		in   awskms.CreateKeyInput
		code string
		msg  string
	}{
		{"asymmetric without usage", awskms.CreateKeyInput{KeySpec: types.KeySpecRsa2048}, "ValidationException", "You must specify a KeyUsage value"},
		{"bad spec", awskms.CreateKeyInput{KeySpec: "HMAC_random"}, "ValidationException", "Value 'HMAC_random' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set"},
		{"symmetric sign", awskms.CreateKeyInput{KeyUsage: types.KeyUsageTypeSignVerify}, "ValidationException", "KeyUsage"},
		{"RSA key agreement", awskms.CreateKeyInput{KeySpec: types.KeySpecRsa2048, KeyUsage: types.KeyUsageTypeKeyAgreement}, "ValidationException",
			"KeyUsage KEY_AGREEMENT is not compatible with KeySpec RSA_2048"},
		{"long description", awskms.CreateKeyInput{Description: aws.String(strings.Repeat("x", 8193))}, "ValidationException", "at 'description' failed to satisfy constraint: Member must have length less than or equal to 8192"},
		// Tag messages as LocalStack records AWS's.
		{"reserved tag", awskms.CreateKeyInput{Tags: []types.Tag{{TagKey: aws.String("aws:x"), TagValue: aws.String("")}}}, "TagException", "Tags beginning with aws: are reserved"},
		{"reserved tag, any case", awskms.CreateKeyInput{Tags: []types.Tag{{TagKey: aws.String("AwS:x"), TagValue: aws.String("")}}}, "TagException", "Tags beginning with aws: are reserved"},
		{"duplicate tag keys", awskms.CreateKeyInput{Tags: []types.Tag{{TagKey: aws.String("k"), TagValue: aws.String("1")}, {TagKey: aws.String("k"), TagValue: aws.String("2")}}}, "TagException", "Duplicate tag keys"},
		{"51 tags", awskms.CreateKeyInput{Tags: manyTags(51)}, "TagException", "Too many tags"},
		{"long tag value", awskms.CreateKeyInput{Tags: []types.Tag{{TagKey: aws.String("k"), TagValue: aws.String(strings.Repeat("v", 257))}}}, "ValidationException", "at 'tags.1.member.tagValue' failed to satisfy constraint: Member must have length less than or equal to 256"},
		{"bad policy", awskms.CreateKeyInput{Policy: aws.String("{not json")}, "MalformedPolicyDocumentException", ""},
		{"huge policy", awskms.CreateKeyInput{Policy: aws.String(`{"Version":"` + strings.Repeat("x", 40000) + `"}`)}, "LimitExceededException", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.CreateKey(ctx, &tc.in)
			wantMessage(t, err, tc.code, tc.msg)
		})
	}
	// Nothing was created by the failures.
	l := must[*awskms.ListKeysOutput](t)(c.ListKeys(ctx, &awskms.ListKeysInput{}))
	if len(l.Keys) != 0 {
		t.Fatalf("failed CreateKey calls left %d keys", len(l.Keys))
	}
}

// TestDescribeCustomKeyStores: the SDK reads an empty list.
func TestDescribeCustomKeyStores(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	out := must[*awskms.DescribeCustomKeyStoresOutput](t)(c.DescribeCustomKeyStores(ctx, &awskms.DescribeCustomKeyStoresInput{}))
	if out.CustomKeyStores == nil || len(out.CustomKeyStores) != 0 || out.Truncated {
		t.Fatalf("custom key stores %+v", out)
	}
	_, err := c.DescribeCustomKeyStores(ctx, &awskms.DescribeCustomKeyStoresInput{CustomKeyStoreName: aws.String("hsm")})
	wantMessage(t, err, "CustomKeyStoreNotFoundException", "Custom key store hsm does not exist.")
	_, err = c.DeleteCustomKeyStore(ctx, &awskms.DeleteCustomKeyStoreInput{CustomKeyStoreId: aws.String("cks-1234567890abcdef0")})
	wantMessage(t, err, "UnsupportedOperationException", "Custom key stores (AWS CloudHSM key stores and external key stores) are not supported")
}

// manyTags is n tags k0=v ... k(n-1)=v.
func manyTags(n int) []types.Tag {
	tags := make([]types.Tag, n)
	for i := range tags {
		tags[i] = types.Tag{TagKey: aws.String(fmt.Sprint("k", i)), TagValue: aws.String("v")}
	}
	return tags
}

func TestListKeysPagination(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	want := map[string]bool{}
	for range 7 {
		k := must[*awskms.CreateKeyOutput](t)(c.CreateKey(ctx, &awskms.CreateKeyInput{}))
		want[*k.KeyMetadata.KeyId] = true
	}
	ts.client("eu-west-1").CreateKey(ctx, &awskms.CreateKeyInput{}) // not listed in us-east-1
	got := map[string]bool{}
	pages := 0
	p := awskms.NewListKeysPaginator(c, &awskms.ListKeysInput{Limit: aws.Int32(3)})
	for p.HasMorePages() {
		page := must[*awskms.ListKeysOutput](t)(p.NextPage(ctx))
		pages++
		for _, k := range page.Keys {
			if got[*k.KeyId] {
				t.Fatalf("key %s listed twice", *k.KeyId)
			}
			got[*k.KeyId] = true
			if !strings.HasSuffix(*k.KeyArn, *k.KeyId) {
				t.Fatalf("arn %s", *k.KeyArn)
			}
		}
	}
	if pages != 3 || len(got) != len(want) {
		t.Fatalf("%d pages, %d keys; want 3 pages, %d keys", pages, len(got), len(want))
	}
	_, err := c.ListKeys(ctx, &awskms.ListKeysInput{Marker: aws.String("forged")})
	wantCode(t, err, "InvalidMarkerException")
	_, err = c.ListKeys(ctx, &awskms.ListKeysInput{Limit: aws.Int32(0)})
	wantMessage(t, err, "ValidationException", "Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1")
}

func TestKeyStates(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	k := must[*awskms.CreateKeyOutput](t)(c.CreateKey(ctx, &awskms.CreateKeyInput{})).KeyMetadata
	id, arn := k.KeyId, *k.Arn
	must[*awskms.CreateAliasOutput](t)(c.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/doomed"), TargetKeyId: id}))
	encrypt := func() error {
		_, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: id, Plaintext: []byte("x")})
		return err
	}
	state := func() types.KeyState {
		return must[*awskms.DescribeKeyOutput](t)(c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: id})).KeyMetadata.KeyState
	}
	must[*awskms.UpdateKeyDescriptionOutput](t)(c.UpdateKeyDescription(ctx, &awskms.UpdateKeyDescriptionInput{KeyId: id, Description: aws.String("new")}))
	if d := must[*awskms.DescribeKeyOutput](t)(c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: id})); *d.KeyMetadata.Description != "new" {
		t.Fatalf("description %q", *d.KeyMetadata.Description)
	}
	ct := must[*awskms.EncryptOutput](t)(c.Encrypt(ctx, &awskms.EncryptInput{KeyId: id, Plaintext: []byte("x")})).CiphertextBlob

	must[*awskms.DisableKeyOutput](t)(c.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: id}))
	if s := state(); s != types.KeyStateDisabled {
		t.Fatalf("state %s after DisableKey", s)
	}
	wantMessage(t, encrypt(), "DisabledException", arn+" is disabled.")
	_, err := c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: ct})
	wantCode(t, err, "DisabledException")
	must[*awskms.DisableKeyOutput](t)(c.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: id})) // idempotent
	must[*awskms.EnableKeyOutput](t)(c.EnableKey(ctx, &awskms.EnableKeyInput{KeyId: id}))
	if err := encrypt(); err != nil {
		t.Fatal(err)
	}
	_, err = c.EnableKey(ctx, &awskms.EnableKeyInput{KeyId: aws.String("alias/doomed")})
	wantCode(t, err, "NotFoundException")

	_, err = c.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: id, PendingWindowInDays: aws.Int32(6)})
	wantMessage(t, err, "ValidationException", "Value '6' at 'pendingWindowInDays'")
	_, err = c.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: id, PendingWindowInDays: aws.Int32(31)})
	wantCode(t, err, "ValidationException")
	_, err = c.CancelKeyDeletion(ctx, &awskms.CancelKeyDeletionInput{KeyId: id})
	wantMessage(t, err, "KMSInvalidStateException", arn+" is not pending deletion.")
	sd := must[*awskms.ScheduleKeyDeletionOutput](t)(c.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: id}))
	if *sd.KeyId != arn || sd.KeyState != types.KeyStatePendingDeletion || *sd.PendingWindowInDays != 30 ||
		time.Until(*sd.DeletionDate) < 29*24*time.Hour {
		t.Fatalf("ScheduleKeyDeletion output %+v", sd)
	}
	wantMessage(t, encrypt(), "KMSInvalidStateException", arn+" is pending deletion.")
	_, err = c.EnableKey(ctx, &awskms.EnableKeyInput{KeyId: id})
	wantCode(t, err, "KMSInvalidStateException")
	_, err = c.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: id})
	wantCode(t, err, "KMSInvalidStateException")
	_, err = c.TagResource(ctx, &awskms.TagResourceInput{KeyId: id, Tags: []types.Tag{{TagKey: aws.String("a"), TagValue: aws.String("b")}}})
	wantCode(t, err, "KMSInvalidStateException")
	d := must[*awskms.DescribeKeyOutput](t)(c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: id})).KeyMetadata
	if d.DeletionDate == nil || d.Enabled {
		t.Fatalf("pending deletion metadata %+v", d)
	}
	cd := must[*awskms.CancelKeyDeletionOutput](t)(c.CancelKeyDeletion(ctx, &awskms.CancelKeyDeletionInput{KeyId: id}))
	if *cd.KeyId != arn || state() != types.KeyStateDisabled {
		t.Fatalf("after cancel: %s %s", *cd.KeyId, state())
	}

	// The sweeper deletes the key, its aliases and everything else once the
	// window has passed.
	must[*awskms.ScheduleKeyDeletionOutput](t)(c.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: id, PendingWindowInDays: aws.Int32(7)}))
	if n, err := ts.Service.SweepDeletions(ctx, time.Now().Add(6*24*time.Hour)); err != nil || n != 0 {
		t.Fatalf("early sweep deleted %d (%v)", n, err)
	}
	if n, err := ts.Service.SweepDeletions(ctx, time.Now().Add(7*24*time.Hour+time.Minute)); err != nil || n != 1 {
		t.Fatalf("sweep deleted %d (%v)", n, err)
	}
	_, err = c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: id})
	wantCode(t, err, "NotFoundException")
	_, err = c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String("alias/doomed")})
	wantCode(t, err, "NotFoundException")
	_, err = c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: ct})
	wantCode(t, err, "AccessDeniedException")
	for _, a := range must[*awskms.ListAliasesOutput](t)(c.ListAliases(ctx, &awskms.ListAliasesInput{})).Aliases {
		if a.TargetKeyId != nil { // the predefined alias/aws/ names have none
			t.Fatalf("alias survives its key: %s", *a.AliasName)
		}
	}
}

func TestAliases(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	k1 := must[*awskms.CreateKeyOutput](t)(c.CreateKey(ctx, &awskms.CreateKeyInput{})).KeyMetadata
	k2 := must[*awskms.CreateKeyOutput](t)(c.CreateKey(ctx, &awskms.CreateKeyInput{})).KeyMetadata
	create := func(name string, target *string) error {
		_, err := c.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String(name), TargetKeyId: target})
		return err
	}
	if err := create("alias/app", k1.KeyId); err != nil {
		t.Fatal(err)
	}
	wantMessage(t, create("alias/app", k2.KeyId), "AlreadyExistsException", "arn:aws:kms:us-east-1:111122223333:alias/app")
	wantMessage(t, create("app", k1.KeyId), "ValidationException", `Alias must start with the prefix "alias/"`)
	wantCode(t, create("alias/aws/s3", k1.KeyId), "InvalidAliasNameException")
	wantMessage(t, create("alias/bad name", k1.KeyId), "ValidationException", "regular expression pattern")
	wantMessage(t, create("alias/my:alias", k1.KeyId), "ValidationException", "alias/my:alias contains invalid characters for an alias")
	_, err := c.UpdateAlias(ctx, &awskms.UpdateAliasInput{AliasName: aws.String("alias/app:x"), TargetKeyId: k2.KeyId})
	wantMessage(t, err, "ValidationException", "alias/app:x contains invalid characters for an alias")
	wantCode(t, create("alias/x", aws.String("alias/app")), "NotFoundException")
	wantCode(t, create("alias/x", aws.String("1234abcd-12ab-34cd-56ef-1234567890ab")), "NotFoundException")
	// Same name in another region is another alias.
	euKey := must[*awskms.CreateKeyOutput](t)(ts.client("eu-west-1").CreateKey(ctx, &awskms.CreateKeyInput{})).KeyMetadata
	must[*awskms.CreateAliasOutput](t)(ts.client("eu-west-1").CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: euKey.KeyId}))

	// Encrypt through the alias, then re-point it: old ciphertexts still
	// decrypt (the blob names its key), new ones use the new key.
	ct := must[*awskms.EncryptOutput](t)(c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String("alias/app"), Plaintext: []byte("p")}))
	if *ct.KeyId != *k1.Arn {
		t.Fatalf("encrypt via alias used %s", *ct.KeyId)
	}
	must[*awskms.UpdateAliasOutput](t)(c.UpdateAlias(ctx, &awskms.UpdateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: k2.KeyId}))
	ct2 := must[*awskms.EncryptOutput](t)(c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String("alias/app"), Plaintext: []byte("p")}))
	if *ct2.KeyId != *k2.Arn {
		t.Fatalf("encrypt via updated alias used %s", *ct2.KeyId)
	}
	must[*awskms.DecryptOutput](t)(c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: ct.CiphertextBlob}))
	_, err = c.UpdateAlias(ctx, &awskms.UpdateAliasInput{AliasName: aws.String("alias/none"), TargetKeyId: k2.KeyId})
	wantCode(t, err, "NotFoundException")

	for i := range 5 {
		if err := create(fmt.Sprintf("alias/k1-%d", i), k1.KeyId); err != nil {
			t.Fatal(err)
		}
	}
	// Pages of two merge the stored aliases with the predefined alias/aws/
	// names (listed without a key until their AWS managed key exists).
	var names, all []string
	p := awskms.NewListAliasesPaginator(c, &awskms.ListAliasesInput{Limit: aws.Int32(2)})
	for p.HasMorePages() {
		for _, a := range must[*awskms.ListAliasesOutput](t)(p.NextPage(ctx)).Aliases {
			all = append(all, *a.AliasName)
			if strings.HasPrefix(*a.AliasName, "alias/aws/") && a.TargetKeyId == nil && a.CreationDate == nil {
				continue
			}
			names = append(names, *a.AliasName)
			if a.TargetKeyId == nil || a.AliasArn == nil || a.CreationDate == nil {
				t.Fatalf("alias entry %+v", a)
			}
		}
	}
	want := "alias/app alias/k1-0 alias/k1-1 alias/k1-2 alias/k1-3 alias/k1-4"
	if got := strings.Join(names, " "); got != want {
		t.Fatalf("aliases %q, want %q", got, want)
	}
	if !slices.IsSorted(all) || len(slices.Compact(slices.Clone(all))) != len(all) || len(all) < len(names)+10 {
		t.Fatalf("all aliases, with the predefined: %q", all)
	}
	f := must[*awskms.ListAliasesOutput](t)(c.ListAliases(ctx, &awskms.ListAliasesInput{KeyId: k2.KeyId}))
	if len(f.Aliases) != 1 || *f.Aliases[0].AliasName != "alias/app" || *f.Aliases[0].TargetKeyId != *k2.KeyId {
		t.Fatalf("filtered aliases %+v", f.Aliases)
	}
	must[*awskms.DeleteAliasOutput](t)(c.DeleteAlias(ctx, &awskms.DeleteAliasInput{AliasName: aws.String("alias/app")}))
	_, err = c.DeleteAlias(ctx, &awskms.DeleteAliasInput{AliasName: aws.String("alias/app")})
	wantMessage(t, err, "NotFoundException", "Alias arn:aws:kms:us-east-1:111122223333:alias/app is not found.")
	_, err = c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String("alias/app"), Plaintext: []byte("p")})
	wantCode(t, err, "NotFoundException")
	// The key itself is unaffected.
	must[*awskms.DescribeKeyOutput](t)(c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: k2.KeyId}))
}

func TestTags(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	k := must[*awskms.CreateKeyOutput](t)(c.CreateKey(ctx, &awskms.CreateKeyInput{
		Tags: []types.Tag{{TagKey: aws.String("a"), TagValue: aws.String("1")}},
	})).KeyMetadata
	tag := func(kv ...string) error {
		var tags []types.Tag
		for i := 0; i < len(kv); i += 2 {
			tags = append(tags, types.Tag{TagKey: aws.String(kv[i]), TagValue: aws.String(kv[i+1])})
		}
		_, err := c.TagResource(ctx, &awskms.TagResourceInput{KeyId: k.KeyId, Tags: tags})
		return err
	}
	list := func() string {
		var s []string
		p := awskms.NewListResourceTagsPaginator(c, &awskms.ListResourceTagsInput{KeyId: k.KeyId, Limit: aws.Int32(2)})
		for p.HasMorePages() {
			for _, t := range must[*awskms.ListResourceTagsOutput](t)(p.NextPage(ctx)).Tags {
				s = append(s, *t.TagKey+"="+*t.TagValue)
			}
		}
		return strings.Join(s, ",")
	}
	if err := tag("b", "2", "a", "one", "c", ""); err != nil {
		t.Fatal(err)
	}
	if got := list(); got != "a=one,b=2,c=" {
		t.Fatalf("tags %s", got)
	}
	must[*awskms.UntagResourceOutput](t)(c.UntagResource(ctx, &awskms.UntagResourceInput{KeyId: k.KeyId, TagKeys: []string{"b", "missing"}}))
	if got := list(); got != "a=one,c=" {
		t.Fatalf("tags after untag %s", got)
	}
	wantCode(t, tag("aws:reserved", "x"), "TagException")
	wantMessage(t, tag("AWS:reserved", "x"), "TagException", "Tags beginning with aws: are reserved")
	wantMessage(t, tag("d", "1", "d", "2"), "TagException", "Duplicate tag keys")
	_, err := c.UntagResource(ctx, &awskms.UntagResourceInput{KeyId: k.KeyId, TagKeys: []string{"Aws:x"}})
	wantMessage(t, err, "TagException", "Tags beginning with aws: are reserved")
	var many []string
	for i := range 49 {
		many = append(many, fmt.Sprint("k", i), "v")
	}
	wantCode(t, tag(many...), "LimitExceededException")
	if got := list(); got != "a=one,c=" {
		t.Fatalf("failed TagResource changed tags: %s", got)
	}
	wantMessage(t, tag(strings.Repeat("k", 129), "v"), "ValidationException", "tags.1.member.tagKey")
}
