package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// eccImportHeading is the README heading of eccImportScript. The walk-through
// is written for README.md (README-import.md of the branch that added it);
// once README.md has it, the test requires the two to be the same text.
const eccImportHeading = "### Importing an ECC_NIST_P256 signing key with openssl"

// eccImportScript is what a user runs, with the AWS CLI and openssl only, to
// bring their own ECC_NIST_P256 signing key (issue 18).
const eccImportScript = `EP="--endpoint-url http://127.0.0.1:7900"

# 1. A signing key without material.
KEY_ID=$(aws $EP kms create-key --origin EXTERNAL --key-spec ECC_NIST_P256 --key-usage SIGN_VERIFY \
  --description "my own signing key" --query KeyMetadata.KeyId --output text)

# 2. Your key pair. KMS takes the private key as PKCS #8 DER; genpkey's PEM
#    is PKCS #8, but its DER output would be SEC 1's ECPrivateKey.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out EcPrivateKey.pem
openssl pkcs8 -topk8 -nocrypt -in EcPrivateKey.pem -outform DER -out PlaintextKeyMaterial.der
openssl pkey -in EcPrivateKey.pem -pubout -out EcPublicKey.pem

# 3. A wrapping public key and an import token, from one call.
aws $EP kms get-parameters-for-import --key-id "$KEY_ID" \
  --wrapping-algorithm RSA_AES_KEY_WRAP_SHA_256 --wrapping-key-spec RSA_4096 \
  --query '[PublicKey,ImportToken]' --output text > ImportParameters.txt
cut -f1 ImportParameters.txt | openssl enc -d -base64 -A -out WrappingPublicKey.bin
cut -f2 ImportParameters.txt | openssl enc -d -base64 -A -out ImportToken.bin

# 4. RSA_AES_KEY_WRAP_SHA_256: a fresh AES-256 key wraps the private key
#    (RFC 5649), RSA-OAEP with SHA-256 wraps the AES key; KMS takes the two
#    concatenated.
openssl rand -out aes-key.bin 32
openssl enc -id-aes256-wrap-pad -K "$(od -An -v -tx1 aes-key.bin | tr -d ' \n')" -iv A65959A6 \
  -in PlaintextKeyMaterial.der -out key-material-wrapped.bin
openssl pkeyutl -encrypt -in aes-key.bin -out aes-key-wrapped.bin \
  -inkey WrappingPublicKey.bin -keyform DER -pubin -pkeyopt rsa_padding_mode:oaep \
  -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256
cat aes-key-wrapped.bin key-material-wrapped.bin > EncryptedKeyMaterial.bin

# 5. The import.
aws $EP kms import-key-material --key-id "$KEY_ID" \
  --encrypted-key-material fileb://EncryptedKeyMaterial.bin --import-token fileb://ImportToken.bin \
  --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE

# 6. KMS signs with your key; openssl checks the signature with your public key.
echo "signed by my own key in KMS" > message.txt
aws $EP kms sign --key-id "$KEY_ID" --message fileb://message.txt --message-type RAW \
  --signing-algorithm ECDSA_SHA_256 --query Signature --output text | base64 -d > signature.der
openssl dgst -sha256 -verify EcPublicKey.pem -signature signature.der message.txt        # Verified OK

# 7. The public key KMS hands out is yours.
aws $EP kms get-public-key --key-id "$KEY_ID" --query PublicKey --output text | base64 -d > KmsPublicKey.der
openssl pkey -pubin -in EcPublicKey.pem -outform DER -out EcPublicKey.der
cmp EcPublicKey.der KmsPublicKey.der && echo "same public key"`

// TestImportECCScript runs eccImportScript, as written, with the real AWS
// CLI and openssl against a kms server (its endpoint and credentials put
// in), then checks the signature it left with Go's crypto.
func TestImportECCScript(t *testing.T) {
	for _, tool := range []string{"openssl", "bash", "od", "cmp"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed for this test and is not on PATH", tool)
		}
	}
	if b, err := os.ReadFile(filepath.Join("..", "..", "README.md")); err == nil && strings.Contains(string(b), "\n"+eccImportHeading+"\n") {
		if got := readmeScript(t, eccImportHeading); got != eccImportScript {
			t.Fatalf("README.md's %q differs from eccImportScript:\n%s", eccImportHeading, got)
		}
	}
	r := runScript(t, "import script", eccImportScript)
	stdout, stderr := &r.stdout, &r.stderr
	// import-key-material prints its JSON answer; the checks print the rest.
	if out := stdout.String(); !strings.HasSuffix(out, "Verified OK\nsame public key\n") || !strings.Contains(out, `"KeyMaterialId"`) {
		t.Fatalf("import script printed:\n%s\nstderr:\n%s", out, stderr.String())
	}

	read := func(name string) []byte { return r.read(t, name) }
	k, err := x509.ParsePKCS8PrivateKey(read("PlaintextKeyMaterial.der"))
	if err != nil {
		t.Fatal(err)
	}
	priv, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		t.Fatalf("PlaintextKeyMaterial.der holds a %T", k)
	}
	pub, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pub, read("KmsPublicKey.der")) {
		t.Fatal("KMS's public key is not the imported private key's")
	}
	d := sha256.Sum256(read("message.txt"))
	if !ecdsa.VerifyASN1(&priv.PublicKey, d[:], read("signature.der")) {
		t.Fatal("the KMS signature does not verify under the imported key")
	}
}
