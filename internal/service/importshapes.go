package service

import (
	"encoding/json"
	"errors"
	"math"
	"regexp"
	"time"
)

// UnmarshalJSON reads a timestamp member of a request: epoch seconds, with
// an optional fraction, as the AWS SDKs and CLI send it.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	var secs float64
	if err := json.Unmarshal(b, &secs); err != nil {
		return err
	}
	if math.IsNaN(secs) || math.Abs(secs) > 1e11 { // 1e11 s is the year 5138
		return errors.New("timestamp out of range")
	}
	*t = Timestamp(time.UnixMilli(int64(math.Round(secs * 1000))).UTC())
	return nil
}

// Wrapping algorithms and key specs of GetParametersForImport (spec §10.2).
const (
	wrapOAEPSHA1         = "RSAES_OAEP_SHA_1"
	wrapOAEPSHA256       = "RSAES_OAEP_SHA_256"
	wrapRSAAESSHA1       = "RSA_AES_KEY_WRAP_SHA_1"
	wrapRSAAESSHA256     = "RSA_AES_KEY_WRAP_SHA_256"
	wrapPKCS1v15         = "RSAES_PKCS1_V1_5"
	wrapSM2PKE           = "SM2PKE"
	expirationExpires    = "KEY_MATERIAL_EXPIRES"
	expirationNotExpires = "KEY_MATERIAL_DOES_NOT_EXPIRE"
	importNewMaterial    = "NEW_KEY_MATERIAL"
	importExisting       = "EXISTING_KEY_MATERIAL"
)

var (
	wrappingAlgorithms = []string{wrapPKCS1v15, wrapOAEPSHA1, wrapOAEPSHA256, wrapRSAAESSHA1, wrapRSAAESSHA256, wrapSM2PKE}
	wrappingKeySpecs   = []string{"RSA_2048", "RSA_3072", "RSA_4096", "SM2"}
	materialIDRE       = &pattern{regexp.MustCompile(`^[a-f0-9]+$`), `^[a-f0-9]+$`}
	materialDescRE     = &pattern{regexp.MustCompile(`^[a-zA-Z0-9:/_\s.-]+$`), `^[a-zA-Z0-9:/_\s.-]+$`}
)

// GetParametersForImportInput is the request of GetParametersForImport.
type GetParametersForImportInput struct {
	KeyId             *string
	WrappingAlgorithm *string
	WrappingKeySpec   *string
}

// Validate implements the model constraints.
func (in *GetParametersForImportInput) Validate() error {
	var v validator
	v.keyID("keyId", in.KeyId)
	if v.required("wrappingAlgorithm", in.WrappingAlgorithm != nil) {
		v.enum("wrappingAlgorithm", in.WrappingAlgorithm, wrappingAlgorithms...)
	}
	if v.required("wrappingKeySpec", in.WrappingKeySpec != nil) {
		v.enum("wrappingKeySpec", in.WrappingKeySpec, wrappingKeySpecs...)
	}
	return v.err()
}

// GetParametersForImportOutput is the response of GetParametersForImport.
type GetParametersForImportOutput struct {
	KeyId             string
	ImportToken       []byte
	PublicKey         []byte
	ParametersValidTo Timestamp
}

// ImportKeyMaterialInput is the request of ImportKeyMaterial.
type ImportKeyMaterialInput struct {
	KeyId                  *string
	ImportToken            []byte
	EncryptedKeyMaterial   []byte
	ValidTo                *Timestamp
	ExpirationModel        *string
	ImportType             *string
	KeyMaterialDescription *string
	KeyMaterialId          *string
}

// Validate implements the model constraints, and the rules between
// ExpirationModel and ValidTo that need no clock.
func (in *ImportKeyMaterialInput) Validate() error {
	var v validator
	v.keyID("keyId", in.KeyId)
	if v.required("importToken", in.ImportToken != nil) {
		v.blob("importToken", in.ImportToken, 1, 6144)
	}
	if v.required("encryptedKeyMaterial", in.EncryptedKeyMaterial != nil) {
		v.blob("encryptedKeyMaterial", in.EncryptedKeyMaterial, 1, 6144)
	}
	v.enum("expirationModel", in.ExpirationModel, expirationExpires, expirationNotExpires)
	v.enum("importType", in.ImportType, importNewMaterial, importExisting)
	v.str("keyMaterialDescription", in.KeyMaterialDescription, 0, 256, materialDescRE)
	v.str("keyMaterialId", in.KeyMaterialId, 64, 64, materialIDRE)
	if err := v.err(); err != nil {
		return err
	}
	switch {
	case in.expirationModel() == expirationExpires && in.ValidTo == nil:
		return validationf("A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES")
	case in.expirationModel() == expirationNotExpires && in.ValidTo != nil:
		return validationf("A validTo date must not be set if the ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE")
	case in.KeyMaterialId != nil && in.ImportType != nil && *in.ImportType == importNewMaterial:
		return validationf("KeyMaterialId cannot be specified when the ImportType is NEW_KEY_MATERIAL")
	}
	return nil
}

// expirationModel is the request's ExpirationModel, KEY_MATERIAL_EXPIRES
// when absent.
func (in *ImportKeyMaterialInput) expirationModel() string {
	if in.ExpirationModel == nil {
		return expirationExpires
	}
	return *in.ExpirationModel
}

// ImportKeyMaterialOutput is the response of ImportKeyMaterial.
type ImportKeyMaterialOutput struct {
	KeyId         string
	KeyMaterialId string
}

// DeleteImportedKeyMaterialInput is the request of DeleteImportedKeyMaterial.
type DeleteImportedKeyMaterialInput struct {
	KeyId         *string
	KeyMaterialId *string
}

// Validate implements the model constraints.
func (in *DeleteImportedKeyMaterialInput) Validate() error {
	var v validator
	v.keyID("keyId", in.KeyId)
	v.str("keyMaterialId", in.KeyMaterialId, 64, 64, materialIDRE)
	return v.err()
}

// DeleteImportedKeyMaterialOutput is the response of
// DeleteImportedKeyMaterial.
type DeleteImportedKeyMaterialOutput struct {
	KeyId         string
	KeyMaterialId string `json:",omitempty"`
}
