//go:build !cgo

package seal

import "errors"

// errNoCgo: miekg/pkcs11 loads the module with dlopen, which needs cgo.
var errNoCgo = errors.New("seal: this kms binary was built without cgo (CGO_ENABLED=0), which the PKCS#11 seal needs")

func newPKCS11Root(*PKCS11Config) ([]byte, *pkcs11State, error) { return nil, nil, errNoCgo }

func openPKCS11Root(*PKCS11Config, *pkcs11State) ([]byte, error) { return nil, errNoCgo }
