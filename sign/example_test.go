package sign_test

import (
	"context"
	"fmt"
	"time"

	"github.com/assetpack/assetpack/builder"
	"github.com/assetpack/assetpack/sign"
)

// ExampleFiles lists what a volume mounted from the image will hold: the
// predicate of the file-list attestation (FilesPredicateType). Directories
// and symlinks are listed but not counted in FileCount and TotalBytes.
func ExampleFiles() {
	res, err := builder.Build(context.Background(), "../testdata/site",
		builder.WithGit(false),
		builder.WithSourceDateEpoch(time.Unix(1700000000, 0)),
		builder.WithPrefix("site"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer res.Close()

	p, err := sign.Files(res.Image)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range p.Files {
		switch f.Type {
		case "file":
			fmt.Printf("%-7s %s %-22s %3d %.12s…\n", f.Type, f.Mode, f.Path, f.Size, f.SHA256)
		case "symlink":
			fmt.Printf("%-7s %s %-22s -> %s\n", f.Type, f.Mode, f.Path, f.LinkTarget)
		default:
			fmt.Printf("%-7s %s %s\n", f.Type, f.Mode, f.Path)
		}
	}
	fmt.Printf("%d files, %d bytes\n", p.FileCount, p.TotalBytes)
	// Output:
	// dir     0755 site
	// dir     0755 site/bin
	// file    0755 site/bin/healthcheck.sh  25 ae113f81e753…
	// dir     0755 site/css
	// file    0644 site/css/site.css       48 45feda23b8df…
	// dir     0755 site/docs
	// file    0644 site/docs/README.txt    16 c928889fbd4e…
	// symlink 0777 site/docs/home.html    -> ../index.html
	// file    0644 site/index.html        236 5274e16ded6b…
	// dir     0755 site/js
	// file    0644 site/js/app.js          52 48cece7ed857…
	// 5 files, 377 bytes
}
