package audit

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Hash is a SHA-256 digest in the chain: a record's hash, or a checkpoint
// signature's.
type Hash [sha256.Size]byte

// String returns the hash in lower-case hex, as checkpoints write it.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

func parseHash(s string) (Hash, error) {
	var h Hash
	if len(s) != 2*len(h) {
		return h, fmt.Errorf("hash %q: want %d hex digits", s, 2*len(h))
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, fmt.Errorf("hash %q: %w", s, err)
	}
	if h.String() != s { // upper-case digits would decode too
		return h, fmt.Errorf("hash %q: not lower-case hex", s)
	}
	return h, nil
}

func toHash(b []byte) (Hash, error) {
	var h Hash
	if len(b) != len(h) {
		return h, fmt.Errorf("%d-byte hash", len(b))
	}
	copy(h[:], b)
	return h, nil
}

// recordHash is the chain hash of the record with sequence number seq whose
// stored JSON is body, chained to prev.
func recordHash(prev Hash, seq uint64, body []byte) Hash {
	h := sha256.New()
	h.Write(prev[:])
	h.Write(binary.BigEndian.AppendUint64(nil, seq))
	h.Write(body)
	return Hash(h.Sum(nil))
}

// Domain separation: a signature over one kind of statement never verifies
// as the other.
const (
	checkpointDomain = "openkms-audit-checkpoint-v1\n"
	anchorDomain     = "openkms-audit-anchor-v1\n"
)

// Checkpoint is a signed statement that a region's chain, up to and
// including record Seq, ends in Hash. It is stored as the JSON bytes that
// were signed.
type Checkpoint struct {
	Version int    `json:"version"` // 1
	Region  string `json:"region"`
	Seq     uint64 `json:"seq"`  // last record covered
	Hash    string `json:"hash"` // that record's chain hash, hex
	// PreviousSignatureHash is the SHA-256 of the signature of the region's
	// previous checkpoint, hex; zeros for the first.
	PreviousSignatureHash string    `json:"previousSignatureHash"`
	Time                  time.Time `json:"time"`
	Reason                string    `json:"reason"` // count, interval, close or prune
	// KeyFingerprint names the signing key (see [Fingerprint]); it only
	// helps to tell a wrong key from a forged signature.
	KeyFingerprint string `json:"keyFingerprint"`
}

// Anchor is a signed statement, written by [Log.Prune], that a region's
// chain now starts at record Seq, which chains to PreviousHash, and that the
// region's first remaining checkpoint chains to PreviousSignatureHash.
type Anchor struct {
	Version               int       `json:"version"` // 1
	Region                string    `json:"region"`
	Seq                   uint64    `json:"seq"`
	PreviousHash          string    `json:"previousHash"`
	PreviousSignatureHash string    `json:"previousSignatureHash"`
	PrunedBefore          time.Time `json:"prunedBefore"`
	Time                  time.Time `json:"time"`
	KeyFingerprint        string    `json:"keyFingerprint"`
}

// Fingerprint is a short name for a public key: the first 8 bytes of its
// SHA-256, in hex.
func Fingerprint(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// signed encodes v and signs the encoding under domain.
func signed(priv ed25519.PrivateKey, domain string, v any) (body, sig []byte, err error) {
	body, err = json.Marshal(v)
	if err != nil {
		return nil, nil, err
	}
	return body, ed25519.Sign(priv, append([]byte(domain), body...)), nil
}

var errBadSignature = errors.New("signature does not verify")

// parseSigned checks sig over body under domain, then decodes body into v
// with parseCanonical. It reports errBadSignature before looking at body.
func parseSigned(pub ed25519.PublicKey, domain string, body, sig []byte, v any) error {
	if len(sig) != ed25519.SignatureSize || !ed25519.Verify(pub, append([]byte(domain), body...), sig) {
		return errBadSignature
	}
	return parseCanonical(body, v)
}

// parseCanonical decodes body into v, accepting only the encoding the log
// itself writes: known members, in order, nothing after, so that a
// statement has exactly one form.
func parseCanonical(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	again, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if !bytes.Equal(again, body) {
		return errors.New("not in canonical form")
	}
	return nil
}

// sigHash is what the next checkpoint's PreviousSignatureHash holds.
func sigHash(sig []byte) Hash { return sha256.Sum256(sig) }

// fields validates a decoded checkpoint's members and decodes its hashes.
func (c *Checkpoint) fields() (hash, prevSig Hash, err error) {
	if c.Version != 1 {
		return hash, prevSig, fmt.Errorf("version %d", c.Version)
	}
	if hash, err = parseHash(c.Hash); err != nil {
		return hash, prevSig, err
	}
	prevSig, err = parseHash(c.PreviousSignatureHash)
	return hash, prevSig, err
}

func (a *Anchor) fields() (prev, prevSig Hash, err error) {
	if a.Version != 1 {
		return prev, prevSig, fmt.Errorf("version %d", a.Version)
	}
	if a.Seq < 1 {
		return prev, prevSig, errors.New("seq 0")
	}
	if prev, err = parseHash(a.PreviousHash); err != nil {
		return prev, prevSig, err
	}
	prevSig, err = parseHash(a.PreviousSignatureHash)
	return prev, prevSig, err
}
