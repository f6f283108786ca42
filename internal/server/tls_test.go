package server_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/openkms/kms/internal/server"
)

// selfSigned writes a certificate for 127.0.0.1 and its key as PEM files.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "kms test"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	return certFile, keyFile, pool
}

func TestTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	ts := startServer(t, server.Config{TLSCert: certFile, TLSKey: keyFile})
	url := strings.Replace(ts.URL, "http://", "https://", 1)
	c := awskms.New(awskms.Options{
		Region:       testRegion,
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider(testAccessKeyID, testSecret, ""),
		HTTPClient:   &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}},
	})
	k := must[*awskms.CreateKeyOutput](t)(c.CreateKey(ctx, &awskms.CreateKeyInput{}))
	must[*awskms.EncryptOutput](t)(c.Encrypt(ctx, &awskms.EncryptInput{KeyId: k.KeyMetadata.KeyId, Plaintext: []byte("over TLS")}))
	// Large enough a response that the server corks the connection under
	// TLS to send it in one write.
	big := bytes.Repeat([]byte{0xa5}, 4096)
	enc := must[*awskms.EncryptOutput](t)(c.Encrypt(ctx, &awskms.EncryptInput{KeyId: k.KeyMetadata.KeyId, Plaintext: big}))
	dec := must[*awskms.DecryptOutput](t)(c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}))
	if !bytes.Equal(dec.Plaintext, big) {
		t.Fatal("4 KiB round trip over TLS changed the plaintext")
	}
	// Plain HTTP to the TLS port is not served.
	if _, err := ts.client(testRegion).ListKeys(ctx, &awskms.ListKeysInput{}); err == nil {
		t.Fatal("plain HTTP to the TLS listener succeeded")
	}
}

// TestListenRules: Open refuses what Listen could not serve, before the
// data dir exists.
func TestListenRules(t *testing.T) {
	for _, tc := range []struct {
		cfg server.Config
		ok  bool
	}{
		{server.Config{Listen: "0.0.0.0:0"}, false},
		{server.Config{Listen: "0.0.0.0:0", InsecureHTTP: true}, true},
		{server.Config{Listen: "localhost:0"}, true},
		{server.Config{Listen: "127.0.0.1:0", TLSCert: "only-cert.pem"}, false},
	} {
		cfg := tc.cfg
		cfg.DataDir = filepath.Join(t.TempDir(), "data")
		cfg.Logger = slog.New(slog.DiscardHandler)
		srv, err := server.Open(cfg)
		if err != nil {
			if tc.ok {
				t.Errorf("Open %+v: %v", tc.cfg, err)
			}
			if _, serr := os.Stat(cfg.DataDir); !os.IsNotExist(serr) {
				t.Errorf("Open %+v failed (%v) but made the data dir", tc.cfg, err)
			}
			continue
		}
		if !tc.ok {
			t.Errorf("Open %+v: no error", tc.cfg)
		}
		ln, err := srv.Listen()
		if err != nil {
			t.Errorf("Listen %+v: %v", tc.cfg, err)
		} else {
			ln.Close()
		}
		srv.Close()
	}
}
