package console_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/chromedp/chromedp"

	"github.com/openkms/kms/kmstest"
)

// Importing key material from a key's page: the server's refusal of a
// wrong-length file in place, then 32 random bytes that the SDK then
// encrypts and decrypts under; deleting the material (confirmed); an
// ECC PKCS#8 key pair, whose public key matches; and an RSA private key,
// too large for RSAES_OAEP_SHA_256, refused with a pointer to the CLI (the
// browser has no AES key wrap with padding, and we write no crypto).
func TestBrowserImportKeyMaterial(t *testing.T) {
	srv := kmstest.NewServer(t)
	ctx := t.Context()
	client := srv.Client()
	external := func(spec types.KeySpec, usage types.KeyUsageType) string {
		out, err := client.CreateKey(ctx, &awskms.CreateKeyInput{Origin: types.OriginTypeExternal, KeySpec: spec, KeyUsage: usage})
		if err != nil {
			t.Fatal(err)
		}
		return *out.KeyMetadata.KeyId
	}
	dir := t.TempDir()
	file := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	state := func(keyID string) types.KeyState {
		out, err := client.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(keyID)})
		if err != nil {
			t.Fatal(err)
		}
		return out.KeyMetadata.KeyState
	}

	keyID := external(types.KeySpecSymmetricDefault, types.KeyUsageTypeEncryptDecrypt)
	b := newBrowser(t)
	b.do(chromedp.Navigate(srv.URL + "/console/#/keys/" + keyID))
	b.waitFor("the sign-in form", `document.querySelector('form.signin')`)
	b.signIn(srv.AccessKeyID, srv.SecretAccessKey, "")
	b.waitFor("the import form", `document.getElementById('import-form')`)
	b.checkAccessible("import form")
	eval[chromedp.Void](b, `document.getElementById('import-title').scrollIntoView({block: 'start'})`)
	b.screenshot("import")
	if s := eval[string](b, `document.getElementById('import-status').innerText`); !strings.Contains(s, "no key material yet") {
		t.Errorf("import status: %q", s)
	}

	// A wrong length: the server's error, in place.
	b.do(chromedp.SetUploadFiles(`#import-form input[type=file]`, []string{file("short.bin", make([]byte, 16))}))
	b.do(chromedp.Click(`#import-submit`))
	b.waitFor("the server's refusal", `document.querySelector('#import-message .error')`)
	if msg := eval[string](b, `document.getElementById('import-message').innerText`); !strings.HasPrefix(msg, "IncorrectKeyMaterialException: ") {
		t.Errorf("wrong-length material: %q", msg)
	}

	// 32 random bytes, expiring in 30 days, with a description.
	material := make([]byte, 32)
	rand.Read(material)
	b.do(chromedp.SetUploadFiles(`#import-form input[type=file]`, []string{file("key.bin", material)}))
	b.set(`#import-form input[name=KeyMaterialDescription]`, "from the console")
	b.set(`#import-form select[name=ExpirationModel]`, "KEY_MATERIAL_EXPIRES")
	validTo := time.Now().UTC().AddDate(0, 0, 30).Truncate(24 * time.Hour)
	b.set(`#import-form input[name=ValidTo]`, validTo.Format("2006-01-02"))
	b.do(chromedp.Click(`#import-submit`))
	b.waitFor("the imported key", `document.getElementById('delete-material')`)
	if s := eval[string](b, `document.getElementById('import-status').innerText`); s != "The key material expires on "+validTo.Format("2006-01-02")+" 00:00:00 UTC." {
		t.Errorf("import status: %q", s)
	}
	md, err := client.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(keyID)})
	if err != nil || md.KeyMetadata.KeyState != types.KeyStateEnabled || md.KeyMetadata.ValidTo == nil || !md.KeyMetadata.ValidTo.Equal(validTo) {
		t.Fatalf("the key after the import: %v %+v", err, md.KeyMetadata)
	}
	enc, err := client.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(keyID), Plaintext: []byte("hello")})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := client.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	if err != nil || string(dec.Plaintext) != "hello" {
		t.Fatalf("decrypt: %v %+v", err, dec)
	}

	// Delete the material: confirmed, naming what stops working.
	b.do(chromedp.Click(`#delete-material`))
	b.waitFor("the delete confirmation", `document.querySelector('dialog.confirm')?.open`)
	if confirm := eval[string](b, `document.querySelector('dialog.confirm').innerText`); !strings.Contains(confirm, "Encrypt, Decrypt") || !strings.Contains(confirm, "cannot be decrypted") {
		t.Errorf("the delete confirmation: %q", confirm)
	}
	b.do(chromedp.Click(`#confirm-ok`))
	b.waitFor("the key without material", `document.getElementById('import-status')?.innerText.includes('no key material yet')`)
	if st := state(keyID); st != types.KeyStatePendingImport {
		t.Fatalf("state after the deletion: %s", st)
	}

	// Key pairs: the page's import gives the key the file's public key.
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		spec types.KeySpec
		priv any
		pub  any
	}{
		{types.KeySpecEccNistP256, ec, &ec.PublicKey},
	} {
		der, err := x509.MarshalPKCS8PrivateKey(c.priv)
		if err != nil {
			t.Fatal(err)
		}
		want, err := x509.MarshalPKIXPublicKey(c.pub)
		if err != nil {
			t.Fatal(err)
		}
		id := external(c.spec, types.KeyUsageTypeSignVerify)
		b.do(chromedp.Navigate(srv.URL + "/console/#/keys/" + id))
		b.waitFor("the import form of "+string(c.spec), `document.querySelector('h1.mono')?.innerText === '`+id+`' && document.getElementById('import-form') &&
			!document.querySelector('#import-form input[name=KeyMaterialDescription]')`)
		b.do(chromedp.SetUploadFiles(`#import-form input[type=file]`, []string{file(string(c.spec)+".der", der)}))
		b.do(chromedp.Click(`#import-submit`))
		b.waitFor("the imported "+string(c.spec)+" key", `document.getElementById('delete-material') || document.querySelector('#import-message .error')`)
		if msg := eval[string](b, `document.getElementById('import-message')?.innerText || ''`); msg != "" {
			t.Fatalf("%s import: %s", c.spec, msg)
		}
		pub, err := client.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: aws.String(id)})
		if err != nil || !bytes.Equal(pub.PublicKey, want) {
			t.Errorf("%s: GetPublicKey after the import: %v, matches the file's: %v", c.spec, err, err == nil && bytes.Equal(pub.PublicKey, want))
		}
	}

	// An RSA private key: refused in the browser, pointing at the CLI.
	der, err := x509.MarshalPKCS8PrivateKey(rk)
	if err != nil {
		t.Fatal(err)
	}
	id := external(types.KeySpecRsa2048, types.KeyUsageTypeSignVerify)
	b.do(chromedp.Navigate(srv.URL + "/console/#/keys/" + id))
	b.waitFor("the import form of the RSA key", `document.querySelector('h1.mono')?.innerText === '`+id+`' && document.getElementById('import-form')`)
	b.do(chromedp.SetUploadFiles(`#import-form input[type=file]`, []string{file("rsa.der", der)}))
	b.do(chromedp.Click(`#import-submit`))
	b.waitFor("the RSA refusal", `document.querySelector('#import-message .error')`)
	if msg := eval[string](b, `document.getElementById('import-message').innerText`); !strings.Contains(msg, "AWS CLI and openssl") {
		t.Errorf("RSA import: %q", msg)
	}
	if st := state(id); st != types.KeyStatePendingImport {
		t.Errorf("the RSA key after a refused import: %s", st)
	}
}
