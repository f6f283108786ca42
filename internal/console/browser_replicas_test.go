package console_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/chromedp/chromedp"

	"github.com/openkms/kms/kmstest"
)

// A multi-Region primary's page lists its replicas and replicates to a
// region; a replica to its own region is the server's error in place.
func TestBrowserReplicas(t *testing.T) {
	srv := kmstest.NewServer(t)
	ctx := t.Context()
	client := srv.Client()
	out, err := client.CreateKey(ctx, &awskms.CreateKeyInput{MultiRegion: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	keyID := *out.KeyMetadata.KeyId

	b := newBrowser(t)
	b.do(chromedp.Navigate(srv.URL + "/console/#/keys/" + keyID))
	b.waitFor("the sign-in form", `document.querySelector('form.signin')`)
	b.signIn(srv.AccessKeyID, srv.SecretAccessKey, "")
	b.waitFor("the replicate form", `document.getElementById('replicate-form')`)
	b.checkAccessible("replicas")
	if regions := eval[[]string](b, `[...document.querySelectorAll('#replicas-list tbody tr')].map(r => r.dataset.region)`); strings.Join(regions, ",") != srv.Region {
		t.Errorf("regions before replicating: %v", regions)
	}

	b.set(`#replicate-form input[name=ReplicaRegion]`, srv.Region)
	b.do(chromedp.Click(`#replicate-submit`))
	b.waitFor("the server's refusal", `document.querySelector('#replicate-message .error')`)
	if msg := eval[string](b, `document.getElementById('replicate-message').innerText`); !strings.HasPrefix(msg, "ValidationException: ") {
		t.Errorf("replica to the primary's region: %q", msg)
	}

	b.set(`#replicate-form input[name=ReplicaRegion]`, "eu-west-1")
	b.do(chromedp.Click(`#replicate-submit`))
	b.waitFor("the replica", `document.querySelector('#replicas-list tr[data-region=eu-west-1]')`)
	eval[chromedp.Void](b, `document.getElementById('replicas-title').scrollIntoView({block: 'start'})`)
	b.screenshot("replicas")
	if role := eval[string](b, `document.querySelector('#replicas-list tr[data-region=eu-west-1] td:nth-child(2)').innerText`); role != "Replica" {
		t.Errorf("the replica's role: %q", role)
	}
	md, err := client.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(keyID)})
	if err != nil || len(md.KeyMetadata.MultiRegionConfiguration.ReplicaKeys) != 1 || *md.KeyMetadata.MultiRegionConfiguration.ReplicaKeys[0].Region != "eu-west-1" {
		t.Fatalf("the primary after replicating: %v %+v", err, md)
	}
}
