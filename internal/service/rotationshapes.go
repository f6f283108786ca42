package service

// EnableKeyRotationInput is the request of EnableKeyRotation.
type EnableKeyRotationInput struct {
	KeyId                *string
	RotationPeriodInDays *int32
}

// Validate implements the model constraints.
func (in *EnableKeyRotationInput) Validate() error {
	var v validator
	v.keyID("keyId", in.KeyId)
	v.intRange("rotationPeriodInDays", in.RotationPeriodInDays, 90, 2560)
	return v.err()
}

// GetKeyRotationStatusOutput is the response of GetKeyRotationStatus.
type GetKeyRotationStatusOutput struct {
	KeyRotationEnabled        bool
	KeyId                     string
	RotationPeriodInDays      *int32     `json:",omitempty"`
	NextRotationDate          *Timestamp `json:",omitempty"`
	OnDemandRotationStartDate *Timestamp `json:",omitempty"`
}

// RotateKeyOnDemandOutput is the response of RotateKeyOnDemand.
type RotateKeyOnDemandOutput struct{ KeyId string }

// ListKeyRotationsInput is the request of ListKeyRotations.
type ListKeyRotationsInput struct {
	KeyId              *string
	IncludeKeyMaterial *string
	ListInput
}

// Validate implements the model constraints.
func (in *ListKeyRotationsInput) Validate() error {
	var v validator
	v.keyID("keyId", in.KeyId)
	v.enum("includeKeyMaterial", in.IncludeKeyMaterial, "ALL_KEY_MATERIAL", "ROTATIONS_ONLY")
	in.validate(&v)
	return v.err()
}

// RotationsListEntry is one key material version in ListKeyRotations.
type RotationsListEntry struct {
	KeyId            string
	KeyMaterialId    string
	KeyMaterialState string
	RotationDate     *Timestamp `json:",omitempty"`
	RotationType     string     `json:",omitempty"`
	// For keys with imported material (EXTERNAL) only.
	ImportState            string     `json:",omitempty"`
	ExpirationModel        string     `json:",omitempty"`
	ValidTo                *Timestamp `json:",omitempty"`
	KeyMaterialDescription string     `json:",omitempty"`
}

// ListKeyRotationsOutput is the response of ListKeyRotations.
type ListKeyRotationsOutput struct {
	Rotations  []RotationsListEntry
	NextMarker string `json:",omitempty"`
	Truncated  bool
}
