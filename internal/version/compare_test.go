package version

import "testing"

func TestParse_Forms(t *testing.T) {
	cases := map[string]Semver{
		"0.1.0":                         {Minor: 1},
		"v0.2.3":                        {Minor: 2, Patch: 3},
		"10.20.30":                      {Major: 10, Minor: 20, Patch: 30},
		"0.1.0-dev":                     {Minor: 1, Pre: "dev"},
		"v0.2.0-rc.1":                   {Minor: 2, Pre: "rc.1"},
		"1.0.0+build.7":                 {Major: 1},
		"v0.1.0-5-gabc123":              {Minor: 1, Commits: 5},
		"v0.1.0-5-gabc1234-dirty":       {Minor: 1, Commits: 5},
		"v0.2.0-rc.1-3-gabc1234":        {Minor: 2, Pre: "rc.1", Commits: 3},
		"0.1.0-dirty":                   {Minor: 1},
		"f179328":                       {Dev: true},
		"f179328-dirty":                 {Dev: true},
		"dev":                           {Dev: true},
		"f1793281c2a9c3bd5b2b2e4f1f0e7": {Dev: true},
	}
	for in, want := range cases {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
}

func TestParse_Refuses(t *testing.T) {
	for _, in := range []string{"", "  ", "test", "0.1", "1", "v", "beef", "0.1.0.1", "01.2.3", "0.1.0-", "0.1.0 beta", "release-0.1.0", "F179328X"} {
		if v, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %+v, want an error", in, v)
		}
	}
}

func TestCompare_Order(t *testing.T) {
	// Each version is older than the next; Compare must agree on every pair.
	order := []string{
		"0.0.9",
		"0.1.0-alpha",
		"0.1.0-alpha.1",
		"0.1.0-alpha.beta",
		"0.1.0-beta.2",
		"0.1.0-beta.11",
		"0.1.0-dev",
		"0.1.0-rc.1",
		"v0.1.0-rc.1-2-gabc1234",
		"0.1.0",
		"v0.1.0-5-gabc1234",
		"v0.1.0-12-gabc1234-dirty",
		"0.1.1",
		"0.2.0",
		"0.10.0",
		"1.0.0",
		"f179328",
	}
	for i, a := range order {
		for j, b := range order {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := Compare(MustParse(a), MustParse(b)); got != want {
				t.Errorf("Compare(%q, %q) = %d, want %d", a, b, got, want)
			}
		}
	}
	equal := [][2]string{{"0.1.0", "v0.1.0"}, {"0.1.0", "0.1.0+build"}, {"0.1.0", "0.1.0-dirty"}, {"f179328", "dev"}, {"f179328", "abc1234-dirty"}}
	for _, p := range equal {
		if c := Compare(MustParse(p[0]), MustParse(p[1])); c != 0 {
			t.Errorf("Compare(%q, %q) = %d, want 0", p[0], p[1], c)
		}
	}
}

func TestAtLeast_Gate(t *testing.T) {
	cases := []struct {
		node, need string
		ok         bool
	}{
		{"0.1.0", "0.1.0", true},
		{"0.2.0", "0.1.0", true},
		{"0.0.9", "0.1.0", false},
		{"0.1.0-dev", "0.1.0", true},  // a pre-release meets its release
		{"0.2.0-rc.1", "0.2.0", true}, // so does a release candidate
		{"0.1.0-dev", "0.2.0", false}, // but not the next one
		{"v0.1.0-5-gabc123", "0.1.0", true},
		{"v0.1.0-5-gabc123", "0.1.1", false}, // commits after a tag are not the next release
		{"0.1.1", "0.1.0", true},
		{"1.0.0", "0.9.9", true},
		{"f179328", "9.9.9", true}, // a dev build is never held back
		{"f179328-dirty", "0.1.0", true},
	}
	for _, c := range cases {
		if got := MustParse(c.node).AtLeast(MustParse(c.need)); got != c.ok {
			t.Errorf("%s AtLeast %s = %v, want %v", c.node, c.need, got, c.ok)
		}
	}
}

func TestSemver_String(t *testing.T) {
	cases := map[string]string{"v0.1.0": "0.1.0", "0.1.0-dev": "0.1.0-dev", "v0.1.0-5-gabc123-dirty": "0.1.0+5", "v0.2.0-rc.1-3-gabc1234": "0.2.0-rc.1+3", "f179328": "dev"}
	for in, want := range cases {
		if got := MustParse(in).String(); got != want {
			t.Errorf("%q reads %q, want %q", in, got, want)
		}
	}
}

func TestVersion_OfThisBuildParses(t *testing.T) {
	if _, err := Parse(Version); err != nil {
		t.Fatalf("the default version does not parse: %v", err)
	}
}
