package attest

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"slices"

	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx"
)

// spdxTime is SPDX's timestamp format (UTC, seconds).
const spdxTime = "2006-01-02T15:04:05Z"

// spdxImageID is the SPDX identifier of the image's package.
const spdxImageID spdx.ElementID = "Image"

// noAssertion is SPDX's "nothing is claimed" value.
const noAssertion = "NOASSERTION"

// spdxDocument builds the SPDX 2.3 document of img.
func spdxDocument(img *Image, o options) (*spdx.Document, error) {
	name := displayName(img)
	pkg := &spdx.Package{
		PackageName:               name,
		PackageSPDXIdentifier:     spdxImageID,
		PackageVersion:            img.Annotations[annotationVersion],
		PackageDownloadLocation:   noAssertion,
		FilesAnalyzed:             true,
		IsFilesAnalyzedTagPresent: true,
		PackageChecksums:          []spdx.Checksum{{Algorithm: spdx.SHA256, Value: img.Digest.Hex}},
		PackageLicenseConcluded:   noAssertion,
		PackageLicenseDeclared:    noAssertion,
		PackageCopyrightText:      noAssertion,
		PrimaryPackagePurpose:     "CONTAINER",
		BuiltDate:                 img.Created.UTC().Format(spdxTime),
	}
	if src, rev := img.Annotations[annotationSource], img.Annotations[annotationRevision]; src != "" || rev != "" {
		pkg.PackageSourceInfo = "built from " + join(src, rev, " at commit ")
	}
	if p := purl(img); p != "" {
		pkg.PackageExternalReferences = []*spdx.PackageExternalReference{
			{Category: spdx.CategoryPackageManager, RefType: spdx.PackageManagerPURL, Locator: p},
		}
	}
	doc := &spdx.Document{
		SPDXVersion:       spdx.Version,
		DataLicense:       spdx.DataLicense,
		SPDXIdentifier:    "DOCUMENT",
		DocumentName:      name,
		DocumentNamespace: "https://assetpack.dev/spdx/" + documentUUID("spdx", img, o).String(),
		CreationInfo: &spdx.CreationInfo{
			Creators: []spdx.Creator{{CreatorType: "Tool", Creator: "assetpack-" + o.version}},
			Created:  img.Created.UTC().Format(spdxTime),
		},
		Packages: []*spdx.Package{pkg},
		Relationships: []*spdx.Relationship{{
			RefA:         spdx.DocElementID{ElementRefID: "DOCUMENT"},
			RefB:         spdx.DocElementID{ElementRefID: spdxImageID},
			Relationship: spdx.RelationshipDescribes,
		}},
	}
	ids := map[spdx.ElementID]string{}
	sha1s := make([]string, 0, len(img.Files))
	for _, f := range img.Files {
		if f.SHA1 == "" {
			return nil, invalid("file %q has no SHA1, which SPDX 2.3 requires (ReadImage computes it)", f.Path)
		}
		id := spdxFileID(f.Path)
		if other, ok := ids[id]; ok {
			return nil, invalid("files %q and %q get the same SPDX identifier %s", other, f.Path, id)
		}
		ids[id] = f.Path
		doc.Files = append(doc.Files, &spdx.File{
			FileName:           "./" + f.Path,
			FileSPDXIdentifier: id,
			Checksums: []spdx.Checksum{
				{Algorithm: spdx.SHA1, Value: f.SHA1},
				{Algorithm: spdx.SHA256, Value: f.SHA256},
			},
			LicenseConcluded:  noAssertion,
			FileCopyrightText: noAssertion,
			FileComment:       fileComment(img, f),
		})
		doc.Relationships = append(doc.Relationships, &spdx.Relationship{
			RefA:         spdx.DocElementID{ElementRefID: spdxImageID},
			RefB:         spdx.DocElementID{ElementRefID: id},
			Relationship: spdx.RelationshipContains,
		})
		sha1s = append(sha1s, f.SHA1)
	}
	pkg.PackageVerificationCode = &spdx.PackageVerificationCode{Value: verificationCode(sha1s)}
	return doc, nil
}

func spdxJSON(img *Image, o options) ([]byte, error) {
	doc, err := spdxDocument(img, o)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := spdxjson.Write(doc, &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// spdxFileID derives a file's SPDX identifier from its path, so that the
// same path has the same identifier in every build.
func spdxFileID(p string) spdx.ElementID {
	sum := sha256.Sum256([]byte(p))
	return spdx.ElementID("File-" + hex.EncodeToString(sum[:8]))
}

// verificationCode is SPDX 2.3's package verification code (clause 7.9):
// the SHA-1 of the files' SHA-1s, sorted and concatenated.
func verificationCode(sha1s []string) string {
	sorted := slices.Clone(sha1s)
	slices.Sort(sorted)
	h := sha1.New()
	for _, s := range sorted {
		h.Write([]byte(s))
	}
	return hex.EncodeToString(h.Sum(nil))
}

func join(a, b, sep string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + sep + b
}
