package keys

import (
	"bytes"
	"crypto/sha3"
)

// ML-DSA verification of a signature over an externally computed μ:
// ML-DSA.Verify_internal of FIPS 204 (Algorithm 8) from line 7 on, with μ
// given instead of computed from the message. filippo.io/mldsa (and
// crypto/mldsa) sign a μ but expose no way to verify one
// (golang/go#80272); replace this file with that API once it exists.
//
// Only public data goes through here (the public key, μ, the signature),
// so none of it needs to run in constant time. Numbers are kept reduced
// mod q in uint32. Tests check it against Wycheproof's verification
// vectors, against filippo.io/mldsa's Verify and against circl.

const (
	mldsaQ = 8380417
	mldsaN = 256
	mldsaD = 13
	// mldsaInvN is 256⁻¹ mod q, the scaling of the inverse NTT.
	mldsaInvN = 8347681
)

// mldsaMuParams is one parameter set of FIPS 204 Table 1.
type mldsaMuParams struct {
	k, l       int
	eta        int
	tau        int
	lambda     int // c̃ is λ/4 bytes
	gamma1Bits int // γ1 = 2^gamma1Bits
	gamma2     uint32
	omega      int
}

var mldsaMuParamSets = []mldsaMuParams{
	{k: 4, l: 4, eta: 2, tau: 39, lambda: 128, gamma1Bits: 17, gamma2: (mldsaQ - 1) / 88, omega: 80}, // ML-DSA-44
	{k: 6, l: 5, eta: 4, tau: 49, lambda: 192, gamma1Bits: 19, gamma2: (mldsaQ - 1) / 32, omega: 55}, // ML-DSA-65
	{k: 8, l: 7, eta: 2, tau: 60, lambda: 256, gamma1Bits: 19, gamma2: (mldsaQ - 1) / 32, omega: 75}, // ML-DSA-87
}

func (p *mldsaMuParams) publicKeySize() int { return 32 + 32*10*p.k }

func (p *mldsaMuParams) signatureSize() int {
	return p.lambda/4 + p.l*32*(p.gamma1Bits+1) + p.omega + p.k
}

// mldsaZetas[i] is ζ^BitRev₈(i) mod q with ζ = 1753 (FIPS 204 Appendix B).
var mldsaZetas = func() (z [mldsaN]uint32) {
	for i := range z {
		var br int
		for b := range 8 {
			br |= (i >> b & 1) << (7 - b)
		}
		x := uint64(1)
		for range br {
			x = x * 1753 % mldsaQ
		}
		z[i] = uint32(x)
	}
	return z
}()

type mldsaPoly [mldsaN]uint32

func mldsaMul(a, b uint32) uint32 { return uint32(uint64(a) * uint64(b) % mldsaQ) }
func mldsaAdd(a, b uint32) uint32 { return (a + b) % mldsaQ }
func mldsaSub(a, b uint32) uint32 { return (a + mldsaQ - b) % mldsaQ }

// mldsaNTT is Algorithm 41, in place.
func mldsaNTT(w *mldsaPoly) {
	m := 0
	for length := 128; length >= 1; length /= 2 {
		for start := 0; start < mldsaN; start += 2 * length {
			m++
			z := mldsaZetas[m]
			for j := start; j < start+length; j++ {
				t := mldsaMul(z, w[j+length])
				w[j+length] = mldsaSub(w[j], t)
				w[j] = mldsaAdd(w[j], t)
			}
		}
	}
}

// mldsaInvNTT is Algorithm 42, in place.
func mldsaInvNTT(w *mldsaPoly) {
	m := mldsaN
	for length := 1; length < mldsaN; length *= 2 {
		for start := 0; start < mldsaN; start += 2 * length {
			m--
			z := mldsaQ - mldsaZetas[m]
			for j := start; j < start+length; j++ {
				t := w[j]
				w[j] = mldsaAdd(t, w[j+length])
				w[j+length] = mldsaMul(z, mldsaSub(t, w[j+length]))
			}
		}
	}
	for j := range w {
		w[j] = mldsaMul(w[j], mldsaInvN)
	}
}

// mldsaUnpack reads 256 little-endian bits-bit numbers from the first
// 32*bits bytes of b (SimpleBitUnpack's bit order, Algorithms 18 and 19).
func mldsaUnpack(b []byte, bits int) (out [mldsaN]uint32) {
	var acc uint64
	n, i := 0, 0
	for j := range out {
		for n < bits {
			acc |= uint64(b[i]) << n
			i++
			n += 8
		}
		out[j] = uint32(acc & (1<<bits - 1))
		acc >>= bits
		n -= bits
	}
	return out
}

// mldsaPack appends the 256 bits-bit numbers of a (each < 2^bits) to b,
// little-endian (SimpleBitPack, Algorithm 16).
func mldsaPack(b []byte, a *mldsaPoly, bits int) []byte {
	var acc uint64
	n := 0
	for _, x := range a {
		acc |= uint64(x) << n
		n += bits
		for n >= 8 {
			b = append(b, byte(acc))
			acc >>= 8
			n -= 8
		}
	}
	return b
}

// mldsaRejNTTPoly is Algorithm 30: the element Â[r][s] of ExpandA
// (Algorithm 32) for seed = ρ || s || r.
func mldsaRejNTTPoly(seed []byte) (a mldsaPoly) {
	g := sha3.NewSHAKE128()
	g.Write(seed)
	var buf [168]byte // the SHAKE128 rate, a multiple of 3
	for j := 0; j < mldsaN; {
		g.Read(buf[:])
		for i := 0; i+3 <= len(buf) && j < mldsaN; i += 3 {
			z := uint32(buf[i]) | uint32(buf[i+1])<<8 | uint32(buf[i+2]&0x7f)<<16
			if z < mldsaQ {
				a[j] = z
				j++
			}
		}
	}
	return a
}

// mldsaSampleInBall is Algorithm 29: the challenge polynomial of c̃, with
// τ coefficients ±1, reduced mod q.
func mldsaSampleInBall(ct []byte, tau int) (c mldsaPoly) {
	h := sha3.NewSHAKE256()
	h.Write(ct)
	var s [8]byte
	h.Read(s[:])
	signs := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	var j [1]byte
	for i := mldsaN - tau; i < mldsaN; i++ {
		h.Read(j[:])
		for int(j[0]) > i {
			h.Read(j[:])
		}
		c[i] = c[j[0]]
		if signs&1 == 0 {
			c[j[0]] = 1
		} else {
			c[j[0]] = mldsaQ - 1
		}
		signs >>= 1
	}
	return c
}

// mldsaHintUnpack is Algorithm 21 on the ω+k bytes y. ok is false if the
// hints are malformed: counts not increasing or over ω, indices within a
// polynomial not strictly increasing, or unused index bytes not zero.
func mldsaHintUnpack(y []byte, k, omega int) (h [][mldsaN]bool, ok bool) {
	h = make([][mldsaN]bool, k)
	index := 0
	for i := range k {
		end := int(y[omega+i])
		if end < index || end > omega {
			return nil, false
		}
		first := index
		for ; index < end; index++ {
			if index > first && y[index-1] >= y[index] {
				return nil, false
			}
			h[i][y[index]] = true
		}
	}
	for _, b := range y[index:omega] {
		if b != 0 {
			return nil, false
		}
	}
	return h, true
}

// mldsaUseHint is Algorithm 40 (with Decompose, Algorithm 36) on r mod q.
func mldsaUseHint(hint bool, r, gamma2 uint32) uint32 {
	m := int64(mldsaQ-1) / int64(2*gamma2)
	// r0 = r mod± 2γ2, in (-γ2, γ2].
	r0 := int64(r % (2 * gamma2))
	if r0 > int64(gamma2) {
		r0 -= int64(2 * gamma2)
	}
	var r1 int64
	if int64(r)-r0 == mldsaQ-1 {
		r1, r0 = 0, r0-1
	} else {
		r1 = (int64(r) - r0) / int64(2*gamma2)
	}
	switch {
	case !hint:
		return uint32(r1)
	case r0 > 0:
		return uint32((r1 + 1) % m)
	default:
		return uint32((r1 - 1 + m) % m)
	}
}

// mldsaVerifyMu reports whether sig is a valid ML-DSA signature of the
// 64-byte μ under the encoded public key pk, whose length picks the
// parameter set. It never panics, whatever the lengths.
func mldsaVerifyMu(pk, mu, sig []byte) bool {
	var p *mldsaMuParams
	for i := range mldsaMuParamSets {
		if mldsaMuParamSets[i].publicKeySize() == len(pk) {
			p = &mldsaMuParamSets[i]
		}
	}
	if p == nil || len(mu) != 64 || len(sig) != p.signatureSize() {
		return false
	}

	// sigDecode (Algorithm 27).
	ct := sig[:p.lambda/4]
	zBits := p.gamma1Bits + 1
	zEnc := sig[len(ct) : len(ct)+p.l*32*zBits]
	h, ok := mldsaHintUnpack(sig[len(ct)+len(zEnc):], p.k, p.omega)
	if !ok {
		return false
	}
	// z = γ1 - BitUnpack, which must have ‖z‖∞ < γ1 - β (line 13).
	gamma1 := int64(1) << p.gamma1Bits
	bound := gamma1 - int64(p.tau*p.eta)
	zHat := make([]mldsaPoly, p.l)
	for i := range zHat {
		u := mldsaUnpack(zEnc[i*32*zBits:], zBits)
		for j, x := range u {
			v := gamma1 - int64(x)
			if v >= bound || -v >= bound {
				return false
			}
			zHat[i][j] = uint32((v + mldsaQ) % mldsaQ)
		}
		mldsaNTT(&zHat[i])
	}

	cHat := mldsaSampleInBall(ct, p.tau)
	mldsaNTT(&cHat)

	// pkDecode (Algorithm 23): ρ, then t1 in 10-bit coefficients.
	rho := pk[:32]
	seed := make([]byte, 34)
	copy(seed, rho)

	w1 := make([]byte, 0, p.k*32*6)
	w1Bits := 4
	if p.gamma2 == (mldsaQ-1)/88 {
		w1Bits = 6
	}
	for i := range p.k {
		// w'approx[i] = NTT⁻¹(Σⱼ Â[i][j]∘ẑ[j] − ĉ∘NTT(t1[i]·2ᵈ)).
		var acc mldsaPoly
		for j := range p.l {
			seed[32], seed[33] = byte(j), byte(i)
			a := mldsaRejNTTPoly(seed)
			for n := range acc {
				acc[n] = mldsaAdd(acc[n], mldsaMul(a[n], zHat[j][n]))
			}
		}
		t1 := mldsaPoly(mldsaUnpack(pk[32+i*320:], 10))
		for n := range t1 {
			t1[n] <<= mldsaD // < q: t1 has 10 bits
		}
		mldsaNTT(&t1)
		for n := range acc {
			acc[n] = mldsaSub(acc[n], mldsaMul(cHat[n], t1[n]))
		}
		mldsaInvNTT(&acc)
		for n := range acc {
			acc[n] = mldsaUseHint(h[i][n], acc[n], p.gamma2)
		}
		w1 = mldsaPack(w1, &acc, w1Bits) // w1Encode (Algorithm 28)
	}

	// c̃' = H(μ || w1Encode(w'1), λ/4).
	H := sha3.NewSHAKE256()
	H.Write(mu)
	H.Write(w1)
	ct2 := make([]byte, len(ct))
	H.Read(ct2)
	return bytes.Equal(ct, ct2)
}
