package audit_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/openkms/kms/internal/audit"
)

func Example() {
	dir, _ := os.MkdirTemp("", "audit")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "audit.db")
	pub, priv, _ := ed25519.GenerateKey(nil)
	ctx := context.Background()

	l, err := audit.Open(audit.Config{Path: path, Signer: priv})
	if err != nil {
		log.Fatal(err)
	}
	// Before acting on a request: refuse it if it could not be audited.
	if err := l.Healthy(); err != nil {
		log.Fatal(err)
	}
	// After acting: the response waits until the record is durable.
	err = l.Append(ctx, &audit.Record{
		UserIdentity: &audit.UserIdentity{Type: "Root", PrincipalID: "111122223333",
			ARN: "arn:aws:iam::111122223333:root", AccountID: "111122223333"},
		EventSource: audit.EventSourceKMS, EventName: "GenerateRandom", AWSRegion: "us-east-1",
		SourceIPAddress: "192.0.2.1", UserAgent: "example",
		RequestParameters: map[string]any{"numberOfBytes": 32},
		RequestID:         "f3423043-63bc-11e4-bc2b-4198b6150d5c",
		ReadOnly:          true, EventType: audit.EventTypeAPICall, ManagementEvent: true,
		RecipientAccountID: "111122223333", EventCategory: audit.CategoryMgmt,
	})
	if err != nil {
		log.Fatal(err) // the request fails with KMSInternalException
	}
	if err := l.Close(); err != nil { // signs a last checkpoint
		log.Fatal(err)
	}

	rep, err := audit.Verify(ctx, path, pub)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(rep.OK(), rep.Regions[0].Records, rep.Regions[0].UnsignedTail)
	// Output: true 1 0
}
