package server_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/openkms/kms/internal/identity"
	"github.com/openkms/kms/internal/server"
)

// LocalStack drop-in: what CI setups written for LocalStack need of the
// server. Its default account and credentials:
const (
	localStackAccount = "000000000000"
	localStackKeyID   = "test"
	localStackSecret  = "test"
)

// TestLocalStackPinnedCredentials: pinned root credentials may be any pair
// an SDK signs with, and the account LocalStack's; a wrong secret is still
// refused.
func TestLocalStackPinnedCredentials(t *testing.T) {
	for _, tc := range []struct{ name, id, secret string }{
		{"localstack", localStackKeyID, localStackSecret},
		{"punctuation", "ci-key.1_x", "s3cr3t+/=!#"},
		{"aws example", "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, server.Config{AccountID: localStackAccount, RootAccessKeyID: tc.id, RootSecretAccessKey: tc.secret})
			c := newClient(ts.URL, testRegion, tc.id, tc.secret)
			k := must[*awskms.CreateKeyOutput](t)(c.CreateKey(ctx, &awskms.CreateKeyInput{})).KeyMetadata
			if *k.AWSAccountId != localStackAccount || !strings.Contains(*k.Arn, ":"+localStackAccount+":key/") {
				t.Fatalf("key of account %s, ARN %s; want account %s", *k.AWSAccountId, *k.Arn, localStackAccount)
			}
			blob := must[*awskms.EncryptOutput](t)(c.Encrypt(ctx, &awskms.EncryptInput{KeyId: k.Arn, Plaintext: []byte("hi")})).CiphertextBlob
			if p := must[*awskms.DecryptOutput](t)(c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob})).Plaintext; string(p) != "hi" {
				t.Fatalf("decrypted %q", p)
			}
			_, err := newClient(ts.URL, testRegion, tc.id, tc.secret+"x").ListKeys(ctx, &awskms.ListKeysInput{})
			wantCode(t, err, "InvalidSignatureException")
		})
	}
}

// TestPinnedCredentialsRefused: pinned credentials no SDK could sign with
// are refused before anything is written, and the error never shows the
// secret.
func TestPinnedCredentialsRefused(t *testing.T) {
	for _, tc := range []struct{ name, id, secret string }{
		{"id without secret", "test", ""},
		{"secret without id", "", "test"},
		{"space in id", "te st", "test"},
		{"slash in id", "te/st", "test"},
		{"comma in id", "te,st", "test"},
		{"session prefix", "ASIATEST", "test"},
		{"control character in id", "te\x01st", "test"},
		{"newline in secret", "test", "se\ncret-value"},
		{"space in secret", "test", "se cret-value"},
		{"non-ASCII secret", "test", "sécret-value"},
		{"long id", strings.Repeat("a", 129), "test"},
		{"long secret", "test", strings.Repeat("s", 129)},
		{"comment-like id", "#test", "test"},
		{"comment-like secret", "test", ";secret-value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := server.Open(server.Config{DataDir: dir, AccountID: localStackAccount, RootAccessKeyID: tc.id, RootSecretAccessKey: tc.secret,
				Logger: slog.New(slog.DiscardHandler)})
			if err == nil {
				t.Fatal("Open accepted the credentials")
			}
			if tc.secret != "" && strings.Contains(err.Error(), tc.secret) {
				t.Fatalf("the error shows the secret: %v", err)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Fatalf("Open wrote %d entries to the data dir before refusing: %v", len(ents), err)
			}
		})
	}
}

// TestPinnedCredentialsLaterStart: pinning takes effect on the first start
// only; a later start with the same pair (CI restarting with its env) or
// none serves, one with another pair is refused with a clear error.
func TestPinnedCredentialsLaterStart(t *testing.T) {
	dir := t.TempDir()
	start := func(id, secret string) error {
		srv, err := server.Open(server.Config{DataDir: dir, AccountID: localStackAccount, RootAccessKeyID: id, RootSecretAccessKey: secret,
			Logger: slog.New(slog.DiscardHandler)})
		if err == nil {
			srv.Close()
		}
		return err
	}
	if err := start(localStackKeyID, localStackSecret); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, id, secret string
		ok               bool
	}{
		{"same pair", localStackKeyID, localStackSecret, true},
		{"none", "", "", true},
		{"other secret", localStackKeyID, "Wr0ngSecretValue", false},
		{"other id", "other", localStackSecret, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := start(tc.id, tc.secret)
			if tc.ok != (err == nil) {
				t.Fatalf("err = %v, want ok %v", err, tc.ok)
			}
			if err != nil && (!strings.Contains(err.Error(), "first start") || strings.Contains(err.Error(), "Wr0ngSecretValue")) {
				t.Fatalf("unclear error: %v", err)
			}
		})
	}
}

func customTags(id string, material []byte, more ...types.Tag) []types.Tag {
	var tags []types.Tag
	if id != "" {
		tags = append(tags, types.Tag{TagKey: aws.String("_custom_id_"), TagValue: aws.String(id)})
	}
	if material != nil {
		tags = append(tags, types.Tag{TagKey: aws.String("_custom_key_material_"), TagValue: aws.String(base64.StdEncoding.EncodeToString(material))})
	}
	return append(tags, more...)
}

// TestCustomKeyTagsRefused: without --allow-custom-key-ids LocalStack's
// tags are refused, naming the flag, and nothing is made; TagResource
// refuses them always.
func TestCustomKeyTagsRefused(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	for _, tags := range [][]types.Tag{
		customTags("0b3c2a51-7c1d-4c55-9a4e-0f6a4f1e2d3c", nil),
		customTags("", newMaterial(t)),
	} {
		_, err := c.CreateKey(ctx, &awskms.CreateKeyInput{Tags: tags})
		wantMessage(t, err, "ValidationException", "--allow-custom-key-ids")
	}
	if ks := must[*awskms.ListKeysOutput](t)(c.ListKeys(ctx, &awskms.ListKeysInput{})).Keys; len(ks) != 0 {
		t.Fatalf("refused requests made %d keys", len(ks))
	}
	k := must[*awskms.CreateKeyOutput](t)(c.CreateKey(ctx, &awskms.CreateKeyInput{})).KeyMetadata
	for _, tags := range [][]types.Tag{customTags("0b3c2a51-7c1d-4c55-9a4e-0f6a4f1e2d3c", nil), customTags("", newMaterial(t))} {
		_, err := c.TagResource(ctx, &awskms.TagResourceInput{KeyId: k.KeyId, Tags: tags})
		wantMessage(t, err, "ValidationException", "CreateKey only")
	}
}

func hmacSHA256(key, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return m.Sum(nil)
}

// ecMaterial returns a P-256 key in PKCS #8 and in SEC 1, the other DER
// encoding LocalStack reads for elliptic curve keys.
func ecMaterial(t *testing.T) (pkcs8, sec1 []byte, key *ecdsa.PrivateKey) {
	t.Helper()
	key = must[*ecdsa.PrivateKey](t)(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	return must[[]byte](t)(x509.MarshalPKCS8PrivateKey(key)), must[[]byte](t)(x509.MarshalECPrivateKey(key)), key
}

// TestCustomKeyTags: with --allow-custom-key-ids, _custom_id_ sets the key
// id and _custom_key_material_ the material; neither is stored as a tag, and
// the material reaches no file in plain and no log.
func TestCustomKeyTags(t *testing.T) {
	dir := t.TempDir()
	var logs syncBuf
	ts := startServer(t, server.Config{DataDir: dir, AllowCustomKeyIDs: true,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	c := ts.client(testRegion)
	sym, hmacKey := newMaterial(t), newMaterial(t)
	ecPKCS8, ecSEC1, _ := ecMaterial(t)
	rsaKey := must[*rsa.PrivateKey](t)(rsa.GenerateKey(rand.Reader, 2048))
	rsaPKCS1 := x509.MarshalPKCS1PrivateKey(rsaKey)
	other := types.Tag{TagKey: aws.String("team"), TagValue: aws.String("ci")}

	ok := []struct {
		name, id string
		in       awskms.CreateKeyInput
		material []byte
	}{
		{"id", "1f6c2d7a-0c1e-4b5a-8d3e-2a9b7c6d5e4f", awskms.CreateKeyInput{}, nil},
		{"id and material", "00000000-1111-2222-3333-000000000000", awskms.CreateKeyInput{}, sym},
		{"material", "", awskms.CreateKeyInput{}, newMaterial(t)},
		{"multi-Region id", "mrk-0123456789abcdef0123456789abcdef", awskms.CreateKeyInput{MultiRegion: aws.Bool(true)}, nil},
		{"HMAC", "", awskms.CreateKeyInput{KeySpec: types.KeySpecHmac256, KeyUsage: types.KeyUsageTypeGenerateVerifyMac}, hmacKey},
		{"EC PKCS #8", "", awskms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify}, ecPKCS8},
		{"EC SEC 1", "", awskms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify}, ecSEC1},
		{"RSA PKCS #1", "", awskms.CreateKeyInput{KeySpec: types.KeySpecRsa2048, KeyUsage: types.KeyUsageTypeEncryptDecrypt}, rsaPKCS1},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.Tags = customTags(tc.id, tc.material, other)
			k := must[*awskms.CreateKeyOutput](t)(c.CreateKey(ctx, &in)).KeyMetadata
			if tc.id != "" && *k.KeyId != tc.id {
				t.Fatalf("key id %s, want %s", *k.KeyId, tc.id)
			}
			tags := must[*awskms.ListResourceTagsOutput](t)(c.ListResourceTags(ctx, &awskms.ListResourceTagsInput{KeyId: k.KeyId})).Tags
			if len(tags) != 1 || *tags[0].TagKey != "team" {
				t.Fatalf("tags %+v, want only team", tags)
			}
			switch in.KeySpec {
			case "":
				blob := encryptWith(t, c, *k.KeyId, "x")
				must[*awskms.DecryptOutput](t)(decryptWith(c, blob))
			case types.KeySpecHmac256:
				mac := must[*awskms.GenerateMacOutput](t)(c.GenerateMac(ctx, &awskms.GenerateMacInput{KeyId: k.KeyId,
					MacAlgorithm: types.MacAlgorithmSpecHmacSha256, Message: []byte("m")})).Mac
				if want := hmacSHA256(tc.material, []byte("m")); !bytes.Equal(mac, want) {
					t.Fatal("the MAC is not made with the custom material")
				}
			default:
				pub := must[*awskms.GetPublicKeyOutput](t)(c.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: k.KeyId})).PublicKey
				var want []byte
				if in.KeySpec == types.KeySpecRsa2048 {
					want = must[[]byte](t)(x509.MarshalPKIXPublicKey(&rsaKey.PublicKey))
				} else {
					p := must[any](t)(x509.ParsePKCS8PrivateKey(ecPKCS8)).(*ecdsa.PrivateKey)
					want = must[[]byte](t)(x509.MarshalPKIXPublicKey(&p.PublicKey))
				}
				if !bytes.Equal(pub, want) {
					t.Fatal("the public key is not the custom material's")
				}
			}
		})
	}

	bad := []struct {
		name, code, msg string
		in              awskms.CreateKeyInput
	}{
		{"id taken", "AlreadyExistsException", "already exists", awskms.CreateKeyInput{Tags: customTags(ok[0].id, nil)}},
		{"multi-Region id taken", "AlreadyExistsException", "already exists",
			awskms.CreateKeyInput{MultiRegion: aws.Bool(true), Tags: customTags(ok[3].id, nil)}},
		{"uppercase id", "ValidationException", "lowercase UUID", awskms.CreateKeyInput{Tags: customTags("1F6C2D7A-0C1E-4B5A-8D3E-2A9B7C6D5E40", nil)}},
		{"not an id", "ValidationException", "lowercase UUID", awskms.CreateKeyInput{Tags: customTags("my-key", nil)}},
		{"mrk id without MultiRegion", "ValidationException", "multi-Region", awskms.CreateKeyInput{Tags: customTags("mrk-00000000000000000000000000000001", nil)}},
		{"UUID with MultiRegion", "ValidationException", "multi-Region",
			awskms.CreateKeyInput{MultiRegion: aws.Bool(true), Tags: customTags("2f6c2d7a-0c1e-4b5a-8d3e-2a9b7c6d5e4f", nil)}},
		{"not base64", "ValidationException", "base64", awskms.CreateKeyInput{Tags: []types.Tag{
			{TagKey: aws.String("_custom_key_material_"), TagValue: aws.String("not base64!")}}}},
		{"short symmetric material", "ValidationException", "32 random bytes", awskms.CreateKeyInput{Tags: customTags("", sym[:16])}},
		{"EC material for RSA", "ValidationException", "private key", awskms.CreateKeyInput{KeySpec: types.KeySpecRsa2048,
			KeyUsage: types.KeyUsageTypeSignVerify, Tags: customTags("", ecPKCS8)}},
		{"material with Origin EXTERNAL", "ValidationException", "EXTERNAL",
			awskms.CreateKeyInput{Origin: types.OriginTypeExternal, Tags: customTags("", sym)}},
		{"material too long", "ValidationException", "tagValue", awskms.CreateKeyInput{Tags: customTags("", make([]byte, 8192))}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			before := len(must[*awskms.ListKeysOutput](t)(c.ListKeys(ctx, &awskms.ListKeysInput{})).Keys)
			_, err := c.CreateKey(ctx, &tc.in)
			wantMessage(t, err, tc.code, tc.msg)
			if after := len(must[*awskms.ListKeysOutput](t)(c.ListKeys(ctx, &awskms.ListKeysInput{})).Keys); after != before {
				t.Fatalf("a refused CreateKey made a key: %d keys, were %d", after, before)
			}
		})
	}
	checkNotInPlain(t, ts, dir, &logs, sym, hmacKey, ecPKCS8, ecSEC1, rsaPKCS1)
}

// TestCustomKeyMaterialTwoServers: the same custom id and material on two
// servers with their own root keys make the same key: either decrypts the
// other's ciphertexts, as a LocalStack setup expects after a restart.
func TestCustomKeyMaterialTwoServers(t *testing.T) {
	material := newMaterial(t)
	const id = "0b3c2a51-7c1d-4c55-9a4e-0f6a4f1e2d3c"
	var ids []string
	var clients []*awskms.Client
	for range 2 {
		ts := startServer(t, server.Config{AllowCustomKeyIDs: true, AccountID: localStackAccount,
			RootAccessKeyID: localStackKeyID, RootSecretAccessKey: localStackSecret})
		c := newClient(ts.URL, testRegion, localStackKeyID, localStackSecret)
		k := must[*awskms.CreateKeyOutput](t)(c.CreateKey(ctx, &awskms.CreateKeyInput{Tags: customTags(id, material)})).KeyMetadata
		ids = append(ids, aws.ToString(k.CurrentKeyMaterialId))
		clients = append(clients, c)
	}
	if ids[0] == "" || ids[0] != ids[1] {
		t.Fatalf("material ids %q and %q, want one", ids[0], ids[1])
	}
	for i, c := range clients {
		blob := encryptWith(t, c, id, "made on one server")
		out := must[*awskms.DecryptOutput](t)(decryptWith(clients[1-i], blob))
		if string(out.Plaintext) != "made on one server" || !strings.HasSuffix(*out.KeyId, ":key/"+id) {
			t.Fatalf("server %d's ciphertext decrypted by the other: %q under %s", i, out.Plaintext, *out.KeyId)
		}
	}
}

// TestPinnedRootKeyIAM: IAM calls reach a root key pinned in a shape AWS
// would not make (test); for other such ids, and for other accounts'
// callers, the model's ValidationError stands.
func TestPinnedRootKeyIAM(t *testing.T) {
	ts := startServer(t, server.Config{AccountID: localStackAccount, RootAccessKeyID: localStackKeyID, RootSecretAccessKey: localStackSecret})
	root := newIAMClient(ts.URL, aws.Credentials{AccessKeyID: localStackKeyID, SecretAccessKey: localStackSecret})
	keys := must[*iam.ListAccessKeysOutput](t)(root.ListAccessKeys(ctx, &iam.ListAccessKeysInput{})).AccessKeyMetadata
	if len(keys) != 1 || *keys[0].AccessKeyId != localStackKeyID {
		t.Fatalf("root keys %+v", keys)
	}
	_, err := root.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{AccessKeyId: aws.String("nope"), Status: iamtypes.StatusTypeInactive})
	wantCode(t, err, "ValidationError")
	other := must[identity.RootCredentials](t)(ts.CreateAccount("444455556666"))
	_, err = newIAMClient(ts.URL, aws.Credentials{AccessKeyID: other.AccessKeyID, SecretAccessKey: other.SecretAccessKey}).
		DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{AccessKeyId: aws.String(localStackKeyID)})
	wantCode(t, err, "ValidationError")
	must[*iam.UpdateAccessKeyOutput](t)(root.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{AccessKeyId: aws.String(localStackKeyID), Status: iamtypes.StatusTypeInactive}))
	_, err = newClient(ts.URL, testRegion, localStackKeyID, localStackSecret).ListKeys(ctx, &awskms.ListKeysInput{})
	wantCode(t, err, "UnrecognizedClientException")
}

// TestLocalStackOnPostgres runs the custom key tests again on cluster
// nodes (as TestOnPostgres does for the rest): the id claim reads the
// PostgreSQL store.
func TestLocalStackOnPostgres(t *testing.T) {
	onPostgres = true
	defer func() { onPostgres = false }()
	for _, tc := range []struct {
		name string
		test func(*testing.T)
	}{
		{"CustomKeyTags", TestCustomKeyTags},
		{"CustomKeyTagsRefused", TestCustomKeyTagsRefused},
		{"CustomKeyMaterialTwoServers", TestCustomKeyMaterialTwoServers},
		{"LocalStackPinnedCredentials", TestLocalStackPinnedCredentials},
	} {
		t.Run(tc.name, tc.test)
	}
}
