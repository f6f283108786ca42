package server_test

import (
	"crypto/ecdh"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/openkms/kms/internal/audit"
	"github.com/openkms/kms/internal/server"
)

// The audit trail, end to end: requests made with aws-sdk-go-v2 against the
// real server, and the records they left in its audit log (spec §12).

// ctRecord is a CloudTrail record as the tests read it back.
type ctRecord struct {
	EventVersion        string         `json:"eventVersion"`
	UserIdentity        ctIdentity     `json:"userIdentity"`
	EventTime           string         `json:"eventTime"`
	EventSource         string         `json:"eventSource"`
	EventName           string         `json:"eventName"`
	AWSRegion           string         `json:"awsRegion"`
	SourceIPAddress     string         `json:"sourceIPAddress"`
	UserAgent           string         `json:"userAgent"`
	ErrorCode           string         `json:"errorCode"`
	ErrorMessage        string         `json:"errorMessage"`
	RequestParameters   map[string]any `json:"requestParameters"`
	ResponseElements    map[string]any `json:"responseElements"`
	RequestID           string         `json:"requestID"`
	EventID             string         `json:"eventID"`
	ReadOnly            bool           `json:"readOnly"`
	Resources           []ctResource   `json:"resources"`
	EventType           string         `json:"eventType"`
	ManagementEvent     bool           `json:"managementEvent"`
	RecipientAccountID  string         `json:"recipientAccountId"`
	ServiceEventDetails map[string]any `json:"serviceEventDetails"`
	EventCategory       string         `json:"eventCategory"`
	raw                 []byte
}

type ctIdentity struct {
	Type           string `json:"type"`
	PrincipalID    string `json:"principalId"`
	ARN            string `json:"arn"`
	AccountID      string `json:"accountId"`
	AccessKeyID    string `json:"accessKeyId"`
	UserName       string `json:"userName"`
	InvokedBy      string `json:"invokedBy"`
	SessionContext *struct {
		SessionIssuer ctIssuer `json:"sessionIssuer"`
		Attributes    struct {
			CreationDate     string `json:"creationDate"`
			MFAAuthenticated string `json:"mfaAuthenticated"`
		} `json:"attributes"`
	} `json:"sessionContext"`
}

type ctIssuer struct {
	Type        string `json:"type"`
	PrincipalID string `json:"principalId"`
	ARN         string `json:"arn"`
	AccountID   string `json:"accountId"`
	UserName    string `json:"userName"`
}

type ctResource struct {
	AccountID string `json:"accountId"`
	Type      string `json:"type"`
	ARN       string `json:"ARN"`
}

// trail reads every record of the server's audit log, in log order.
func trail(t *testing.T, ts *testServer) []*ctRecord {
	t.Helper()
	var recs []*ctRecord
	err := ts.Audit.Since(ctx, time.Time{}, func(e audit.Event) error {
		r := &ctRecord{raw: e.Raw}
		if err := json.Unmarshal(e.Raw, r); err != nil {
			return fmt.Errorf("record %s %d: %w", e.Region, e.Seq, err)
		}
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// byRequestID indexes records by requestID, which must be unique.
func byRequestID(t *testing.T, recs []*ctRecord) map[string]*ctRecord {
	t.Helper()
	m := map[string]*ctRecord{}
	for _, r := range recs {
		if r.RequestID == "" {
			continue
		}
		if m[r.RequestID] != nil {
			t.Fatalf("two records of request %s: %s and %s", r.RequestID, m[r.RequestID].raw, r.raw)
		}
		m[r.RequestID] = r
	}
	return m
}

// okID is the request id the SDK got with a successful response.
func okID(t *testing.T, md middleware.Metadata) string {
	t.Helper()
	id, ok := awsmiddleware.GetRequestIDMetadata(md)
	if !ok || id == "" {
		t.Fatal("no x-amzn-RequestId in the response")
	}
	return id
}

// errID checks that err is an API error with code and returns the request
// id the SDK got with it, and the message.
func errID(t *testing.T, err error, code string) (id, msg string) {
	t.Helper()
	wantCode(t, err, code)
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.ServiceRequestID() == "" {
		t.Fatalf("no request id with %v", err)
	}
	var ae smithy.APIError
	errors.As(err, &ae)
	return re.ServiceRequestID(), ae.ErrorMessage()
}

// expectation is what one request's record must hold.
type expectation struct {
	requestID string
	source    string // eventSource; kms.amazonaws.com when ""
	name      string
	identity  ctIdentity // compared whole, sessionContext aside
	issuer    *ctIssuer  // sessionContext.sessionIssuer, for assumed roles
	readOnly  bool
	resources []string // key ARNs, in any order
	errCode   string
	errMsg    string
	// unauthenticated: a request that failed SigV4; it is filed with the
	// account of the access key id it claimed (recipientAccountId and
	// userIdentity.accountId), or with none for an unknown key id.
	unauthenticated bool
	params          map[string]any // members requestParameters must have, as JSON decodes them
	noParams        []string       // members requestParameters must not have
	check           func(t *testing.T, r *ctRecord)
}

func (e *expectation) verify(t *testing.T, r *ctRecord, start time.Time) {
	t.Helper()
	source := e.source
	if source == "" {
		source = "kms.amazonaws.com"
	}
	recipient := testAccount
	if e.unauthenticated && e.identity.AccountID == "" {
		recipient = ""
	}
	if r.EventVersion != "1.08" || r.EventSource != source || r.EventName != e.name || r.AWSRegion != testRegion ||
		r.SourceIPAddress != "127.0.0.1" || !strings.Contains(r.UserAgent, "aws-sdk-go-v2") || len(r.EventID) != 36 ||
		r.EventType != "AwsApiCall" || !r.ManagementEvent || r.EventCategory != "Management" || r.RecipientAccountID != recipient {
		t.Errorf("%s: common fields: %s", e.name, r.raw)
	}
	if et, err := time.Parse("2006-01-02T15:04:05Z", r.EventTime); err != nil || et.Before(start.Truncate(time.Second)) || et.After(time.Now()) {
		t.Errorf("%s: eventTime %q (%v), want between %v and now", e.name, r.EventTime, err, start)
	}
	id := r.UserIdentity
	id.SessionContext = nil
	if id != e.identity {
		t.Errorf("%s: userIdentity\n got %+v\nwant %+v", e.name, id, e.identity)
	}
	switch {
	case e.issuer == nil && r.UserIdentity.SessionContext != nil:
		t.Errorf("%s: sessionContext in %s", e.name, r.raw)
	case e.issuer != nil && (r.UserIdentity.SessionContext == nil || r.UserIdentity.SessionContext.SessionIssuer != *e.issuer):
		t.Errorf("%s: sessionContext.sessionIssuer, want %+v: %s", e.name, *e.issuer, r.raw)
	case e.issuer != nil:
		a := r.UserIdentity.SessionContext.Attributes
		if created, err := time.Parse("2006-01-02T15:04:05Z", a.CreationDate); err != nil || created.After(time.Now()) || a.MFAAuthenticated != "false" {
			t.Errorf("%s: sessionContext.attributes %+v: %s", e.name, a, r.raw)
		}
	}
	if r.ReadOnly != e.readOnly {
		t.Errorf("%s: readOnly %v, want %v", e.name, r.ReadOnly, e.readOnly)
	}
	var arns []string
	for _, res := range r.Resources {
		if res.Type != "AWS::KMS::Key" || res.AccountID != testAccount {
			t.Errorf("%s: resource %+v", e.name, res)
		}
		arns = append(arns, res.ARN)
	}
	slices.Sort(arns)
	if want := slices.Sorted(slices.Values(e.resources)); !slices.Equal(arns, want) {
		t.Errorf("%s: resources %v, want %v", e.name, arns, want)
	}
	if r.ErrorCode != e.errCode || r.ErrorMessage != e.errMsg {
		t.Errorf("%s: errorCode %q errorMessage %q, want %q %q", e.name, r.ErrorCode, r.ErrorMessage, e.errCode, e.errMsg)
	}
	for k, v := range e.params {
		if got, ok := r.RequestParameters[k]; !ok || fmt.Sprint(got) != fmt.Sprint(v) {
			t.Errorf("%s: requestParameters.%s = %v, want %v (%s)", e.name, k, got, v, r.raw)
		}
	}
	for _, k := range e.noParams {
		if _, ok := r.RequestParameters[k]; ok {
			t.Errorf("%s: requestParameters has %s: %s", e.name, k, r.raw)
		}
	}
	if e.check != nil {
		e.check(t, r)
	}
}

// TestAuditRecords makes a representative set of KMS, IAM and STS requests,
// as root, an IAM user and an assumed role, successful and failed, and
// checks each one's record; then that no record holds any of the secrets
// the requests carried.
func TestAuditRecords(t *testing.T) {
	start := time.Now()
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	var exps []*expectation
	var secrets [][]byte
	secret := func(bs ...[]byte) {
		for _, b := range bs {
			if len(b) < 8 {
				t.Fatalf("secret %x too short for the scan", b)
			}
			secrets = append(secrets, b)
		}
	}
	expect := func(e *expectation) { exps = append(exps, e) }
	rootID := ctIdentity{Type: "Root", PrincipalID: testAccount, ARN: "arn:aws:iam::" + testAccount + ":root",
		AccountID: testAccount, AccessKeyID: testAccessKeyID}
	secret([]byte(testSecret))

	// CreateKey: keyMetadata in responseElements.
	ck, err := c.CreateKey(ctx, &awskms.CreateKeyInput{Description: aws.String("audited key"),
		Tags: []types.Tag{{TagKey: aws.String("team"), TagValue: aws.String("security")}}})
	if err != nil {
		t.Fatal(err)
	}
	sym := ck.KeyMetadata
	expect(&expectation{requestID: okID(t, ck.ResultMetadata), name: "CreateKey", identity: rootID, resources: []string{*sym.Arn},
		params: map[string]any{"description": "audited key", "tags": []any{map[string]any{"tagKey": "team", "tagValue": "security"}}},
		check: func(t *testing.T, r *ctRecord) {
			md, _ := r.ResponseElements["keyMetadata"].(map[string]any)
			if md["keyId"] != *sym.KeyId || md["arn"] != *sym.Arn || md["keyState"] != "Enabled" || md["description"] != "audited key" {
				t.Errorf("CreateKey responseElements %v", r.ResponseElements)
			}
		}})
	sym2 := createKey(t, c, types.KeySpecSymmetricDefault, types.KeyUsageTypeEncryptDecrypt)

	// Encrypt, Decrypt, ReEncrypt.
	ec := map[string]string{"Department": "Engineering"}
	plain := []byte("attack at dawn, bring the plans")
	enc := must[*awskms.EncryptOutput](t)(c.Encrypt(ctx, &awskms.EncryptInput{KeyId: sym.KeyId, Plaintext: plain, EncryptionContext: ec}))
	secret(plain, enc.CiphertextBlob)
	noResponse := func(t *testing.T, r *ctRecord) {
		if r.ResponseElements != nil {
			t.Errorf("%s: responseElements %v, want null", r.EventName, r.ResponseElements)
		}
	}
	expect(&expectation{requestID: okID(t, enc.ResultMetadata), name: "Encrypt", identity: rootID, readOnly: true, resources: []string{*sym.Arn},
		params:   map[string]any{"keyId": *sym.KeyId, "encryptionContext": map[string]any{"Department": "Engineering"}, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
		noParams: []string{"plaintext"}, check: noResponse})
	dec := must[*awskms.DecryptOutput](t)(c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec}))
	expect(&expectation{requestID: okID(t, dec.ResultMetadata), name: "Decrypt", identity: rootID, readOnly: true, resources: []string{*sym.Arn},
		params:   map[string]any{"encryptionAlgorithm": "SYMMETRIC_DEFAULT", "encryptionContext": map[string]any{"Department": "Engineering"}},
		noParams: []string{"keyId", "ciphertextBlob"}, check: noResponse})
	re := must[*awskms.ReEncryptOutput](t)(c.ReEncrypt(ctx, &awskms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: ec,
		DestinationKeyId: sym2.Arn}))
	secret(re.CiphertextBlob)
	expect(&expectation{requestID: okID(t, re.ResultMetadata), name: "ReEncrypt", identity: rootID, readOnly: true, resources: []string{*sym.Arn, *sym2.Arn},
		params: map[string]any{"destinationKeyId": *sym2.Arn, "sourceEncryptionAlgorithm": "SYMMETRIC_DEFAULT", "destinationEncryptionAlgorithm": "SYMMETRIC_DEFAULT"},
		check:  noResponse})

	// Data keys and data key pairs.
	dk := must[*awskms.GenerateDataKeyOutput](t)(c.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: sym.Arn, KeySpec: types.DataKeySpecAes256}))
	secret(dk.Plaintext, dk.CiphertextBlob)
	expect(&expectation{requestID: okID(t, dk.ResultMetadata), name: "GenerateDataKey", identity: rootID, readOnly: true, resources: []string{*sym.Arn},
		params: map[string]any{"keyId": *sym.Arn, "keySpec": "AES_256"}, check: noResponse})
	dkp := must[*awskms.GenerateDataKeyPairOutput](t)(c.GenerateDataKeyPair(ctx, &awskms.GenerateDataKeyPairInput{KeyId: sym.KeyId,
		KeyPairSpec: types.DataKeyPairSpecEccNistP256}))
	secret(dkp.PrivateKeyPlaintext, dkp.PrivateKeyCiphertextBlob)
	expect(&expectation{requestID: okID(t, dkp.ResultMetadata), name: "GenerateDataKeyPair", identity: rootID, readOnly: true, resources: []string{*sym.Arn},
		params: map[string]any{"keyId": *sym.KeyId, "keyPairSpec": "ECC_NIST_P256"}, check: noResponse})

	// Signing, with a good and a bad signature.
	signer := createKey(t, c, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	msg := []byte("the message to be signed")
	sig := must[*awskms.SignOutput](t)(c.Sign(ctx, &awskms.SignInput{KeyId: signer.KeyId, Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256}))
	secret(msg, sig.Signature)
	signParams := map[string]any{"keyId": *signer.KeyId, "signingAlgorithm": "ECDSA_SHA_256", "messageType": "RAW"}
	expect(&expectation{requestID: okID(t, sig.ResultMetadata), name: "Sign", identity: rootID, readOnly: true, resources: []string{*signer.Arn},
		params: signParams, noParams: []string{"message"}, check: noResponse})
	ver := must[*awskms.VerifyOutput](t)(c.Verify(ctx, &awskms.VerifyInput{KeyId: signer.KeyId, Message: msg, Signature: sig.Signature,
		SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256}))
	expect(&expectation{requestID: okID(t, ver.ResultMetadata), name: "Verify", identity: rootID, readOnly: true, resources: []string{*signer.Arn},
		params: signParams, noParams: []string{"message", "signature"}, check: noResponse})
	forged := must[*awskms.SignOutput](t)(c.Sign(ctx, &awskms.SignInput{KeyId: signer.KeyId, Message: []byte("another message, signed"),
		SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})).Signature
	secret(forged)
	_, err = c.Verify(ctx, &awskms.VerifyInput{KeyId: signer.KeyId, Message: msg, Signature: forged, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
	id, m := errID(t, err, "KMSInvalidSignatureException")
	expect(&expectation{requestID: id, name: "Verify", identity: rootID, readOnly: true, resources: []string{*signer.Arn},
		errCode: "KMSInvalidSignatureException", errMsg: m, params: signParams})

	// MACs.
	hmacKey := createKey(t, c, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac)
	macMsg := []byte("a message worth a MAC")
	mac := must[*awskms.GenerateMacOutput](t)(c.GenerateMac(ctx, &awskms.GenerateMacInput{KeyId: hmacKey.KeyId, Message: macMsg, MacAlgorithm: types.MacAlgorithmSpecHmacSha256}))
	secret(macMsg, mac.Mac)
	macParams := map[string]any{"keyId": *hmacKey.KeyId, "macAlgorithm": "HMAC_SHA_256"}
	expect(&expectation{requestID: okID(t, mac.ResultMetadata), name: "GenerateMac", identity: rootID, readOnly: true, resources: []string{*hmacKey.Arn},
		params: macParams, check: noResponse})
	vmac := must[*awskms.VerifyMacOutput](t)(c.VerifyMac(ctx, &awskms.VerifyMacInput{KeyId: hmacKey.KeyId, Message: macMsg, Mac: mac.Mac,
		MacAlgorithm: types.MacAlgorithmSpecHmacSha256}))
	expect(&expectation{requestID: okID(t, vmac.ResultMetadata), name: "VerifyMac", identity: rootID, readOnly: true, resources: []string{*hmacKey.Arn},
		params: macParams, check: noResponse})

	// Key agreement.
	agree := createKey(t, c, types.KeySpecEccNistP256, types.KeyUsageTypeKeyAgreement)
	peer, err := newECDHPeer(ecdh.P256())
	if err != nil {
		t.Fatal(err)
	}
	dss := must[*awskms.DeriveSharedSecretOutput](t)(c.DeriveSharedSecret(ctx, &awskms.DeriveSharedSecretInput{KeyId: agree.KeyId,
		KeyAgreementAlgorithm: types.KeyAgreementAlgorithmSpecEcdh, PublicKey: peer.spki}))
	secret(dss.SharedSecret)
	expect(&expectation{requestID: okID(t, dss.ResultMetadata), name: "DeriveSharedSecret", identity: rootID, readOnly: true, resources: []string{*agree.Arn},
		params: map[string]any{"keyId": *agree.KeyId, "keyAgreementAlgorithm": "ECDH"}, check: noResponse})

	// GenerateRandom: no resources; and a ValidationException.
	rnd := must[*awskms.GenerateRandomOutput](t)(c.GenerateRandom(ctx, &awskms.GenerateRandomInput{NumberOfBytes: aws.Int32(32)}))
	secret(rnd.Plaintext)
	expect(&expectation{requestID: okID(t, rnd.ResultMetadata), name: "GenerateRandom", identity: rootID, readOnly: true,
		params: map[string]any{"numberOfBytes": 32}, check: noResponse})
	_, err = c.GenerateRandom(ctx, &awskms.GenerateRandomInput{NumberOfBytes: aws.Int32(2000)})
	id, m = errID(t, err, "ValidationException")
	expect(&expectation{requestID: id, name: "GenerateRandom", identity: rootID, readOnly: true, errCode: "ValidationException", errMsg: m})

	// Import: neither the token, the wrapping public key nor the material.
	ext := createExternalKey(t, c)
	params := getParams(t, c, *ext.KeyId, types.AlgorithmSpecRsaesOaepSha256, types.WrappingKeySpecRsa2048)
	secret(params.ImportToken, params.PublicKey)
	expect(&expectation{requestID: okID(t, params.ResultMetadata), name: "GetParametersForImport", identity: rootID, resources: []string{*ext.Arn},
		params: map[string]any{"keyId": *ext.KeyId, "wrappingAlgorithm": "RSAES_OAEP_SHA_256", "wrappingKeySpec": "RSA_2048"}, check: noResponse})
	material := newMaterial(t)
	in := importInput(t, *ext.KeyId, params, types.AlgorithmSpecRsaesOaepSha256, material, nil)
	secret(material, in.EncryptedKeyMaterial)
	imp := must[*awskms.ImportKeyMaterialOutput](t)(c.ImportKeyMaterial(ctx, in))
	expect(&expectation{requestID: okID(t, imp.ResultMetadata), name: "ImportKeyMaterial", identity: rootID, resources: []string{*ext.Arn},
		params:   map[string]any{"keyId": *ext.KeyId, "expirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"},
		noParams: []string{"importToken", "encryptedKeyMaterial"}})

	// CreateGrant: the grant id, never the grant token.
	grantee := "arn:aws:iam::" + testAccount + ":user/worker"
	g := must[*awskms.CreateGrantOutput](t)(c.CreateGrant(ctx, &awskms.CreateGrantInput{KeyId: sym.KeyId, GranteePrincipal: aws.String(grantee),
		Operations: []types.GrantOperation{types.GrantOperationDecrypt}, Name: aws.String("audit-grant")}))
	secret([]byte(*g.GrantToken))
	expect(&expectation{requestID: okID(t, g.ResultMetadata), name: "CreateGrant", identity: rootID, resources: []string{*sym.Arn},
		params: map[string]any{"keyId": *sym.KeyId, "granteePrincipal": grantee, "operations": []any{"Decrypt"}, "name": "audit-grant"},
		check: func(t *testing.T, r *ctRecord) {
			if len(r.ResponseElements) != 1 || r.ResponseElements["grantId"] != *g.GrantId {
				t.Errorf("CreateGrant responseElements %v, want grantId %s only", r.ResponseElements, *g.GrantId)
			}
		}})

	// ScheduleKeyDeletion: what it scheduled.
	sd := must[*awskms.ScheduleKeyDeletionOutput](t)(c.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: sym2.KeyId, PendingWindowInDays: aws.Int32(7)}))
	expect(&expectation{requestID: okID(t, sd.ResultMetadata), name: "ScheduleKeyDeletion", identity: rootID, resources: []string{*sym2.Arn},
		params: map[string]any{"keyId": *sym2.KeyId, "pendingWindowInDays": 7},
		check: func(t *testing.T, r *ctRecord) {
			re := r.ResponseElements
			if re["keyId"] != *sym2.Arn || re["keyState"] != "PendingDeletion" || fmt.Sprint(re["pendingWindowInDays"]) != "7" ||
				re["deletionDate"] != sd.DeletionDate.UTC().Format("2006-01-02T15:04:05Z") {
				t.Errorf("ScheduleKeyDeletion responseElements %v", re)
			}
		}})

	// IAM: a user and its access key, without the secret.
	root := newIAMClient(ts.URL, rootCreds)
	cu := must[*iam.CreateUserOutput](t)(root.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("alice")}))
	expect(&expectation{requestID: okID(t, cu.ResultMetadata), source: "iam.amazonaws.com", name: "CreateUser", identity: rootID,
		params: map[string]any{"userName": "alice"}})
	cak := must[*iam.CreateAccessKeyOutput](t)(root.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")}))
	aliceCreds := aws.Credentials{AccessKeyID: *cak.AccessKey.AccessKeyId, SecretAccessKey: *cak.AccessKey.SecretAccessKey}
	secret([]byte(aliceCreds.SecretAccessKey))
	expect(&expectation{requestID: okID(t, cak.ResultMetadata), source: "iam.amazonaws.com", name: "CreateAccessKey", identity: rootID,
		params: map[string]any{"userName": "alice"}})
	putUserPolicy(t, root, "alice", "use-keys", allowDoc("kms:*", "*"))

	// An IAM user's call.
	aliceID := ctIdentity{Type: "IAMUser", PrincipalID: *cu.User.UserId, ARN: *cu.User.Arn, AccountID: testAccount,
		AccessKeyID: aliceCreds.AccessKeyID, UserName: "alice"}
	alice := kmsAs(ts.URL, aliceCreds)
	aenc := must[*awskms.EncryptOutput](t)(alice.Encrypt(ctx, &awskms.EncryptInput{KeyId: sym.Arn, Plaintext: []byte("alice's own secret text")}))
	secret([]byte("alice's own secret text"), aenc.CiphertextBlob)
	expect(&expectation{requestID: okID(t, aenc.ResultMetadata), name: "Encrypt", identity: aliceID, readOnly: true, resources: []string{*sym.Arn},
		params: map[string]any{"keyId": *sym.Arn}})

	// STS: a role session, without its secret key or token, and its call.
	role := must[*iam.CreateRoleOutput](t)(root.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("app"),
		AssumeRolePolicyDocument: aws.String(trustDoc(*cu.User.Arn))}))
	must[*iam.PutRolePolicyOutput](t)(root.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("app"), PolicyName: aws.String("use-keys"),
		PolicyDocument: aws.String(allowDoc("kms:*", "*"))}))
	ar := must[*sts.AssumeRoleOutput](t)(newSTSClient(ts.URL, testRegion, aliceCreds).AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: role.Role.Arn, RoleSessionName: aws.String("audit-session")}))
	sess := sessionCreds(ar)
	secret([]byte(sess.SecretAccessKey), []byte(sess.SessionToken))
	expect(&expectation{requestID: okID(t, ar.ResultMetadata), source: "sts.amazonaws.com", name: "AssumeRole", identity: aliceID,
		params: map[string]any{"roleArn": *role.Role.Arn, "roleSessionName": "audit-session"}})
	senc := must[*awskms.EncryptOutput](t)(kmsAs(ts.URL, sess).Encrypt(ctx, &awskms.EncryptInput{KeyId: sym.KeyId, Plaintext: []byte("the role's secret text")}))
	secret([]byte("the role's secret text"), senc.CiphertextBlob)
	expect(&expectation{requestID: okID(t, senc.ResultMetadata), name: "Encrypt", readOnly: true, resources: []string{*sym.Arn},
		identity: ctIdentity{Type: "AssumedRole", PrincipalID: *role.Role.RoleId + ":audit-session",
			ARN: "arn:aws:sts::" + testAccount + ":assumed-role/app/audit-session", AccountID: testAccount, AccessKeyID: sess.AccessKeyID},
		issuer: &ctIssuer{Type: "Role", PrincipalID: *role.Role.RoleId, ARN: *role.Role.Arn, AccountID: testAccount, UserName: "app"}})

	// Denied: a user without a policy.
	bobCreds := createUserWithKey(t, root, "bob")
	secret([]byte(bobCreds.SecretAccessKey))
	bobUser := must[*iam.GetUserOutput](t)(root.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("bob")})).User
	_, err = kmsAs(ts.URL, bobCreds).Encrypt(ctx, &awskms.EncryptInput{KeyId: sym.Arn, Plaintext: []byte("bob may not encrypt this")})
	secret([]byte("bob may not encrypt this"))
	id, m = errID(t, err, "AccessDeniedException")
	expect(&expectation{requestID: id, name: "Encrypt", readOnly: true, resources: []string{*sym.Arn},
		identity: ctIdentity{Type: "IAMUser", PrincipalID: *bobUser.UserId, ARN: *bobUser.Arn, AccountID: testAccount,
			AccessKeyID: bobCreds.AccessKeyID, UserName: "bob"},
		errCode: "AccessDeniedException", errMsg: m, params: map[string]any{"keyId": *sym.Arn}})

	// A bad SigV4 signature: who it claimed to be is recorded.
	const wrongSecret = "wrongwrongwrongwrongwrongwrongwrongwrong"
	secret([]byte(wrongSecret))
	_, err = newClient(ts.URL, testRegion, testAccessKeyID, wrongSecret).Encrypt(ctx, &awskms.EncryptInput{KeyId: sym.KeyId,
		Plaintext: []byte("signed with the wrong key")})
	secret([]byte("signed with the wrong key"))
	id, m = errID(t, err, "InvalidSignatureException")
	expect(&expectation{requestID: id, name: "Encrypt", readOnly: true, identity: ctIdentity{Type: "Unknown", AccessKeyID: testAccessKeyID, AccountID: testAccount},
		errCode: "InvalidSignatureException", errMsg: m, unauthenticated: true})

	// An access key id nobody has: filed with no account.
	_, err = newClient(ts.URL, testRegion, "AKIANOSUCHKEY0000000", wrongSecret).Encrypt(ctx, &awskms.EncryptInput{KeyId: sym.KeyId,
		Plaintext: []byte("signed with the wrong key")})
	id, m = errID(t, err, "UnrecognizedClientException")
	expect(&expectation{requestID: id, name: "Encrypt", readOnly: true, identity: ctIdentity{Type: "Unknown", AccessKeyID: "AKIANOSUCHKEY0000000"},
		errCode: "UnrecognizedClientException", errMsg: m, unauthenticated: true})

	recs := trail(t, ts)
	index := byRequestID(t, recs)
	for _, e := range exps {
		r := index[e.requestID]
		if r == nil {
			t.Errorf("no record of %s request %s (error %q)", e.name, e.requestID, e.errCode)
			continue
		}
		e.verify(t, r, start)
	}
	eventIDs := map[string]bool{}
	for _, r := range recs {
		if eventIDs[r.EventID] {
			t.Errorf("eventID %s twice", r.EventID)
		}
		eventIDs[r.EventID] = true
		if err := audit.CheckNoSecrets(r.raw, secrets...); err != nil {
			t.Errorf("%s record %s: %v\n%s", r.EventName, r.RequestID, err, r.raw)
		}
	}
}

// TestAuditServiceEvents: rotations and deletions the server does by itself
// are recorded as AwsServiceEvent records.
func TestAuditServiceEvents(t *testing.T) {
	clock := &testClock{}
	ts := startServer(t, server.Config{Now: clock.now, SweepInterval: 20 * time.Millisecond})
	c := ts.client(testRegion)
	rotating := createKey(t, c, types.KeySpecSymmetricDefault, types.KeyUsageTypeEncryptDecrypt)
	must[*awskms.EnableKeyRotationOutput](t)(c.EnableKeyRotation(ctx, &awskms.EnableKeyRotationInput{KeyId: rotating.KeyId, RotationPeriodInDays: aws.Int32(90)}))
	deleted := createKey(t, c, types.KeySpecSymmetricDefault, types.KeyUsageTypeEncryptDecrypt)
	must[*awskms.ScheduleKeyDeletionOutput](t)(c.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: deleted.KeyId, PendingWindowInDays: aws.Int32(7)}))
	clock.advance(91 * dayDur)
	moved := clock.now().Add(-time.Minute)

	want := map[string]*types.KeyMetadata{"RotateKey": rotating, "DeleteKey": deleted}
	var found map[string]*ctRecord
	for deadline := time.Now().Add(10 * time.Second); ; {
		found = map[string]*ctRecord{}
		for _, r := range trail(t, ts) {
			if r.EventType == "AwsServiceEvent" {
				if found[r.EventName] != nil {
					t.Fatalf("two %s events", r.EventName)
				}
				found[r.EventName] = r
			}
		}
		if len(found) == len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !slices.Equal(slices.Sorted(maps.Keys(found)), slices.Sorted(maps.Keys(want))) {
		t.Fatalf("service events %v, want %v", slices.Sorted(maps.Keys(found)), slices.Sorted(maps.Keys(want)))
	}
	for name, k := range want {
		r := found[name]
		et, err := time.Parse("2006-01-02T15:04:05Z", r.EventTime)
		if r.EventVersion != "1.08" || r.EventSource != "kms.amazonaws.com" || r.AWSRegion != testRegion ||
			r.UserIdentity != (ctIdentity{AccountID: testAccount, InvokedBy: "AWS Internal"}) ||
			r.SourceIPAddress != "AWS Internal" || r.UserAgent != "AWS Internal" || r.RequestParameters != nil || r.ResponseElements != nil ||
			r.ErrorCode != "" || r.ReadOnly || !r.ManagementEvent || r.EventCategory != "Management" || r.RecipientAccountID != testAccount ||
			len(r.EventID) != 36 || err != nil || et.Before(moved.Truncate(time.Second)) ||
			len(r.Resources) != 1 || r.Resources[0] != (ctResource{AccountID: testAccount, Type: "AWS::KMS::Key", ARN: *k.Arn}) ||
			r.ServiceEventDetails["keyId"] != *k.KeyId {
			t.Errorf("%s record: %s", name, r.raw)
		}
	}
}

// TestAuditFailClosed: while the audit store cannot be written, requests
// fail with KMSInternalException and change nothing; once it can again, the
// server resumes by itself.
func TestAuditFailClosed(t *testing.T) {
	var failing atomic.Bool
	dir := t.TempDir()
	ts := startServer(t, server.Config{DataDir: dir, AuditFailWrites: func() error {
		if failing.Load() {
			return errors.New("test: audit store unwritable")
		}
		return nil
	}})
	c := ts.client(testRegion)
	root := newIAMClient(ts.URL, rootCreds)
	k := createKey(t, c, types.KeySpecSymmetricDefault, types.KeyUsageTypeEncryptDecrypt)
	listKeys := func() []string {
		var ids []string
		for _, e := range must[*awskms.ListKeysOutput](t)(c.ListKeys(ctx, &awskms.ListKeysInput{})).Keys {
			ids = append(ids, *e.KeyId)
		}
		return ids
	}
	keysBefore := listKeys()

	failing.Store(true)
	var refused []string // request ids that must have no record
	for range 2 {
		// The first finds out that the store fails when its record is not
		// written; the second is refused before it acts.
		_, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: k.KeyId, Plaintext: []byte("not while unaudited")})
		id, _ := errID(t, err, "KMSInternalException")
		refused = append(refused, id)
	}
	_, err := c.CreateKey(ctx, &awskms.CreateKeyInput{Description: aws.String("must not exist")})
	id, _ := errID(t, err, "KMSInternalException")
	refused = append(refused, id)
	_, err = root.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("ghost")})
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusInternalServerError {
		t.Fatalf("CreateUser while the audit store fails: %v", err)
	}
	refused = append(refused, re.ServiceRequestID())
	// LookupEvents answers with CloudTrail's code for it.
	_, err = trailAs(ts.URL, rootCreds).LookupEvents(ctx, &cloudtrail.LookupEventsInput{})
	id, _ = errID(t, err, "InternalFailure")
	refused = append(refused, id)

	failing.Store(false)
	var resumed string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		out, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: k.KeyId, Plaintext: []byte("audited again")})
		if err == nil {
			resumed = okID(t, out.ResultMetadata)
			break
		}
		wantCode(t, err, "KMSInternalException")
		if time.Now().After(deadline) {
			t.Fatal("requests still refused 10 s after the audit store recovered")
		}
	}
	if keysAfter := listKeys(); !slices.Equal(keysAfter, keysBefore) {
		t.Fatalf("keys %v after CreateKey failed closed, want %v", keysAfter, keysBefore)
	}
	_, err = root.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("ghost")})
	wantCode(t, err, "NoSuchEntity")

	index := byRequestID(t, trail(t, ts))
	for _, id := range refused {
		if r := index[id]; r != nil {
			t.Errorf("a refused request has a record: %s", r.raw)
		}
	}
	if r := index[resumed]; r == nil || r.EventName != "Encrypt" || r.ErrorCode != "" {
		t.Errorf("record of the first request after recovery: %+v", r)
	}
	// The chain has no gap where the writes failed.
	pub, err := server.AuditPublicKey(server.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := audit.Verify(ctx, server.AuditPath(dir), pub)
	if err != nil || !rep.OK() {
		t.Fatalf("verify after the failures: %v\n%v", err, rep)
	}
}
