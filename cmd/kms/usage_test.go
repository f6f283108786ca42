package main

import (
	"context"
	"encoding/csv"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// TestUsageCLI makes a known workload on a real server, with a second
// account using a key of the first, stops it, and checks every figure of
// `kms usage --format csv`.
func TestUsageCLI(t *testing.T) {
	// The figures are checked for a workload within one UTC hour, which
	// takes seconds: close to the next hour, wait for it (at most a
	// minute, in one run of sixty).
	if left := time.Until(time.Now().UTC().Truncate(time.Hour).Add(time.Hour)); left < time.Minute {
		time.Sleep(left + time.Second)
	}
	dir := t.TempDir()
	p := startKMS(t, dir, pinned...)
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.wait(); err != nil {
		t.Fatalf("server exit: %v\n%s", err, p.stderr)
	}
	const other = "444455556666"
	out, errOut, code := kmsCmd(t, nil, "account", "create", "--data-dir", dir, "--account-id", other)
	creds := regexp.MustCompile(`aws_access_key_id = (\S+)\naws_secret_access_key = (\S+)\n`).FindStringSubmatch(out)
	if code != 0 || creds == nil {
		t.Fatalf("kms account create: exit %d\n%s", code, errOut)
	}
	p = startKMS(t, dir, pinned...)
	c := p.client()
	ctx := context.Background()
	hour := time.Now().UTC().Truncate(time.Hour)
	create := func(in *awskms.CreateKeyInput) string {
		t.Helper()
		k, err := c.CreateKey(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return *k.KeyMetadata.Arn
	}
	account := "111122223333"
	sym := create(&awskms.CreateKeyInput{Policy: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow",` +
		`"Principal":{"AWS":["arn:aws:iam::` + account + `:root","arn:aws:iam::` + other + `:root"]},"Action":"kms:*","Resource":"*"}]}`)})
	// The other account's requests on sym are its to pay.
	for range 2 {
		if _, err := p.clientAs(testRegion, creds[1], creds[2]).Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(sym), Plaintext: []byte("usage")}); err != nil {
			t.Fatal(err)
		}
	}
	rsa := create(&awskms.CreateKeyInput{KeySpec: types.KeySpecRsa2048, KeyUsage: types.KeyUsageTypeSignVerify})
	ecc := create(&awskms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify})
	for range 5 {
		if _, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(sym), Plaintext: []byte("usage")}); err != nil {
			t.Fatal(err)
		}
	}
	sign := func(key string, alg types.SigningAlgorithmSpec) {
		t.Helper()
		if _, err := c.Sign(ctx, &awskms.SignInput{KeyId: aws.String(key), Message: []byte("usage"), SigningAlgorithm: alg}); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		sign(rsa, types.SigningAlgorithmSpecRsassaPssSha256)
	}
	for range 2 {
		sign(ecc, types.SigningAlgorithmSpecEcdsaSha256)
	}
	if _, err := c.GenerateDataKeyPair(ctx, &awskms.GenerateDataKeyPairInput{KeyId: aws.String(sym), KeyPairSpec: types.DataKeyPairSpecRsa2048}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String("alias/aws/s3"), Plaintext: []byte("usage")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RotateKeyOnDemand(ctx, &awskms.RotateKeyOnDemandInput{KeyId: aws.String(sym)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: aws.String(ecc), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	if time.Now().UTC().Truncate(time.Hour) != hour {
		t.Fatal("the workload took more than a minute and crossed an hour boundary; its key-hours are not the ones checked")
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.wait(); err != nil {
		t.Fatalf("server exit: %v\n%s", err, p.stderr)
	}

	since, until := hour.Format(time.RFC3339), hour.Add(2*time.Hour).Format(time.RFC3339)
	stdout, stderr, code := kmsCmd(t, nil, "usage", "--data-dir", dir, "--since", since, "--until", until, "--format", "csv")
	if code != 0 {
		t.Fatalf("kms usage: exit %d\n%s", code, stderr)
	}
	rows, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(rows[0], ","); got != "account,key_arn,key_spec,key_manager,requests,symmetric,rsa_2048,asymmetric,ecc_data_key_pair,rsa_data_key_pair,"+
		"failed,throttled,key_hours,rotations,rotation_hours,request_cost,key_cost,rotation_cost,total_cost" {
		t.Fatalf("header %s", got)
	}
	byKey := map[string]string{}
	var managed []string
	for _, row := range rows[1:] {
		if row[3] == "AWS" {
			managed = row
			continue
		}
		byKey[row[0]+" "+row[1]] = strings.Join(row[2:], ",")
	}
	// A key-hour costs $1/730; a symmetric or RSA_2048 request $0.000003
	// (all free: within the free tier), an ECC one $0.000015, an RSA data
	// key pair $0.0012.
	want := map[string]string{
		// CreateKey, 5 Encrypt, RotateKeyOnDemand; GenerateDataKeyPair; 2
		// hours; its first rotation, 2 hours.
		account + " " + sym: "SYMMETRIC_DEFAULT,CUSTOMER,8,7,0,0,0,1,0,0,2,1,2,0.001221,0.002740,0.002740,0.006700",
		// CreateKey; 3 Sign.
		account + " " + rsa: "RSA_2048,CUSTOMER,4,1,3,0,0,0,0,0,2,0,0,0.000012,0.002740,0.000000,0.002752",
		// CreateKey, ScheduleKeyDeletion; 2 Sign; billed until scheduled
		// for deletion: 1 hour.
		account + " " + ecc: "ECC_NIST_P256,CUSTOMER,4,2,0,2,0,0,0,0,1,0,0,0.000036,0.001370,0.000000,0.001406",
		// 11 free symmetric-class requests: 10 above and 1 on the AWS
		// managed key.
		account + " (free tier)": ",,,,,,,,,,,,,-0.000033,0.000000,0.000000,-0.000033",
		// 0.001272 for requests, less 0.000033, and 7 hours at $1/730.
		"total ": ",,,,,,,,,,,,,,,,0.010828",
		// The other account's 2 Encrypt, free.
		other + " " + sym:      "SYMMETRIC_DEFAULT,CUSTOMER,2,2,0,0,0,0,0,0,0,0,0,0.000006,0.000000,0.000000,0.000006",
		other + " (free tier)": ",,,,,,,,,,,,,-0.000006,0.000000,0.000000,-0.000006",
	}
	for k, w := range want {
		if byKey[k] != w {
			t.Errorf("row of %q:\n got %s\nwant %s", k, byKey[k], w)
		}
	}
	if len(byKey) != len(want) {
		t.Errorf("rows %v", byKey)
	}
	if managed == nil || managed[0] != account || strings.Join(managed[2:], ",") != "SYMMETRIC_DEFAULT,AWS,1,1,0,0,0,0,0,0,0,0,0,0.000003,0.000000,0.000000,0.000003" {
		t.Errorf("AWS managed key's row: %v", managed)
	}
	if t.Failed() {
		t.Log(stdout)
	}

	// The same trail gives the same figures, and bad flags are refused.
	if again, _, _ := kmsCmd(t, nil, "usage", "--data-dir", dir, "--since", since, "--until", until, "--format", "csv"); again != stdout {
		t.Errorf("a second run differs:\n%s", again)
	}
	if _, stderr, code := kmsCmd(t, nil, "usage", "--data-dir", dir); code != 2 || !strings.Contains(stderr, "--since is required") {
		t.Errorf("no --since: exit %d\n%s", code, stderr)
	}
	if _, stderr, code := kmsCmd(t, nil, "usage", "--data-dir", dir, "--since", since, "--price-requests", "-1"); code != 2 {
		t.Errorf("negative price: exit %d\n%s", code, stderr)
	}
}
