package builder_test

import (
	"context"
	"fmt"
	"time"

	"github.com/assetpack/assetpack/builder"
)

// ExampleBuild pins the digest of testdata/site: if this output changes,
// images built by assetpack changed, which breaks our reproducibility promise
// for users who rebuild an old commit. Change it only deliberately.
func ExampleBuild() {
	res, err := builder.Build(context.Background(), "../testdata/site",
		builder.WithGit(false),
		builder.WithSourceDateEpoch(time.Unix(1700000000, 0)),
		builder.WithPrefix("site"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer res.Close()
	diffID, _ := res.Layers[0].DiffID()
	fmt.Println(res.Digest)
	fmt.Println(diffID)
	// Output:
	// sha256:956e4ca6c66eb59ac31f56e0d59c1d2a0f19da1b8f2df12771733905f325a047
	// sha256:793c4bd431318efd41ab6cc9fc7d821293bd11cd216d337c49dedc570f4e560d
}
