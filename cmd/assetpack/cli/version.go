package cli

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version, commit and date are stamped by release builds:
//
//	-ldflags "-X github.com/assetpack/assetpack/cmd/assetpack/cli.version=v1.2.3
//	          -X github.com/assetpack/assetpack/cmd/assetpack/cli.commit=<sha>
//	          -X github.com/assetpack/assetpack/cmd/assetpack/cli.date=<RFC 3339>"
//
// A plain `go build` or `go install` leaves them empty: the module version
// and the VCS revision and time that the go command embeds are used then.
var version, commit, date = "", "", ""

// BuildInfo describes this binary.
type BuildInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	Date      string `json:"date,omitempty"`
	Modified  bool   `json:"modified,omitempty"` // built from a work tree with uncommitted changes
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Info returns what is known about this binary's build.
func Info() BuildInfo {
	bi := BuildInfo{Version: version, Commit: commit, Date: date, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if b, ok := debug.ReadBuildInfo(); ok {
		if bi.Version == "" && b.Main.Version != "" && b.Main.Version != "(devel)" {
			bi.Version = b.Main.Version
		}
		for _, s := range b.Settings {
			switch s.Key {
			case "vcs.revision":
				if bi.Commit == "" {
					bi.Commit = s.Value
				}
			case "vcs.time":
				if bi.Date == "" {
					bi.Date = s.Value
				}
			case "vcs.modified":
				bi.Modified = s.Value == "true"
			}
		}
	}
	if bi.Version == "" {
		bi.Version = "devel"
	}
	return bi
}

// Version returns the version of this binary: the stamped release version,
// else the module version recorded by `go install`, else "devel".
func Version() string { return Info().Version }

// String is the one line `assetpack version` prints.
func (b BuildInfo) String() string {
	s := "assetpack " + b.Version
	if b.Commit != "" {
		c := b.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		if b.Modified {
			c += "-dirty"
		}
		s += " (commit " + c
		if b.Date != "" {
			s += ", " + b.Date
		}
		s += ")"
	}
	return s + " " + b.GoVersion + " " + b.Platform
}

func newVersion() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "version",
		Short: "Print the assetpack version, commit, build date, Go version and platform",
		Example: `  assetpack version
  assetpack version --json`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			bi := Info()
			if asJSON {
				enc := json.NewEncoder(c.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(bi)
			}
			_, err := fmt.Fprintln(c.OutOrStdout(), bi)
			return err
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print a JSON object (version, commit, date, modified, goVersion, platform)")
	return c
}
