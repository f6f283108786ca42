package server_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/openkms/kms/internal/server"
)

const dayDur = 24 * time.Hour

func TestRotationKeepsOldCiphertexts(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	k := must[*awskms.CreateKeyOutput](t)(c.CreateKey(ctx, &awskms.CreateKeyInput{})).KeyMetadata
	type sealed struct{ blob, plain []byte }
	var blobs []sealed
	var materials []string
	for i := range 4 {
		if i > 0 {
			out := must[*awskms.RotateKeyOnDemandOutput](t)(c.RotateKeyOnDemand(ctx, &awskms.RotateKeyOnDemandInput{KeyId: k.KeyId}))
			if *out.KeyId != *k.Arn {
				t.Fatalf("RotateKeyOnDemand answered %s", *out.KeyId)
			}
		}
		cur := *must[*awskms.DescribeKeyOutput](t)(c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: k.KeyId})).KeyMetadata.CurrentKeyMaterialId
		for _, m := range materials {
			if m == cur {
				t.Fatalf("rotation %d kept material %s", i, cur)
			}
		}
		materials = append(materials, cur)
		plain := []byte(fmt.Sprint("before rotation ", i))
		e := must[*awskms.EncryptOutput](t)(c.Encrypt(ctx, &awskms.EncryptInput{KeyId: k.KeyId, Plaintext: plain}))
		blobs = append(blobs, sealed{e.CiphertextBlob, plain})
	}
	for i, b := range blobs {
		d := must[*awskms.DecryptOutput](t)(c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: b.blob}))
		if !bytes.Equal(d.Plaintext, b.plain) || *d.KeyMaterialId != materials[i] {
			t.Fatalf("ciphertext %d: %q with material %s, want material %s", i, d.Plaintext, *d.KeyMaterialId, materials[i])
		}
	}
	rot := must[*awskms.ListKeyRotationsOutput](t)(c.ListKeyRotations(ctx, &awskms.ListKeyRotationsInput{KeyId: k.KeyId}))
	if len(rot.Rotations) != 3 || rot.Rotations[2].RotationType != types.RotationTypeOnDemand ||
		*rot.Rotations[2].KeyMaterialId != materials[3] || rot.Rotations[0].RotationDate == nil {
		t.Fatalf("ListKeyRotations %+v", rot.Rotations)
	}
	all := must[*awskms.ListKeyRotationsOutput](t)(c.ListKeyRotations(ctx, &awskms.ListKeyRotationsInput{KeyId: k.KeyId, IncludeKeyMaterial: types.IncludeKeyMaterialAllKeyMaterial}))
	if len(all.Rotations) != 4 || *all.Rotations[0].KeyMaterialId != materials[0] || all.Rotations[0].RotationType != "" {
		t.Fatalf("ListKeyRotations ALL_KEY_MATERIAL %+v", all.Rotations)
	}
}

func TestAutomaticRotation(t *testing.T) {
	clock := &testClock{}
	ts := startServer(t, server.Config{Now: clock.now})
	c := ts.client(testRegion)
	k := must[*awskms.CreateKeyOutput](t)(c.CreateKey(ctx, &awskms.CreateKeyInput{})).KeyMetadata
	_, err := c.EnableKeyRotation(ctx, &awskms.EnableKeyRotationInput{KeyId: k.KeyId, RotationPeriodInDays: aws.Int32(89)})
	wantMessage(t, err, "ValidationException", "rotationPeriodInDays")
	_, err = c.EnableKeyRotation(ctx, &awskms.EnableKeyRotationInput{KeyId: k.KeyId, RotationPeriodInDays: aws.Int32(2561)})
	wantCode(t, err, "ValidationException")
	st := must[*awskms.GetKeyRotationStatusOutput](t)(c.GetKeyRotationStatus(ctx, &awskms.GetKeyRotationStatusInput{KeyId: k.KeyId}))
	if st.KeyRotationEnabled || st.NextRotationDate != nil {
		t.Fatalf("status of a new key %+v", st)
	}
	must[*awskms.EnableKeyRotationOutput](t)(c.EnableKeyRotation(ctx, &awskms.EnableKeyRotationInput{KeyId: k.KeyId, RotationPeriodInDays: aws.Int32(90)}))
	st = must[*awskms.GetKeyRotationStatusOutput](t)(c.GetKeyRotationStatus(ctx, &awskms.GetKeyRotationStatusInput{KeyId: k.KeyId}))
	if !st.KeyRotationEnabled || *st.RotationPeriodInDays != 90 || st.NextRotationDate.Sub(clock.now()) < 89*dayDur {
		t.Fatalf("status after enabling %+v", st)
	}
	old := must[*awskms.EncryptOutput](t)(c.Encrypt(ctx, &awskms.EncryptInput{KeyId: k.KeyId, Plaintext: []byte("old")}))

	// A year of sweeps, in milliseconds: one rotation per 90 days, each
	// exactly once however often the sweep runs.
	rotations := 0
	for range 365 {
		clock.advance(dayDur)
		for range 2 {
			n, err := ts.Service.SweepRotations(ctx, clock.now())
			if err != nil {
				t.Fatal(err)
			}
			rotations += n
		}
	}
	if rotations != 4 {
		t.Fatalf("%d automatic rotations in 365 days at a 90-day period, want 4", rotations)
	}
	rot := must[*awskms.ListKeyRotationsOutput](t)(c.ListKeyRotations(ctx, &awskms.ListKeyRotationsInput{KeyId: k.KeyId}))
	if len(rot.Rotations) != 4 || rot.Rotations[0].RotationType != types.RotationTypeAutomatic {
		t.Fatalf("rotations %+v", rot.Rotations)
	}
	if d := must[*awskms.DecryptOutput](t)(c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: old.CiphertextBlob})); string(d.Plaintext) != "old" {
		t.Fatalf("old ciphertext gave %q", d.Plaintext)
	}

	// No rotation while disabled; on re-enable an overdue rotation happens
	// at the next sweep.
	must[*awskms.DisableKeyOutput](t)(c.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: k.KeyId}))
	_, err = c.EnableKeyRotation(ctx, &awskms.EnableKeyRotationInput{KeyId: k.KeyId})
	wantCode(t, err, "DisabledException")
	clock.advance(200 * dayDur)
	if n, _ := ts.Service.SweepRotations(ctx, clock.now()); n != 0 {
		t.Fatalf("a disabled key rotated %d times", n)
	}
	must[*awskms.EnableKeyOutput](t)(c.EnableKey(ctx, &awskms.EnableKeyInput{KeyId: k.KeyId}))
	if n, _ := ts.Service.SweepRotations(ctx, clock.now()); n != 1 {
		t.Fatalf("re-enabled overdue key rotated %d times, want 1", n)
	}

	// On demand, but not within 20 minutes of an automatic rotation.
	st = must[*awskms.GetKeyRotationStatusOutput](t)(c.GetKeyRotationStatus(ctx, &awskms.GetKeyRotationStatusInput{KeyId: k.KeyId}))
	clock.advance(st.NextRotationDate.Sub(clock.now()) - 10*time.Minute)
	_, err = c.RotateKeyOnDemand(ctx, &awskms.RotateKeyOnDemandInput{KeyId: k.KeyId})
	wantCode(t, err, "ConflictException")

	// Pending deletion reads as off, and cancelling brings it back.
	must[*awskms.ScheduleKeyDeletionOutput](t)(c.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: k.KeyId}))
	if st := must[*awskms.GetKeyRotationStatusOutput](t)(c.GetKeyRotationStatus(ctx, &awskms.GetKeyRotationStatusInput{KeyId: k.KeyId})); st.KeyRotationEnabled {
		t.Fatal("rotation reads on while pending deletion")
	}
	must[*awskms.CancelKeyDeletionOutput](t)(c.CancelKeyDeletion(ctx, &awskms.CancelKeyDeletionInput{KeyId: k.KeyId}))
	if st := must[*awskms.GetKeyRotationStatusOutput](t)(c.GetKeyRotationStatus(ctx, &awskms.GetKeyRotationStatusInput{KeyId: k.KeyId})); !st.KeyRotationEnabled {
		t.Fatal("rotation setting lost by cancelling the deletion")
	}
	must[*awskms.EnableKeyOutput](t)(c.EnableKey(ctx, &awskms.EnableKeyInput{KeyId: k.KeyId}))
	must[*awskms.DisableKeyRotationOutput](t)(c.DisableKeyRotation(ctx, &awskms.DisableKeyRotationInput{KeyId: k.KeyId}))
	if st := must[*awskms.GetKeyRotationStatusOutput](t)(c.GetKeyRotationStatus(ctx, &awskms.GetKeyRotationStatusInput{KeyId: k.KeyId})); st.KeyRotationEnabled {
		t.Fatal("rotation still on after DisableKeyRotation")
	}
}

func TestOnDemandRotationLimitAndPaging(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	k := must[*awskms.CreateKeyOutput](t)(c.CreateKey(ctx, &awskms.CreateKeyInput{})).KeyMetadata
	for i := range 25 {
		if _, err := c.RotateKeyOnDemand(ctx, &awskms.RotateKeyOnDemandInput{KeyId: k.KeyId}); err != nil {
			t.Fatalf("rotation %d: %v", i+1, err)
		}
	}
	_, err := c.RotateKeyOnDemand(ctx, &awskms.RotateKeyOnDemandInput{KeyId: k.KeyId})
	wantMessage(t, err, "LimitExceededException", "The on-demand rotations limit has been reached for the given keyId. "+
		"No more on-demand rotations can be performed for this key: "+*k.Arn)
	var got []string
	pages := 0
	p := awskms.NewListKeyRotationsPaginator(c, &awskms.ListKeyRotationsInput{KeyId: k.KeyId, Limit: aws.Int32(10)})
	for p.HasMorePages() {
		pages++
		for _, r := range must[*awskms.ListKeyRotationsOutput](t)(p.NextPage(ctx)).Rotations {
			got = append(got, *r.KeyMaterialId)
		}
	}
	if pages != 3 || len(got) != 25 {
		t.Fatalf("%d pages, %d rotations", pages, len(got))
	}
	cur := *must[*awskms.DescribeKeyOutput](t)(c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: k.KeyId})).KeyMetadata.CurrentKeyMaterialId
	if got[24] != cur {
		t.Fatalf("last rotation %s is not the current material %s", got[24], cur)
	}

	// AWS managed keys always rotate and cannot be changed.
	managed := must[*awskms.DescribeKeyOutput](t)(c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String("alias/aws/ebs")})).KeyMetadata
	if st := must[*awskms.GetKeyRotationStatusOutput](t)(c.GetKeyRotationStatus(ctx, &awskms.GetKeyRotationStatusInput{KeyId: managed.KeyId})); !st.KeyRotationEnabled || *st.RotationPeriodInDays != 365 {
		t.Fatalf("managed key rotation %+v", st)
	}
	_, err = c.DisableKeyRotation(ctx, &awskms.DisableKeyRotationInput{KeyId: managed.KeyId})
	wantCode(t, err, "AccessDeniedException") // its policy allows no change
	_, err = c.GetKeyRotationStatus(ctx, &awskms.GetKeyRotationStatusInput{KeyId: aws.String("alias/aws/ebs")})
	wantCode(t, err, "NotFoundException") // aliases are not accepted here
}

// TestRotationStatusOfKeysThatCannotRotate: GetKeyRotationStatus answers
// false, not an error, for keys that cannot rotate automatically, as AWS
// does ("always false"): Terraform's AWS provider reads it for every key at
// every refresh.
func TestRotationStatusOfKeysThatCannotRotate(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := ts.client(testRegion)
	for _, in := range []awskms.CreateKeyInput{
		{KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY"},
		{KeySpec: "RSA_2048", KeyUsage: "ENCRYPT_DECRYPT"},
		{KeySpec: "HMAC_256", KeyUsage: "GENERATE_VERIFY_MAC"},
		{Origin: "EXTERNAL"}, // pending import
	} {
		k := must[*awskms.CreateKeyOutput](t)(c.CreateKey(ctx, &in)).KeyMetadata
		st, err := c.GetKeyRotationStatus(ctx, &awskms.GetKeyRotationStatusInput{KeyId: k.KeyId})
		if err != nil {
			t.Fatalf("%s %s: %v", in.KeySpec, in.Origin, err)
		}
		if st.KeyRotationEnabled || st.RotationPeriodInDays != nil || st.NextRotationDate != nil || *st.KeyId != *k.Arn {
			t.Errorf("%s %s: %+v", in.KeySpec, in.Origin, st)
		}
		_, err = c.EnableKeyRotation(ctx, &awskms.EnableKeyRotationInput{KeyId: k.KeyId})
		wantCode(t, err, "UnsupportedOperationException")
		// A disabled key says so first (AWS, for a disabled RSA key).
		if in.Origin == "" {
			must[*awskms.DisableKeyOutput](t)(c.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: k.KeyId}))
			_, err = c.RotateKeyOnDemand(ctx, &awskms.RotateKeyOnDemandInput{KeyId: k.KeyId})
			wantMessage(t, err, "DisabledException", *k.Arn+" is disabled.")
		}
	}
}
