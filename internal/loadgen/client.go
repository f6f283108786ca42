package loadgen

import (
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// NewClient returns a KMS client for endpoint, with cfg's credentials,
// region and HTTP client, fit to measure with: it never retries (a retry
// would hide an error and bend the latencies), and it works around a race
// between smithy-go and net/http (see readOnlyBody).
func NewClient(cfg aws.Config, endpoint string) *kms.Client {
	hc := cfg.HTTPClient
	if hc == nil {
		hc = awshttp.NewBuildableClient()
	}
	cfg.HTTPClient = bodyFixClient{hc}
	return kms.NewFromConfig(cfg, func(o *kms.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.Retryer = aws.NopRetryer{}
		o.RetryMaxAttempts = 0
	})
}

type bodyFixClient struct{ next aws.HTTPClient }

func (c bodyFixClient) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = readOnlyBody{r.Body}
	}
	return c.next.Do(r)
}

// readOnlyBody hides the WriteTo method of smithy-go's request body. After
// sending Content-Length bytes, net/http's writer copies the rest of the
// body to check that there is none, through WriteTo if the body has it.
// smithy-go closes the body as soon as the response arrives, and its
// WriteTo then returns io.EOF, which net/http takes as a write error: it
// closes the connection while the response is being read, and the call
// fails with "use of closed network connection". Against a fast server
// that is about one request in ten thousand. Through Read, a closed body
// ends with a plain EOF.
type readOnlyBody struct{ io.ReadCloser }
