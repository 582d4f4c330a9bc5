package attest

import (
	"bytes"
	"strconv"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

// Property names of the CycloneDX file components (CycloneDX asks for a
// namespace prefix on property names).
const (
	propLayerID     = "assetpack:layerID"     // the layer's diffID, as syft's layerID
	propLayerDigest = "assetpack:layerDigest" // the layer blob's digest
	propSize        = "assetpack:size"        // bytes
	propMode        = "assetpack:mode"        // octal, "0644"
	propSymlink     = "assetpack:symlink"     // a symbolic link's target
	propHardLink    = "assetpack:hardLink"    // the path a hard link links to
)

// cyclonedxBOM builds the CycloneDX 1.6 BOM of img.
func cyclonedxBOM(img *Image, o options) *cdx.BOM {
	image := &cdx.Component{
		BOMRef:     "image:" + img.Digest.String(),
		Type:       cdx.ComponentTypeContainer,
		Name:       displayName(img),
		Version:    img.Annotations[annotationVersion],
		Hashes:     &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: img.Digest.Hex}},
		PackageURL: purl(img),
	}
	var props []cdx.Property
	if s := img.Annotations[annotationSource]; s != "" {
		props = append(props, cdx.Property{Name: "assetpack:source", Value: s})
	}
	if r := img.Annotations[annotationRevision]; r != "" {
		props = append(props, cdx.Property{Name: "assetpack:revision", Value: r})
	}
	if len(props) > 0 {
		image.Properties = &props
	}

	files := make([]cdx.Component, 0, len(img.Files))
	for _, f := range img.Files {
		l := img.Layers[f.Layer]
		hashes := []cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: f.SHA256}}
		if f.SHA1 != "" {
			hashes = append([]cdx.Hash{{Algorithm: cdx.HashAlgoSHA1, Value: f.SHA1}}, hashes...)
		}
		props := []cdx.Property{
			{Name: propLayerID, Value: l.DiffID.String()},
			{Name: propLayerDigest, Value: l.Digest.String()},
			{Name: propSize, Value: strconv.FormatInt(f.Size, 10)},
			{Name: propMode, Value: octal(f.Mode)},
		}
		if f.Symlink != "" {
			props = append(props, cdx.Property{Name: propSymlink, Value: f.Symlink})
		}
		if f.HardLink != "" {
			props = append(props, cdx.Property{Name: propHardLink, Value: f.HardLink})
		}
		files = append(files, cdx.Component{
			BOMRef:     "file:./" + f.Path,
			Type:       cdx.ComponentTypeFile,
			Name:       "./" + f.Path,
			Hashes:     &hashes,
			Properties: &props,
		})
	}

	bom := cdx.NewBOM()
	bom.SerialNumber = "urn:uuid:" + documentUUID("cyclonedx", img, o).String()
	bom.Version = 1
	bom.Metadata = &cdx.Metadata{
		Timestamp: img.Created.UTC().Format(time.RFC3339),
		Tools: &cdx.ToolsChoice{Components: &[]cdx.Component{{
			Type: cdx.ComponentTypeApplication, Name: "assetpack", Version: o.version,
		}}},
		Component: image,
	}
	bom.Components = &files
	return bom
}

func cyclonedxJSON(img *Image, o options) ([]byte, error) {
	var buf bytes.Buffer
	if err := cdx.NewBOMEncoder(&buf, cdx.BOMFileFormatJSON).EncodeVersion(cyclonedxBOM(img, o), cdx.SpecVersion1_6); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
