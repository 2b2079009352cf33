package password

import (
	"errors"
	"strings"
	"testing"
)

// A valid hash under testParams, split into its fields for tampering.
const (
	goodParams = "m=8192,t=1,p=1"
	goodSalt   = "c2FsdHNhbHRzYWx0c2FsdA"                      // 16 bytes
	goodKey    = "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"     // 29 bytes
	key32      = "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U" // 32 bytes
)

func phc(alg, version, params, salt, key string) string {
	return "$" + alg + "$" + version + "$" + params + "$" + salt + "$" + key
}

func TestCheck_TamperedHashFails(t *testing.T) {
	const pw = "correct horse battery staple"
	h := mustHash(t, pw, testParams)
	parts := strings.Split(h, "$")
	flip := func(s string) string { // changes the first character's bits
		if s[0] == 'A' {
			return "B" + s[1:]
		}
		return "A" + s[1:]
	}
	for name, tampered := range map[string]string{
		"salt":        phc(parts[1], parts[2], parts[3], flip(parts[4]), parts[5]),
		"key":         phc(parts[1], parts[2], parts[3], parts[4], flip(parts[5])),
		"memory":      phc(parts[1], parts[2], "m=8193,t=1,p=1", parts[4], parts[5]),
		"time":        phc(parts[1], parts[2], "m=8192,t=2,p=1", parts[4], parts[5]),
		"parallelism": phc(parts[1], parts[2], "m=8192,t=1,p=2", parts[4], parts[5]),
		"key cut":     phc(parts[1], parts[2], parts[3], parts[4], parts[5][:24]), // 18 bytes: a valid length
	} {
		if mustCheck(t, tampered, pw) {
			t.Errorf("tampered %s: Check accepted the password", name)
		}
	}
}

func TestCheck_MalformedRefused(t *testing.T) {
	for _, c := range []struct {
		name, encoded string
		// want is a part of the error's message.
		want string
	}{
		{"empty", "", "not of the form"},
		{"no leading $", strings.TrimPrefix(phc("argon2id", "v=19", goodParams, goodSalt, key32), "$"), "not of the form"},
		{"missing key", "$argon2id$v=19$" + goodParams + "$" + goodSalt, "not of the form"},
		{"extra field", phc("argon2id", "v=19", goodParams, goodSalt, key32) + "$x", "not of the form"},
		{"too long", phc("argon2id", "v=19", goodParams, goodSalt, strings.Repeat("A", 300)), "longer than 256"},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy", "not of the form"},
		{"argon2i", phc("argon2i", "v=19", goodParams, goodSalt, key32), `algorithm "argon2i"`},
		{"argon2d", phc("argon2d", "v=19", goodParams, goodSalt, key32), `algorithm "argon2d"`},
		{"capitals", phc("Argon2id", "v=19", goodParams, goodSalt, key32), "algorithm"},
		{"version 16", phc("argon2id", "v=16", goodParams, goodSalt, key32), `version "v=16"`},
		{"no version", phc("argon2id", "", goodParams, goodSalt, key32), "version"},
		{"params out of order", phc("argon2id", "v=19", "t=1,m=8192,p=1", goodSalt, key32), "not m=,t=,p="},
		{"param missing", phc("argon2id", "v=19", "m=8192,t=1", goodSalt, key32), "not m=,t=,p="},
		{"param extra", phc("argon2id", "v=19", goodParams+",k=1", goodSalt, key32), "not m=,t=,p="},
		{"param not a number", phc("argon2id", "v=19", "m=lots,t=1,p=1", goodSalt, key32), "m=\"lots\""},
		{"param negative", phc("argon2id", "v=19", "m=8192,t=-1,p=1", goodSalt, key32), "t=\"-1\""},
		{"param empty", phc("argon2id", "v=19", "m=8192,t=,p=1", goodSalt, key32), "t=\"\""},
		{"memory over 2^32", phc("argon2id", "v=19", "m=4294967296,t=1,p=1", goodSalt, key32), "below 2^32"},
		{"parallelism over 255", phc("argon2id", "v=19", "m=8192,t=1,p=256", goodSalt, key32), "below 2^8"},
		{"memory too small", phc("argon2id", "v=19", "m=8191,t=1,p=1", goodSalt, key32), "memory m=8191 KiB"},
		{"memory 4 GiB", phc("argon2id", "v=19", "m=4194304,t=1,p=1", goodSalt, key32), "memory m=4194304 KiB"},
		{"time zero", phc("argon2id", "v=19", "m=8192,t=0,p=1", goodSalt, key32), "time t=0"},
		{"time 11", phc("argon2id", "v=19", "m=8192,t=11,p=1", goodSalt, key32), "time t=11"},
		{"parallelism zero", phc("argon2id", "v=19", "m=8192,t=1,p=0", goodSalt, key32), "parallelism p=0"},
		{"parallelism 17", phc("argon2id", "v=19", "m=8192,t=1,p=17", goodSalt, key32), "parallelism p=17"},
		{"salt padded", phc("argon2id", "v=19", goodParams, goodSalt+"==", key32), "salt is not unpadded base64"},
		{"salt bad character", phc("argon2id", "v=19", goodParams, "c2FsdHNhbHRz*Wx0c2FsdA", key32), "salt is not"},
		{"salt url alphabet", phc("argon2id", "v=19", goodParams, "c2FsdHNhbHRz_Wx0c2FsdA", key32), "salt is not"},
		{"salt trailing bits", phc("argon2id", "v=19", goodParams, "c2FsdHNhbHRzYWx0c2FsdB", key32), "salt is not"},
		{"salt empty", phc("argon2id", "v=19", goodParams, "", key32), "salt of 0 bytes"},
		{"salt short", phc("argon2id", "v=19", goodParams, "c2FsdHNhbHQ", key32), "salt of 8 bytes"},
		{"key bad", phc("argon2id", "v=19", goodParams, goodSalt, "a2V5!"), "key is not"},
		{"key short", phc("argon2id", "v=19", goodParams, goodSalt, "a2V5a2V5"), "key of 6 bytes"},
		{"key long", phc("argon2id", "v=19", goodParams, goodSalt, strings.Repeat("AAAA", 22)), "key of 66 bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ok, err := Check(c.encoded, "correct horse battery staple")
			if ok || !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("Check = %v, %v; want false and ErrMalformedHash", ok, err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
		})
	}
}

func TestCheck_OutOfBoundsIsInvalidParams(t *testing.T) {
	_, err := Check(phc("argon2id", "v=19", "m=4194304,t=1,p=1", goodSalt, key32), "x")
	if !errors.Is(err, ErrMalformedHash) || !errors.Is(err, ErrInvalidParams) {
		t.Fatalf("err %v, want both ErrMalformedHash and ErrInvalidParams", err)
	}
}

func TestDecode_ReadsWhatEncodeWrites(t *testing.T) {
	h := phc("argon2id", "v=19", goodParams, goodSalt, goodKey)
	p, salt, key, err := decode(h)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Params{MemoryKiB: 8192, Time: 1, Parallelism: 1, SaltLen: 16, KeyLen: 29}); p != want {
		t.Errorf("params %+v, want %+v", p, want)
	}
	if got := encode(p, salt, key); got != h {
		t.Errorf("encode(decode(h)) = %q, want %q", got, h)
	}
}
