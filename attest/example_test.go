package attest_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	spdxjson "github.com/spdx/tools-golang/json"

	"github.com/assetpack/assetpack/attest"
	"github.com/assetpack/assetpack/builder"
)

// ExampleSBOM makes the SPDX SBOM of testdata/site and reads it back with
// the SPDX library. The sha256 of the document pins its bytes: the same
// tree and options always give the same SBOM.
func ExampleSBOM() {
	res, err := builder.Build(context.Background(), "../testdata/site",
		builder.WithGit(false),
		builder.WithSourceDateEpoch(time.Unix(1700000000, 0)),
		builder.WithPrefix("site"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer res.Close()

	img, err := attest.ReadImage(res.Image)
	if err != nil {
		fmt.Println(err)
		return
	}
	img.Name = "ghcr.io/acme/site"
	sbom, err := attest.SBOM(img, attest.SPDX, attest.WithVersion("v1.0.0"))
	if err != nil {
		fmt.Println(err)
		return
	}
	doc, err := spdxjson.Read(bytes.NewReader(sbom))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(doc.SPDXVersion, doc.CreationInfo.Created, doc.CreationInfo.Creators[0].Creator)
	fmt.Println(doc.Packages[0].PackageExternalReferences[0].Locator[:30] + "…")
	for _, f := range doc.Files {
		comment := strings.ReplaceAll(f.FileComment, "\n", ", ")
		fmt.Printf("%-26s %.12s… %s\n", f.FileName, f.Checksums[1].Value, comment[strings.Index(comment, "size"):])
	}
	fmt.Printf("sha256 of the SBOM: %x\n", sha256.Sum256(sbom))
	// Output:
	// SPDX-2.3 2023-11-14T22:13:20Z assetpack-v1.0.0
	// pkg:oci/site@sha256%3A956e4ca6…
	// ./site/bin/healthcheck.sh  ae113f81e753… size: 25, mode: 0755
	// ./site/css/site.css        45feda23b8df… size: 48, mode: 0644
	// ./site/docs/README.txt     c928889fbd4e… size: 16, mode: 0644
	// ./site/docs/home.html      579ab2998552… size: 13, mode: 0777, symlink: ../index.html
	// ./site/index.html          5274e16ded6b… size: 236, mode: 0644
	// ./site/js/app.js           48cece7ed857… size: 52, mode: 0644
	// sha256 of the SBOM: a91c8cdd497f6b2a015ea77ce406db0162a8d1a9538f78ea6ae8a100a22c0b8f
}

// ExampleProvenance wraps the SLSA provenance of a build in an in-toto
// statement, the payload that cosign attest signs and
// `cosign verify-attestation --type slsaprovenance1` reads.
func ExampleProvenance() {
	res, err := builder.Build(context.Background(), "../testdata/site",
		builder.WithGit(false),
		builder.WithSourceDateEpoch(time.Unix(1700000000, 0)),
		builder.WithPrefix("site"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer res.Close()

	img, err := attest.ReadImage(res.Image)
	if err != nil {
		fmt.Println(err)
		return
	}
	epoch := time.Unix(1700000000, 0)
	p, err := attest.Provenance(img, attest.Build{
		Source: "testdata/site", Prefix: "site", Platforms: res.Platforms,
		Compression: "auto", Layers: "auto", SourceDateEpoch: &epoch,
	}, attest.WithVersion("v1.0.0"), attest.WithCommit("4f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39"))
	if err != nil {
		fmt.Println(err)
		return
	}
	st, err := attest.Statement("ghcr.io/acme/site", res.Digest, attest.ProvenancePredicateType, p)
	if err != nil {
		fmt.Println(err)
		return
	}
	var pretty bytes.Buffer
	json.Indent(&pretty, st, "", "  ")
	pretty.WriteTo(os.Stdout)
	// Output:
	// {
	//   "_type": "https://in-toto.io/Statement/v1",
	//   "subject": [
	//     {
	//       "name": "ghcr.io/acme/site",
	//       "digest": {
	//         "sha256": "956e4ca6c66eb59ac31f56e0d59c1d2a0f19da1b8f2df12771733905f325a047"
	//       }
	//     }
	//   ],
	//   "predicateType": "https://slsa.dev/provenance/v1",
	//   "predicate": {
	//     "buildDefinition": {
	//       "buildType": "https://assetpack.dev/build/v1",
	//       "externalParameters": {
	//         "compression": "auto",
	//         "git": false,
	//         "layers": "auto",
	//         "platforms": [
	//           "linux/amd64"
	//         ],
	//         "prefix": "site",
	//         "source": "testdata/site",
	//         "sourceDateEpoch": 1700000000
	//       },
	//       "internalParameters": {
	//         "created": "2023-11-14T22:13:20Z",
	//         "sourceDateEpoch": 1700000000
	//       }
	//     },
	//     "runDetails": {
	//       "builder": {
	//         "id": "https://assetpack.dev/assetpack@v1.0.0",
	//         "version": {
	//           "assetpack": "v1.0.0",
	//           "commit": "4f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39"
	//         }
	//       },
	//       "byproducts": [
	//         {
	//           "annotations": {
	//             "diffID": "sha256:793c4bd431318efd41ab6cc9fc7d821293bd11cd216d337c49dedc570f4e560d",
	//             "fileBytes": 377,
	//             "files": 5,
	//             "size": 627
	//           },
	//           "digest": {
	//             "sha256": "5ef0cc02453f20478d3f3b5bf7f6e9b0d5cf63a71eafe10d2507f1c4f6e6d695"
	//           },
	//           "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
	//           "name": "layer-1"
	//         }
	//       ]
	//     }
	//   }
	// }
}
