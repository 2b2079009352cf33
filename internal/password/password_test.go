package password

import (
	"errors"
	"strings"
	"testing"
)

// testParams are the smallest parameters within bounds, so that each hash in
// the tests takes milliseconds.
var testParams = Params{MemoryKiB: MinMemoryKiB, Time: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}

func mustHash(t *testing.T, password string, p Params) string {
	t.Helper()
	h, err := HashWith(password, p)
	if err != nil {
		t.Fatalf("HashWith: %v", err)
	}
	return h
}

func mustCheck(t *testing.T, encoded, password string) bool {
	t.Helper()
	ok, err := Check(encoded, password)
	if err != nil {
		t.Fatalf("Check(%q): %v", encoded, err)
	}
	return ok
}

func TestHash_RoundTrip(t *testing.T) {
	for _, pw := range []string{"correct horse battery staple", "pässwörd-ünïcode", strings.Repeat("x", MaxHashInput), ""} {
		h := mustHash(t, pw, testParams)
		if !mustCheck(t, h, pw) {
			t.Errorf("Check refused the password it was hashed from (%d bytes)", len(pw))
		}
	}
}

func TestHash_DefaultParams(t *testing.T) {
	h, err := Hash("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if want := "$argon2id$v=19$m=65536,t=3,p=2$"; !strings.HasPrefix(h, want) {
		t.Fatalf("hash %q does not start with %q", h, want)
	}
	parts := strings.Split(h, "$")
	if len(parts[4]) != 22 || len(parts[5]) != 43 { // 16 and 32 bytes in unpadded base64
		t.Errorf("salt %d and key %d characters, want 22 and 43", len(parts[4]), len(parts[5]))
	}
	if !mustCheck(t, h, "correct horse battery staple") {
		t.Error("Check refused the right password")
	}
	if mustCheck(t, h, "correct horse battery stapler") {
		t.Error("Check accepted a wrong password")
	}
	if NeedsRehash(h, DefaultParams()) {
		t.Error("a fresh hash needs rehashing under the defaults")
	}
}

func TestCheck_WrongPassword(t *testing.T) {
	h := mustHash(t, "correct horse battery staple", testParams)
	for _, pw := range []string{"", "correct horse battery stapl", "correct horse battery staple ", "Correct horse battery staple"} {
		if mustCheck(t, h, pw) {
			t.Errorf("Check accepted %q", pw)
		}
	}
}

func TestCheck_OverlongPasswordFails(t *testing.T) {
	h := mustHash(t, strings.Repeat("x", MaxHashInput), testParams)
	if mustCheck(t, h, strings.Repeat("x", MaxHashInput+1)) {
		t.Error("Check accepted a password longer than Hash accepts")
	}
}

func TestHash_SamePasswordDiffers(t *testing.T) {
	a := mustHash(t, "correct horse battery staple", testParams)
	b := mustHash(t, "correct horse battery staple", testParams)
	if a == b {
		t.Fatalf("two hashes of one password are equal: %q", a)
	}
	if strings.Split(a, "$")[4] == strings.Split(b, "$")[4] {
		t.Error("two hashes share a salt")
	}
}

func TestHash_RefusesOverlong(t *testing.T) {
	_, err := Hash(strings.Repeat("x", MaxHashInput+1))
	if !errors.Is(err, ErrTooLong) || !strings.Contains(err.Error(), "1024") {
		t.Fatalf("Hash of %d bytes: %v, want ErrTooLong naming 1024", MaxHashInput+1, err)
	}
}

func TestHashWith_RefusesParamsOutOfBounds(t *testing.T) {
	for name, mod := range map[string]func(*Params){
		"memory low":       func(p *Params) { p.MemoryKiB = MinMemoryKiB - 1 },
		"memory high":      func(p *Params) { p.MemoryKiB = MaxMemoryKiB + 1 },
		"time zero":        func(p *Params) { p.Time = 0 },
		"time high":        func(p *Params) { p.Time = MaxTime + 1 },
		"parallelism zero": func(p *Params) { p.Parallelism = 0 },
		"parallelism high": func(p *Params) { p.Parallelism = MaxParallelism + 1 },
		"salt short":       func(p *Params) { p.SaltLen = MinSaltLen - 1 },
		"salt long":        func(p *Params) { p.SaltLen = MaxSaltLen + 1 },
		"key short":        func(p *Params) { p.KeyLen = MinKeyLen - 1 },
		"key long":         func(p *Params) { p.KeyLen = MaxKeyLen + 1 },
	} {
		p := testParams
		mod(&p)
		if _, err := HashWith("correct horse battery staple", p); !errors.Is(err, ErrInvalidParams) {
			t.Errorf("%s: %v, want ErrInvalidParams", name, err)
		}
	}
}

func TestValidate_Bounds(t *testing.T) {
	for _, c := range []struct {
		n       int
		want    error
		mention string
	}{
		{0, ErrTooShort, "8"},
		{MinLength - 1, ErrTooShort, "at least 8 bytes"},
		{MinLength, nil, ""},
		{MaxLength, nil, ""},
		{MaxLength + 1, ErrTooLong, "at most 256 bytes"},
		{MaxHashInput + 1, ErrTooLong, "256"},
	} {
		err := Validate(strings.Repeat("a", c.n))
		if !errors.Is(err, c.want) || (err == nil) != (c.want == nil) {
			t.Errorf("Validate of %d bytes: %v, want %v", c.n, err, c.want)
			continue
		}
		if err != nil && !strings.Contains(err.Error(), c.mention) {
			t.Errorf("Validate of %d bytes: %q does not say %q", c.n, err, c.mention)
		}
	}
}

func TestNeedsRehash_ParamsChange(t *testing.T) {
	h := mustHash(t, "correct horse battery staple", testParams)
	if NeedsRehash(h, testParams) {
		t.Error("NeedsRehash under the params it was made with")
	}
	for name, mod := range map[string]func(*Params){
		"memory":      func(p *Params) { p.MemoryKiB *= 2 },
		"time":        func(p *Params) { p.Time++ },
		"parallelism": func(p *Params) { p.Parallelism++ },
		"salt":        func(p *Params) { p.SaltLen = 32 },
		"key":         func(p *Params) { p.KeyLen = 64 },
	} {
		p := testParams
		mod(&p)
		if !NeedsRehash(h, p) {
			t.Errorf("%s changed: NeedsRehash is false", name)
		}
	}
	if !NeedsRehash("$2a$10$bcrypthash", testParams) {
		t.Error("NeedsRehash of an unreadable hash is false")
	}
}

func TestDummyCheck_CostsAsMuchAsCheck(t *testing.T) {
	// DummyCheck goes through Check, so its cost is that of its hash's
	// parameters: they must be the defaults of real hashes. (Timing it
	// against a real Check would be slow and flaky on a busy machine.)
	p, _, _, err := decode(dummyHash)
	if err != nil {
		t.Fatalf("the dummy hash does not decode: %v", err)
	}
	if p != DefaultParams() {
		t.Errorf("the dummy hash has params %+v, real hashes %+v", p, DefaultParams())
	}
	// What DummyCheck does, with its result seen: a full check that fails.
	if ok, err := Check(dummyHash, "correct horse battery staple"); ok || err != nil {
		t.Errorf("Check of the dummy hash = %v, %v; want false, nil", ok, err)
	}
}

// BenchmarkHash_DefaultParams measures the cost of one login's check on this
// machine (ns/op), which the issue asks to report.
func BenchmarkHash_DefaultParams(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Hash("correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}
