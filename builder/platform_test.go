package builder_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/assetpack/assetpack/builder"
)

func TestParsePlatformsNormalises(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		note     bool
	}{
		{"linux/amd64", "linux/amd64", false},
		{"linux/arm64/v8", "linux/arm64/v8", false},
		{"linux/arm/v7", "linux/arm/v7", false},
		{"windows/amd64", "windows/amd64", false},
		{"linux/amd64/v3", "linux/amd64/v3", false},
		{"linux/aarch64", "linux/arm64", true},
		{"linux/x86_64", "linux/amd64", true},
		{"linux/x86-64", "linux/amd64", true},
		{"linux/armhf", "linux/arm/v7", true},
		{"linux/i386", "linux/386", true},
		{"linux/i686", "linux/386", true},
		{"Linux/AMD64", "linux/amd64", true},
		{"macos/arm64", "darwin/arm64", true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			ps, notes, err := builder.ParsePlatformsWithNotes([]string{tc.in})
			if err != nil {
				t.Fatalf("ParsePlatformsWithNotes(%q) = %v", tc.in, err)
			}
			if got := ps[0].String(); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
			if tc.note != (len(notes) == 1) {
				t.Fatalf("notes = %v, want one: %v", notes, tc.note)
			}
			if tc.note {
				want := "platform " + tc.in + " is written " + tc.want + ", the name runtimes match"
				if notes[0].String() != want {
					t.Errorf("note = %q, want %q", notes[0], want)
				}
			}
		})
	}
}

func TestParsePlatformsRefuses(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"linux/amd65", []string{`platform "linux/amd65": unknown architecture "amd65" for linux (did you mean amd64?); linux architectures are 386, amd64, arm, arm64,`}},
		{"linux/sparc", []string{`unknown architecture "sparc" for linux; linux architectures are`}},
		{"linx/amd64", []string{`unknown operating system "linx" (did you mean linux?); use one of aix, android,`}},
		{"linux/arm/v9", []string{`unknown variant "v9" of arm (did you mean v5?); use one of v5, v6, v7, v8`}},
		{"linux/riscv64/v1", []string{`riscv64 has no variants; use linux/riscv64`}},
		{"linux/armhf/v6", []string{`armhf is arm/v7, which has no variant "v6"`}},
		{"windows/s390x", []string{`unknown architecture "s390x" for windows; windows architectures are 386, amd64, arm64`}},
		{"linux", []string{`platform "linux" is not of the form os/arch[/variant]`}},
		{"linux/amd64/v2/x", []string{`is not of the form`}},
		{"linux/amd64,linux/x86_64", []string{`"linux/x86_64" is listed twice`}},
		// Every bad value is reported, one per line.
		{"linux/amd65,linux/arm64,darwin/s390x", []string{`"linux/amd65": unknown architecture`, "\nplatform \"darwin/s390x\": unknown architecture"}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			_, err := builder.ParsePlatforms([]string{tc.in})
			if err == nil {
				t.Fatalf("ParsePlatforms(%q) succeeded", tc.in)
			}
			var oe *builder.OptionError
			if !errors.As(err, &oe) || oe.Option != "platform" || !errors.Is(err, builder.ErrBadInput) {
				t.Errorf("err = %#v, want a platform OptionError matching ErrBadInput", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}
