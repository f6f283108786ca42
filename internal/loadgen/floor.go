package loadgen

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// FloorHandler is the floor server: the least work a Go net/http server can
// do to answer the same traffic as a KMS server. It checks no signature,
// decodes no JSON and does no crypto: it finds the one base64 field it
// needs by a byte scan and echoes it, so that responses are about the size
// of real ones (Encrypt answers the plaintext as the ciphertext, a little
// shorter than a real blob; Decrypt the ciphertext as the plaintext, a
// little longer). Other operations get fixed answers of realistic size,
// and every request the SDK can deserialize its answer to. Measuring a KMS
// server against it separates what the server's own work costs from what
// HTTP and the Go runtime cost anyway.
//
// Sign answers with a signature of the size the request's SigningAlgorithm
// (found by a byte scan too) makes: a DER ECDSA signature on the curve its
// hash goes with, 64 bytes for Ed25519, and for RSA, which the algorithm
// does not size, the modulus of keySpec's keys (RSA_2048 if keySpec is
// not an RSA spec). GenerateMac answers with a tag of the size of its
// MacAlgorithm. Both, and Verify, echo the algorithm.
func FloorHandler(keySpec string) http.Handler {
	f := &floor{sign: map[string][]byte{}, verify: map[string][]byte{}, mac: map[string][]byte{}}
	rsaSize := 256
	if s, ok := findKeySpec(keySpec); ok && isRSA(s.sign) {
		rsaSize = s.size
	}
	answer := func(alg types.SigningAlgorithmSpec, size int) {
		if f.sign[string(alg)] == nil { // the first spec of an algorithm sizes it: P-256 for ECDSA_SHA_256
			f.sign[string(alg)] = []byte(`{"KeyId":"` + floorARN + `","Signature":"` + b64(size) + `","SigningAlgorithm":"` + string(alg) + `"}`)
			f.verify[string(alg)] = []byte(`{"KeyId":"` + floorARN + `","SignatureValid":true,"SigningAlgorithm":"` + string(alg) + `"}`)
		}
	}
	for _, s := range keySpecs {
		switch {
		case s.mac != "":
			f.mac[string(s.mac)] = []byte(`{"KeyId":"` + floorARN + `","Mac":"` + b64(s.size) + `","MacAlgorithm":"` + string(s.mac) + `"}`)
		case !isRSA(s.sign):
			answer(s.sign, s.size)
		}
	}
	for _, alg := range types.SigningAlgorithmSpec("").Values() {
		if isRSA(alg) {
			answer(alg, rsaSize)
		}
	}
	return f
}

func isRSA(alg types.SigningAlgorithmSpec) bool { return strings.HasPrefix(string(alg), "RSASSA_") }

const (
	floorKeyID = "7e57f100-0000-4000-8000-000000000000"
	floorARN   = "arn:aws:kms:us-east-1:111122223333:key/" + floorKeyID
)

// Fixed answers, of the sizes real ones have: a 32-byte data key and its
// blob (our blob adds 155 bytes for a 75-byte key ARN).
var (
	floorDataKey     = b64(32)
	floorDataKeyBlob = b64(32 + 155)
)

func b64(n int) string {
	return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xa5}, n))
}

// floor holds the answers to Sign, Verify and GenerateMac, by algorithm.
type floor struct {
	sign, verify, mac map[string][]byte
}

// byAlgorithm returns the answer for the algorithm named in field of body,
// or for def if the request names none the floor knows.
func byAlgorithm(answers map[string][]byte, body []byte, field, def string) []byte {
	if alg, ok := stringField(body, field); ok {
		if out, ok := answers[string(alg)]; ok {
			return out
		}
	}
	return answers[def]
}

func (f *floor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		floorError(w, "request body too large or unreadable")
		return
	}
	_, op, _ := strings.Cut(r.Header.Get("X-Amz-Target"), ".")
	var out []byte
	switch op {
	case "Encrypt":
		v, ok := stringField(body, "Plaintext")
		if !ok {
			floorError(w, "no Plaintext")
			return
		}
		out = append(out, `{"CiphertextBlob":"`...)
		out = append(out, v...)
		out = append(out, `","EncryptionAlgorithm":"SYMMETRIC_DEFAULT","KeyId":"`+floorARN+`"}`...)
	case "Decrypt":
		v, ok := stringField(body, "CiphertextBlob")
		if !ok {
			floorError(w, "no CiphertextBlob")
			return
		}
		out = append(out, `{"EncryptionAlgorithm":"SYMMETRIC_DEFAULT","KeyId":"`+floorARN+`","Plaintext":"`...)
		out = append(out, v...)
		out = append(out, `"}`...)
	case "GenerateDataKey":
		out = []byte(`{"CiphertextBlob":"` + floorDataKeyBlob + `","KeyId":"` + floorARN + `","Plaintext":"` + floorDataKey + `"}`)
	case "Sign":
		out = byAlgorithm(f.sign, body, "SigningAlgorithm", string(types.SigningAlgorithmSpecEcdsaSha256))
	case "Verify":
		out = byAlgorithm(f.verify, body, "SigningAlgorithm", string(types.SigningAlgorithmSpecEcdsaSha256))
	case "GenerateMac":
		out = byAlgorithm(f.mac, body, "MacAlgorithm", string(types.MacAlgorithmSpecHmacSha256))
	case "CreateKey", "DescribeKey":
		out = []byte(`{"KeyMetadata":{"AWSAccountId":"111122223333","Arn":"` + floorARN + `","Enabled":true,"KeyId":"` +
			floorKeyID + `","KeyManager":"CUSTOMER","KeyState":"Enabled"}}`)
	case "ScheduleKeyDeletion":
		out = []byte(`{"KeyId":"` + floorARN + `","KeyState":"PendingDeletion","PendingWindowInDays":7}`)
	default:
		out = []byte(`{}`)
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Write(out)
}

func floorError(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(http.StatusBadRequest)
	io.WriteString(w, `{"__type":"ValidationException","message":"floor: `+msg+`"}`)
}

// stringField returns the raw value of the first string member named name
// in a JSON object, found by a byte scan. It is meant for base64 values,
// which hold no quotes or escapes.
func stringField(body []byte, name string) ([]byte, bool) {
	i := bytes.Index(body, []byte(`"`+name+`"`))
	if i < 0 {
		return nil, false
	}
	rest := bytes.TrimLeft(body[i+len(name)+2:], " \t\r\n")
	if len(rest) == 0 || rest[0] != ':' {
		return nil, false
	}
	rest = bytes.TrimLeft(rest[1:], " \t\r\n")
	if len(rest) == 0 || rest[0] != '"' {
		return nil, false
	}
	end := bytes.IndexByte(rest[1:], '"')
	if end < 0 {
		return nil, false
	}
	return rest[1 : 1+end], true
}
