package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	"github.com/jackc/pgx/v5"

	"github.com/openkms/kms/internal/pgtest"
)

// clientAs is a KMS client of p for region with other credentials.
func (p *proc) clientAs(region, id, secret string) *awskms.Client {
	return awskms.New(awskms.Options{
		Region:           region,
		BaseEndpoint:     aws.String(p.URL),
		Credentials:      credentials.NewStaticCredentialsProvider(id, secret, ""),
		RetryMaxAttempts: 1,
	})
}

func (p *proc) iamClient() *iam.Client {
	return iam.New(iam.Options{Region: testRegion, BaseEndpoint: aws.String(p.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(testAccessKeyID, testSecret, "")})
}

// errorCode is the AWS error code of err, "" for none.
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// importInto imports fresh material into an EXTERNAL key, as a customer
// does: wrapped with RSAES_OAEP_SHA_256 under the key's import parameters.
func importInto(t *testing.T, c *awskms.Client, keyID string, in awskms.ImportKeyMaterialInput) *awskms.ImportKeyMaterialOutput {
	t.Helper()
	ctx := context.Background()
	p, err := c.GetParametersForImport(ctx, &awskms.GetParametersForImportInput{KeyId: aws.String(keyID),
		WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: types.WrappingKeySpecRsa2048})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.ParsePKIXPublicKey(p.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	wrapped, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub.(*rsa.PublicKey), random(32), nil)
	if err != nil {
		t.Fatal(err)
	}
	in.KeyId, in.ImportToken, in.EncryptedKeyMaterial = aws.String(keyID), p.ImportToken, wrapped
	out, err := c.ImportKeyMaterial(ctx, &in)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// targetState says what a database holds, for the refusals that must
// leave it as it was: its rows of the seal state, the store's accounts and
// keys, and the audit trail's chains and records.
func targetState(t *testing.T, dsn string) string {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var parts []string
	for _, table := range []string{"seal_state", "accounts", "keys", "audit_chains", "audit_records"} {
		var have bool
		if err := c.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&have); err != nil {
			t.Fatal(err)
		}
		n := 0
		if have {
			if err := c.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&n); err != nil {
				t.Fatal(err)
			}
		}
		parts = append(parts, fmt.Sprintf("%s=%d", table, n))
	}
	return strings.Join(parts, " ")
}

const emptyTarget = "seal_state=0 accounts=0 keys=0 audit_chains=0 audit_records=0"

// TestMigrate fills a data dir through the API (keys of every kind,
// rotations, an imported key with material pending rotation, aliases in
// two regions, tags, a grant, a disabled key, one pending deletion, an IAM
// user with a key and a policy, a role, a second account), stops its
// server and migrates it into an empty database; then two cluster nodes on
// that database serve all of it, every ciphertext decrypts, every
// signature verifies, and the audit trail holds the records of the calls
// made before and verifies. Each refusal leaves the database untouched.
func TestMigrate(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "root.key")
	p := startKMS(t, dir, pinned...)
	c := p.client()
	var requests []string // request ids of calls before the migration
	// note fails on err, and keeps the request id of the call that
	// returned out (an SDK output, whose ResultMetadata holds it).
	note := func(out any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		md := reflect.ValueOf(out).Elem().FieldByName("ResultMetadata").Interface().(middleware.Metadata)
		requests = append(requests, requestID(t, md))
	}
	type sealed struct {
		key, region string
		blob, plain []byte
	}
	var blobs []sealed
	encrypt := func(c *awskms.Client, region, key string) {
		t.Helper()
		plain := random(24)
		e, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(key), Plaintext: plain})
		note(e, err)
		blobs = append(blobs, sealed{key, region, e.CiphertextBlob, plain})
	}
	create := func(c *awskms.Client, in awskms.CreateKeyInput) string {
		t.Helper()
		k, err := c.CreateKey(ctx, &in)
		note(k, err)
		return *k.KeyMetadata.KeyId
	}

	// A symmetric key with automatic rotation, two on-demand rotations
	// and a ciphertext under each of its three materials; an alias, tags
	// and a grant (retirable by a service, with a SourceArn constraint).
	sym := create(c, awskms.CreateKeyInput{Description: aws.String("rotated"),
		Tags: []types.Tag{{TagKey: aws.String("env"), TagValue: aws.String("prod")}, {TagKey: aws.String("team"), TagValue: aws.String("kms")}}})
	note(c.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: aws.String(sym)}))
	note(c.EnableKeyRotation(ctx, &awskms.EnableKeyRotationInput{KeyId: aws.String(sym), RotationPeriodInDays: aws.Int32(90)}))
	encrypt(c, testRegion, "alias/app")
	for range 2 {
		note(c.RotateKeyOnDemand(ctx, &awskms.RotateKeyOnDemandInput{KeyId: aws.String(sym)}))
		encrypt(c, testRegion, sym)
	}
	grant, err := c.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: aws.String(sym), Name: aws.String("worker"),
		GranteePrincipal:         aws.String("arn:aws:iam::111122223333:user/worker"),
		RetiringServicePrincipal: aws.String("s3.amazonaws.com"),
		Operations:               []types.GrantOperation{types.GrantOperationDecrypt, types.GrantOperationEncrypt},
		Constraints: &types.GrantConstraints{EncryptionContextSubset: map[string]string{"app": "billing"},
			SourceArn: aws.String("arn:aws:s3:::amzn-s3-demo-bucket")}})
	note(grant, err)
	// A disabled key and one pending deletion, each with a ciphertext.
	disabled := create(c, awskms.CreateKeyInput{Description: aws.String("disabled")})
	encrypt(c, testRegion, disabled)
	note(c.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: aws.String(disabled)}))
	doomed := create(c, awskms.CreateKeyInput{Description: aws.String("doomed")})
	encrypt(c, testRegion, doomed)
	sched, err := c.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: aws.String(doomed), PendingWindowInDays: aws.Int32(7)})
	note(sched, err)
	// Asymmetric signing and HMAC.
	signer := create(c, awskms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify})
	message := []byte("signed before the migration")
	sig, err := c.Sign(ctx, &awskms.SignInput{KeyId: aws.String(signer), Message: message, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
	note(sig, err)
	pubKey, err := c.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: aws.String(signer)})
	note(pubKey, err)
	hmacKey := create(c, awskms.CreateKeyInput{KeySpec: types.KeySpecHmac256, KeyUsage: types.KeyUsageTypeGenerateVerifyMac})
	mac, err := c.GenerateMac(ctx, &awskms.GenerateMacInput{KeyId: aws.String(hmacKey), Message: message, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
	note(mac, err)
	// Imported material that expires, with material pending its next
	// on-demand rotation; and an imported key still waiting for material.
	external := create(c, awskms.CreateKeyInput{Origin: types.OriginTypeExternal})
	validTo := time.Now().Add(300 * 24 * time.Hour).UTC().Truncate(time.Second)
	note(importInto(t, c, external, awskms.ImportKeyMaterialInput{ExpirationModel: types.ExpirationModelTypeKeyMaterialExpires, ValidTo: &validTo}), nil)
	encrypt(c, testRegion, external)
	pendingImport := importInto(t, c, external, awskms.ImportKeyMaterialInput{ImportType: types.ImportTypeNewKeyMaterial,
		ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire})
	waiting := create(c, awskms.CreateKeyInput{Origin: types.OriginTypeExternal, Description: aws.String("waiting")})
	// A key and an alias of the same name in another region.
	eu := p.clientAs("eu-west-1", testAccessKeyID, testSecret)
	euKey := create(eu, awskms.CreateKeyInput{Description: aws.String("in Ireland")})
	note(eu.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: aws.String(euKey)}))
	encrypt(eu, "eu-west-1", "alias/app")
	// An IAM user whose key may use keys but not make them, and a role.
	ic := p.iamClient()
	if _, err := ic.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("Alice")}); err != nil {
		t.Fatal(err)
	}
	if _, err := ic.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("Alice"), PolicyName: aws.String("use-keys"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt","kms:DescribeKey"],"Resource":"*"}]}`)}); err != nil {
		t.Fatal(err)
	}
	ak, err := ic.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
	if err != nil {
		t.Fatal(err)
	}
	aliceID, aliceSecret := *ak.AccessKey.AccessKeyId, *ak.AccessKey.SecretAccessKey
	if _, err := ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("app"), Path: aws.String("/svc/"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/Alice"},"Action":"sts:AssumeRole"}]}`)}); err != nil {
		t.Fatal(err)
	}
	alice := p.clientAs(testRegion, aliceID, aliceSecret)
	encrypt(alice, testRegion, sym)
	// A managed policy attached to Alice, whose default is v2 and whose v1
	// is gone: only it lets her list keys.
	listKeys := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:ListKeys","Resource":"*"}]}`
	mp, err := ic.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("list-keys"), Path: aws.String("/kms/"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:ListAliases","Resource":"*"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []bool{true, false} {
		if _, err := ic.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: mp.Policy.Arn,
			PolicyDocument: aws.String(listKeys), SetAsDefault: d}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ic.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: mp.Policy.Arn, VersionId: aws.String("v1")}); err != nil {
		t.Fatal(err)
	}
	if _, err := ic.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("alice"), PolicyArn: mp.Policy.Arn}); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.ListKeys(ctx, &awskms.ListKeysInput{}); err != nil {
		t.Fatalf("Alice's ListKeys through the managed policy: %v", err)
	}

	// What the nodes must show as it is here.
	describe := func(c *awskms.Client, key string) *types.KeyMetadata {
		t.Helper()
		d, err := c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(key)})
		if err != nil {
			t.Fatalf("DescribeKey %s: %v", key, err)
		}
		return d.KeyMetadata
	}
	rotations := func(c *awskms.Client, key string) string {
		t.Helper()
		r, err := c.ListKeyRotations(ctx, &awskms.ListKeyRotationsInput{KeyId: aws.String(key)})
		if err != nil {
			t.Fatalf("ListKeyRotations %s: %v", key, err)
		}
		b, _ := json.Marshal(r.Rotations)
		return string(b)
	}
	keyJSON := map[string]string{}
	for _, k := range []string{sym, disabled, doomed, signer, hmacKey, external, waiting} {
		b, _ := json.Marshal(describe(c, k))
		keyJSON[k] = string(b)
	}
	symRotations := rotations(c, sym)
	if strings.Count(symRotations, "ON_DEMAND") != 2 {
		t.Fatalf("rotations before: %s", symRotations)
	}

	empty := pgtest.DSN(t)
	migrate := func(env []string, args ...string) (string, string, int) {
		t.Helper()
		return kmsCmd(t, env, append([]string{"migrate"}, args...)...)
	}
	withKey := []string{"KMS_SEAL_KEY_FILE=" + keyFile}
	// Refused while the server runs: the copy needs the data dir's lock.
	if out, stderr, code := migrate(withKey, "--from", dir, "--to", empty); code != 1 || !strings.Contains(stderr, "is in use by process") {
		t.Fatalf("migrate beside the server: exit %d\n%s%s", code, out, stderr)
	}
	if got := targetState(t, empty); got != emptyTarget {
		t.Errorf("a refused migration wrote to the database: %s", got)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.wait(); err != nil {
		t.Fatalf("server exit: %v\n%s", err, p.stderr)
	}
	// A second account, added with the server stopped.
	out, stderr, code := kmsCmd(t, nil, "account", "create", "--data-dir", dir, "--account-id", "444455556666")
	m := regexp.MustCompile(`aws_access_key_id = (\S+)\naws_secret_access_key = (\S+)`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("account create: exit %d\n%s", code, stderr)
	}

	otherKey := filepath.Join(t.TempDir(), "other.key")
	if err := os.WriteFile(otherKey, []byte(hex.EncodeToString(random(32))+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		code int
		want string
	}{
		{"no --from", withKey, []string{"--to", empty}, 2, "--from is required"},
		{"no --to", withKey, []string{"--from", dir}, 2, "no target database"},
		{"not a postgres URL", withKey, []string{"--from", dir, "--to", "mysql://u:hunter2@h/db"}, 2, "must be a postgres:// URL"},
		{"bad URL", withKey, []string{"--from", dir, "--to", "postgres://u:hunter2@h:port/db"}, 2, "--to: target URL"},
		{"unexpected argument", withKey, []string{"--from", dir, "--to", empty, "now"}, 2, "unexpected argument"},
		{"not a data dir", withKey, []string{"--from", t.TempDir(), "--to", empty}, 1, "not initialised"},
		{"wrong root key", nil, []string{"--from", dir, "--to", empty, "--seal-key-file", otherKey}, 1, "does not match"},
		{"passphrase for a key-file seal", []string{"KMS_SEAL_PASSPHRASE=guess"}, []string{"--from", dir, "--to", empty}, 1, "root key file, not a passphrase"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, stderr, code := migrate(tc.env, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, want %d with %q\n%s%s", code, tc.code, tc.want, out, stderr)
			}
			if strings.Contains(out+stderr, "hunter2") {
				t.Error("the password of the URL was printed")
			}
			if got := targetState(t, empty); got != emptyTarget {
				t.Errorf("a refused migration wrote to the database: %s", got)
			}
		})
	}

	// The migration.
	dsn := pgtest.DSN(t)
	start := time.Now()
	out, stderr, code = migrate(withKey, "--from", dir, "--to", dsn)
	if code != 0 {
		t.Fatalf("migrate: exit %d\n%s%s", code, out, stderr)
	}
	t.Logf("migrate took %v:\n%s", time.Since(start).Round(time.Millisecond), out)
	// Three materials of the rotated key, two of the imported one, none
	// of the one waiting for its import, one of each other key.
	for _, want := range []string{"2 accounts", "3 access keys", "1 users", "1 roles", "1 policies", "1 managed policies",
		"1 policy attachments", "policy versions: 2", "8 keys", "10 materials",
		"2 aliases", "1 grants", "audit records in 2 chains"} {
		if !strings.Contains(out, want) {
			t.Errorf("migrate's output lacks %q", want)
		}
	}
	// Once only: the database is not empty any more, and stays as it is.
	before := targetState(t, dsn)
	if out, stderr, code := migrate(withKey, "--from", dir, "--to", dsn); code != 1 || !strings.Contains(stderr, "not empty") {
		t.Errorf("second migrate: exit %d\n%s%s", code, out, stderr)
	}
	if got := targetState(t, dsn); got != before {
		t.Errorf("a refused migration changed the database: %s, was %s", got, before)
	}

	// Two nodes on the database, with the data dir's root key.
	a, _ := startNode(t, dsn, keyFile)
	b, _ := startNode(t, dsn, keyFile)
	for n, node := range []*proc{a, b} {
		c := node.client()
		for i, s := range blobs {
			cl := c
			if s.region != testRegion {
				cl = node.clientAs(s.region, testAccessKeyID, testSecret)
			}
			d, err := cl.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: s.blob})
			switch s.key {
			case disabled:
				if errorCode(err) != "DisabledException" {
					t.Errorf("node %d: ciphertext of the disabled key: %v", n, err)
				}
			case doomed:
				if errorCode(err) != "KMSInvalidStateException" {
					t.Errorf("node %d: ciphertext of the key pending deletion: %v", n, err)
				}
			default:
				if err != nil || !bytes.Equal(d.Plaintext, s.plain) {
					t.Errorf("node %d: ciphertext %d (key %s): %v", n, i, s.key, err)
				}
			}
		}
		for k, want := range keyJSON {
			if got, _ := json.Marshal(describe(c, k)); string(got) != want {
				t.Errorf("node %d: key %s is\n%s\nwas\n%s", n, k, got, want)
			}
		}
		if d := describe(c, "alias/app"); *d.KeyId != sym {
			t.Errorf("node %d: alias/app is %s, not %s", n, *d.KeyId, sym)
		}
		euc := node.clientAs("eu-west-1", testAccessKeyID, testSecret)
		if d := describe(euc, "alias/app"); *d.KeyId != euKey {
			t.Errorf("node %d: alias/app in eu-west-1 is %s, not %s", n, *d.KeyId, euKey)
		}
		if got := rotations(c, sym); got != symRotations {
			t.Errorf("node %d: rotations\n%s\nwere\n%s", n, got, symRotations)
		}
		rs, err := c.GetKeyRotationStatus(ctx, &awskms.GetKeyRotationStatusInput{KeyId: aws.String(sym)})
		if err != nil || !rs.KeyRotationEnabled || *rs.RotationPeriodInDays != 90 {
			t.Errorf("node %d: rotation status %+v, %v", n, rs, err)
		}
		tags, err := c.ListResourceTags(ctx, &awskms.ListResourceTagsInput{KeyId: aws.String(sym)})
		if err != nil || len(tags.Tags) != 2 || *tags.Tags[0].TagKey != "env" || *tags.Tags[1].TagValue != "kms" {
			t.Errorf("node %d: tags %+v, %v", n, tags, err)
		}
		gs, err := c.ListGrants(ctx, &awskms.ListGrantsInput{KeyId: aws.String(sym)})
		if err != nil || len(gs.Grants) != 1 || *gs.Grants[0].GrantId != *grant.GrantId || len(gs.Grants[0].Operations) != 2 ||
			gs.Grants[0].Constraints.EncryptionContextSubset["app"] != "billing" ||
			aws.ToString(gs.Grants[0].Constraints.SourceArn) != "arn:aws:s3:::amzn-s3-demo-bucket" ||
			aws.ToString(gs.Grants[0].RetiringServicePrincipal) != "s3.amazonaws.com" {
			t.Errorf("node %d: grants %+v, %v", n, gs, err)
		}
		if d := describe(c, doomed); !d.DeletionDate.Equal(*sched.DeletionDate) {
			t.Errorf("node %d: deletion date %v, was %v", n, d.DeletionDate, sched.DeletionDate)
		}
		v, err := c.Verify(ctx, &awskms.VerifyInput{KeyId: aws.String(signer), Message: message, Signature: sig.Signature,
			SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
		if err != nil || !v.SignatureValid {
			t.Errorf("node %d: Verify: %v", n, err)
		}
		if pk, err := c.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: aws.String(signer)}); err != nil || !bytes.Equal(pk.PublicKey, pubKey.PublicKey) {
			t.Errorf("node %d: GetPublicKey: %v", n, err)
		}
		vm, err := c.VerifyMac(ctx, &awskms.VerifyMacInput{KeyId: aws.String(hmacKey), Message: message, Mac: mac.Mac,
			MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
		if err != nil || !vm.MacValid {
			t.Errorf("node %d: VerifyMac: %v", n, err)
		}
		// Alice's key works, within her policy.
		ac := node.clientAs(testRegion, aliceID, aliceSecret)
		if _, err := ac.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String("alias/app"), Plaintext: []byte("x")}); err != nil {
			t.Errorf("node %d: Alice's Encrypt: %v", n, err)
		}
		if _, err := ac.CreateKey(ctx, &awskms.CreateKeyInput{}); errorCode(err) != "AccessDeniedException" {
			t.Errorf("node %d: Alice's CreateKey, which her policy does not allow: %v", n, err)
		}
		// And her managed policy, its versions as they were.
		if _, err := ac.ListKeys(ctx, &awskms.ListKeysInput{}); err != nil {
			t.Errorf("node %d: Alice's ListKeys through the managed policy: %v", n, err)
		}
		vs, err := node.iamClient().ListPolicyVersions(ctx, &iam.ListPolicyVersionsInput{PolicyArn: mp.Policy.Arn})
		if err != nil || len(vs.Versions) != 2 || *vs.Versions[0].VersionId != "v3" || !vs.Versions[1].IsDefaultVersion {
			t.Errorf("node %d: ListPolicyVersions: %+v, %v", n, vs, err)
		}
		role, err := node.iamClient().GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("APP")})
		if err != nil || *role.Role.RoleName != "app" || *role.Role.Path != "/svc/" {
			t.Errorf("node %d: GetRole: %+v, %v", n, role, err)
		}
		// The second account's root key.
		sc := sts.New(sts.Options{Region: testRegion, BaseEndpoint: aws.String(node.URL),
			Credentials: credentials.NewStaticCredentialsProvider(m[1], m[2], "")})
		if who, err := sc.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil || *who.Account != "444455556666" {
			t.Errorf("node %d: the second account: %v", n, err)
		}
		// LookupEvents answers with the records of the data dir.
		ct := cloudtrail.New(cloudtrail.Options{Region: testRegion, BaseEndpoint: aws.String(node.URL), RetryMaxAttempts: 1,
			Credentials: credentials.NewStaticCredentialsProvider(testAccessKeyID, testSecret, "")})
		ev, err := ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{
			{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String("CreateGrant")}}})
		if err != nil || len(ev.Events) != 1 || !strings.Contains(aws.ToString(ev.Events[0].CloudTrailEvent), *grant.GrantId) {
			t.Errorf("node %d: LookupEvents of CreateGrant: %+v, %v", n, ev, err)
		}
	}
	// The pending material becomes current on one node, and the other
	// uses it.
	if _, err := a.client().RotateKeyOnDemand(ctx, &awskms.RotateKeyOnDemandInput{KeyId: aws.String(external)}); err != nil {
		t.Fatalf("rotation to the material imported before the migration: %v", err)
	}
	e, err := a.client().Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(external), Plaintext: []byte("after")})
	if err != nil {
		t.Fatal(err)
	}
	d, err := b.client().Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: e.CiphertextBlob})
	if err != nil || string(d.Plaintext) != "after" || *describe(b.client(), external).CurrentKeyMaterialId != *pendingImport.KeyMaterialId {
		t.Errorf("after the rotation to pending material: %v", err)
	}

	for _, node := range []*proc{a, b} {
		node.cmd.Process.Signal(syscall.SIGTERM)
		if err := node.wait(); err != nil {
			t.Fatalf("node exit: %v\n%s", err, node.stderr)
		}
	}
	storeEnv := []string{"KMS_STORE=" + dsn, "KMS_SEAL_KEY_FILE=" + keyFile}
	if stdout, stderr, code := kmsCmd(t, storeEnv, "audit", "verify"); code != 0 {
		t.Fatalf("audit verify --store: exit %d\n%s%s", code, stdout, stderr)
	} else if !strings.Contains(stdout, "chain migrated from ") {
		t.Errorf("audit verify --store shows no migrated chain:\n%s", stdout)
	}
	stdout, stderr, code := kmsCmd(t, storeEnv, "audit", "export")
	if code != 0 {
		t.Fatalf("audit export --store: exit %d\n%s", code, stderr)
	}
	logged := map[string]bool{}
	for _, e := range parseLines(t, stdout) {
		logged[e.RequestID] = true
	}
	for i, id := range requests {
		if !logged[id] {
			t.Errorf("request %d (%s), made before the migration, is not in the cluster's trail", i, id)
		}
	}
	// The data dir's own trail is as it was, and still verifies.
	if stdout, stderr, code := kmsCmd(t, withKey, "audit", "verify", "--data-dir", dir); code != 0 {
		t.Fatalf("audit verify of the data dir: exit %d\n%s%s", code, stdout, stderr)
	}
}

// TestMigratePassphrase: a data dir sealed with a passphrase migrates with
// it, and a node given the passphrase serves the data dir's ciphertexts;
// the passphrase is never printed.
func TestMigratePassphrase(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	const passphrase = "correct horse battery staple"
	withPassphrase := []string{"KMS_SEAL_PASSPHRASE=" + passphrase}
	p := startKMS(t, dir, append(withPassphrase, pinned...)...)
	e, err := p.client().Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(newSymmetricKey(t, p.client())), Plaintext: []byte("sealed by a passphrase")})
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.wait(); err != nil {
		t.Fatalf("server exit: %v\n%s", err, p.stderr)
	}
	dsn := pgtest.DSN(t)
	if out, stderr, code := kmsCmd(t, []string{"KMS_SEAL_PASSPHRASE=wrong"}, "migrate", "--from", dir, "--to", dsn); code != 1 ||
		!strings.Contains(stderr, "wrong passphrase") || targetState(t, dsn) != emptyTarget {
		t.Fatalf("migrate with a wrong passphrase: exit %d\n%s%s", code, out, stderr)
	}
	out, stderr, code := kmsCmd(t, withPassphrase, "migrate", "--from", dir, "--to", dsn)
	if code != 0 || !strings.Contains(out, "the passphrase in KMS_SEAL_PASSPHRASE") || strings.Contains(out+stderr, passphrase) {
		t.Fatalf("migrate: exit %d\n%s%s", code, out, stderr)
	}
	node, _ := startNode(t, dsn, "", withPassphrase...)
	d, err := node.client().Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: e.CiphertextBlob})
	if err != nil || string(d.Plaintext) != "sealed by a passphrase" {
		t.Fatalf("Decrypt on the node: %v", err)
	}
}

// newSymmetricKey creates a symmetric key and returns its id.
func newSymmetricKey(t *testing.T, c *awskms.Client) string {
	t.Helper()
	k, err := c.CreateKey(context.Background(), &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	return *k.KeyMetadata.KeyId
}
