package loadgen

import (
	"context"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

func TestValidateOpenLoopAndKeySpec(t *testing.T) {
	ok := Config{Op: OpSign, Concurrency: 4, Duration: time.Second, KeyIDs: []string{"k"}}
	checkValidate(t, ok, []validateCase{
		{"rate", func(c *Config) { c.Rate = 100 }, ""},
		{"slow rate", func(c *Config) { c.Rate = 0.5; c.Duration = 2 * time.Second }, ""},
		{"max rate", func(c *Config) { c.Rate = MaxRate }, ""},
		{"rate with requests", func(c *Config) { c.Rate, c.Duration, c.Requests = 10, 0, 5 }, ""},
		{"negative rate", func(c *Config) { c.Rate = -1 }, "--rate must be more than 0"},
		{"NaN rate", func(c *Config) { c.Rate = math.NaN() }, "--rate must be more than 0"},
		{"infinite rate", func(c *Config) { c.Rate = math.Inf(1) }, "at most 1000000"},
		{"rate too high", func(c *Config) { c.Rate = MaxRate * 2 }, "at most 1000000"},
		{"window too short", func(c *Config) { c.Rate, c.Duration, c.Warmup = 1, 100*time.Millisecond, 500*time.Millisecond }, "schedules no request"},
		{"ed25519", func(c *Config) { c.KeySpec = "ED25519" }, ""},
		{"lower case", func(c *Config) { c.KeySpec = "rsa_2048" }, ""},
		{"verify rsa", func(c *Config) { c.Op, c.KeySpec = OpVerify, "RSA_4096" }, ""},
		{"mac", func(c *Config) { c.Op, c.KeySpec = OpGenerateMac, "HMAC_512" }, ""},
		{"mac spec for sign", func(c *Config) { c.KeySpec = "HMAC_256" }, "--key-spec HMAC_256 does not fit sign"},
		{"sign spec for mac", func(c *Config) { c.Op, c.KeySpec = OpGenerateMac, "ECC_NIST_P256" }, "does not fit generate-mac (one of HMAC_256"},
		{"symmetric op", func(c *Config) { c.Op, c.KeySpec = OpEncrypt, "RSA_2048" }, "--key-spec does not apply to encrypt"},
		{"mixed", func(c *Config) { c.Op, c.KeySpec = OpMixed, "SYMMETRIC_DEFAULT" }, "does not apply to mixed"},
		{"unknown spec", func(c *Config) { c.KeySpec = "RSA_1024" }, "--key-spec RSA_1024 does not fit sign"},
		{"encryption spec", func(c *Config) { c.KeySpec = "SYMMETRIC_DEFAULT" }, "does not fit sign"},
	})
}

func TestKeySpecs(t *testing.T) {
	tests := []struct {
		op   Op
		want string // the default, first
		n    int
	}{
		{OpSign, "ECC_NIST_P256", 8},
		{OpVerify, "ECC_NIST_P256", 8},
		{OpGenerateMac, "HMAC_256", 4},
		{OpEncrypt, "", 0},
		{OpMixed, "", 0},
	}
	for _, tt := range tests {
		specs := KeySpecs(tt.op)
		if len(specs) != tt.n || tt.n > 0 && specs[0] != tt.want {
			t.Errorf("KeySpecs(%s) = %v", tt.op, specs)
		}
		c := Config{Op: tt.op}
		if got := c.KeySpecName(); got != tt.want {
			t.Errorf("%s: default key spec %q, want %q", tt.op, got, tt.want)
		}
	}
	for name, want := range map[string]string{"ed25519": "ECC_NIST_EDWARDS25519", " Hmac_384 ": "HMAC_384", "RSA_2048": "RSA_2048"} {
		if got, ok := CanonicalKeySpec(name); !ok || got != want {
			t.Errorf("CanonicalKeySpec(%q) = %q, %v", name, got, ok)
		}
	}
	if _, ok := CanonicalKeySpec("ML_DSA_44"); ok {
		t.Error("ML_DSA_44 taken")
	}
}

// TestKeySpecRequests: with each key spec, the keys are created with it
// and the requests use its algorithm, and the floor's answers have the
// size real ones do.
func TestKeySpecRequests(t *testing.T) {
	ctx := context.Background()
	for _, s := range keySpecs {
		for _, op := range s.ops {
			t.Run(string(op)+"/"+string(s.spec), func(t *testing.T) {
				floor := FloorHandler(string(s.spec))
				var mu sync.Mutex
				bodies := map[string][]string{}
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					body, _ := io.ReadAll(r.Body)
					op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "TrentService.")
					mu.Lock()
					bodies[op] = append(bodies[op], string(body))
					mu.Unlock()
					r.Body = io.NopCloser(strings.NewReader(string(body)))
					floor.ServeHTTP(w, r)
				}))
				defer srv.Close()
				cfg := Config{Op: op, Concurrency: 1, Requests: 2, CreateKeys: true, Keys: 1, KeySpec: string(s.spec), Size: 100}
				b, err := New(ctx, cfg, testClient(srv.URL))
				if err != nil {
					t.Fatal(err)
				}
				r, err := b.Run(ctx, target(srv.URL))
				if err != nil || r.ErrorCount != 0 || r.KeySpec != string(s.spec) {
					t.Fatalf("run: %v, errors %v, key spec %q", err, r.ErrorMessages, r.KeySpec)
				}
				usage := "SIGN_VERIFY"
				alg := `"SigningAlgorithm":"` + string(s.sign) + `"`
				if s.mac != "" {
					usage, alg = "GENERATE_VERIFY_MAC", `"MacAlgorithm":"`+string(s.mac)+`"`
				}
				if c := bodies["CreateKey"]; len(c) != 1 || !strings.Contains(c[0], `"KeySpec":"`+string(s.spec)+`"`) || !strings.Contains(c[0], usage) {
					t.Errorf("CreateKey requests %q", c)
				}
				api := map[Op]string{OpSign: "Sign", OpVerify: "Verify", OpGenerateMac: "GenerateMac"}[op]
				for _, body := range bodies[api] {
					if !strings.Contains(body, alg) || !strings.Contains(body, `"MessageType":"RAW"`) && s.mac == "" {
						t.Errorf("%s request %.200s, want %s", api, body, alg)
					}
				}
			})
		}
	}
}

// TestFloorAnswerSizes: the floor signs and MACs with answers of the size
// of real ones, for the algorithm of the request; RSA by the key spec it
// is given.
func TestFloorAnswerSizes(t *testing.T) {
	ctx := context.Background()
	key := aws.String("k")
	msg := []byte("message")
	for _, s := range keySpecs {
		srv := httptest.NewServer(FloorHandler(string(s.spec)))
		c := testClient(srv.URL)
		if s.mac != "" {
			out, err := c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: key, Message: msg, MacAlgorithm: s.mac})
			if err != nil || len(out.Mac) != s.size || out.MacAlgorithm != s.mac {
				t.Errorf("%s: GenerateMac %v, %d bytes, %s", s.spec, err, len(out.Mac), out.MacAlgorithm)
			}
		} else {
			out, err := c.Sign(ctx, &kms.SignInput{KeyId: key, Message: msg, MessageType: types.MessageTypeRaw, SigningAlgorithm: s.sign})
			if err != nil || len(out.Signature) != s.size || out.SigningAlgorithm != s.sign {
				t.Errorf("%s: Sign %v, %d bytes, %s", s.spec, err, len(out.Signature), out.SigningAlgorithm)
			}
			v, err := c.Verify(ctx, &kms.VerifyInput{KeyId: key, Message: msg, MessageType: types.MessageTypeRaw, SigningAlgorithm: s.sign, Signature: out.Signature})
			if err != nil || !v.SignatureValid || v.SigningAlgorithm != s.sign {
				t.Errorf("%s: Verify %v, %+v", s.spec, err, v)
			}
		}
		srv.Close()
	}
	// Without a key spec: the size the algorithm tells, RSA_2048's for RSA.
	srv := httptest.NewServer(FloorHandler(""))
	defer srv.Close()
	c := testClient(srv.URL)
	for alg, size := range map[types.SigningAlgorithmSpec]int{
		types.SigningAlgorithmSpecEcdsaSha384:          103,
		types.SigningAlgorithmSpecEd25519Sha512:        64,
		types.SigningAlgorithmSpecRsassaPkcs1V15Sha512: 256,
		types.SigningAlgorithmSpecMlDsaShake256:        71, // unknown to the floor: its default answer
	} {
		out, err := c.Sign(ctx, &kms.SignInput{KeyId: key, Message: msg, MessageType: types.MessageTypeRaw, SigningAlgorithm: alg})
		if err != nil || len(out.Signature) != size {
			t.Errorf("%s: Sign %v, %d bytes, want %d", alg, err, len(out.Signature), size)
		}
	}
}
