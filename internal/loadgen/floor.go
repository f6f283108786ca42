package loadgen

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
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
func FloorHandler() http.Handler {
	return http.HandlerFunc(serveFloor)
}

const (
	floorKeyID = "7e57f100-0000-4000-8000-000000000000"
	floorARN   = "arn:aws:kms:us-east-1:111122223333:key/" + floorKeyID
)

// Fixed answers, of the sizes real ones have: a 32-byte data key, its blob
// (our blob adds 155 bytes for a 75-byte key ARN), a DER ECDSA P-256 signature and an
// HMAC-SHA-256 tag.
var (
	floorDataKey     = b64(32)
	floorDataKeyBlob = b64(32 + 155)
	floorSignature   = b64(71)
	floorMac         = b64(32)
)

func b64(n int) string {
	return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xa5}, n))
}

func serveFloor(w http.ResponseWriter, r *http.Request) {
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
		out = []byte(`{"KeyId":"` + floorARN + `","Signature":"` + floorSignature + `","SigningAlgorithm":"ECDSA_SHA_256"}`)
	case "Verify":
		out = []byte(`{"KeyId":"` + floorARN + `","SignatureValid":true,"SigningAlgorithm":"ECDSA_SHA_256"}`)
	case "GenerateMac":
		out = []byte(`{"KeyId":"` + floorARN + `","Mac":"` + floorMac + `","MacAlgorithm":"HMAC_SHA_256"}`)
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
