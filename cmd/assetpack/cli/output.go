package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/assetpack/assetpack/builder"
	"github.com/assetpack/assetpack/cmd/assetpack/cli/options"
	"github.com/assetpack/assetpack/internal/atomicfile"
	"github.com/assetpack/assetpack/modelpack"
	"github.com/assetpack/assetpack/pack"
)

// layerJSON describes one layer in --json output.
type layerJSON struct {
	Digest           string `json:"digest"`
	DiffID           string `json:"diffID"`
	Size             int64  `json:"size"`
	UncompressedSize int64  `json:"uncompressedSize"`
	MediaType        string `json:"mediaType"`
	// Role is what the files are to a model (--layers model): weights,
	// config, docs or code.
	Role string `json:"role,omitempty"`
}

// buildJSON is the --json output of build.
type buildJSON struct {
	Reference         string            `json:"reference"`
	Output            string            `json:"output,omitempty"`
	Push              *pushJSON         `json:"push,omitempty"`
	Digest            string            `json:"digest"`
	MediaType         string            `json:"mediaType"`
	Size              int64             `json:"size"`
	Platforms         []string          `json:"platforms"`
	Layers            []layerJSON       `json:"layers"`
	Files             int               `json:"files"`
	FileBytes         int64             `json:"fileBytes"`
	UncompressedBytes int64             `json:"uncompressedBytes"`
	Prefix            string            `json:"prefix"`
	Created           string            `json:"created"`
	Annotations       map[string]string `json:"annotations"`
	ModelPack         *modelPackJSON    `json:"modelpack,omitempty"`
	// Signed and Attestations say what --sign signed and attested.
	Signed       []string          `json:"signed,omitempty"`
	Attestations []attestationJSON `json:"attestations,omitempty"`
}

// attestationJSON is one statement attached, in --json output.
type attestationJSON struct {
	Subject       string `json:"subject"`
	PredicateType string `json:"predicateType"`
	Statement     string `json:"statement"`
	Bundle        string `json:"bundle,omitempty"`
	Legacy        string `json:"legacy,omitempty"`
}

// addSigned adds what the pipeline signed and attested.
func (j *buildJSON) addSigned(res *pack.Result) {
	for _, d := range res.Signed {
		j.Signed = append(j.Signed, d.String())
	}
	for _, a := range res.Attestations {
		aj := attestationJSON{Subject: a.Subject.String(), PredicateType: a.PredicateType, Statement: a.Statement.String()}
		if a.Bundle != nil {
			aj.Bundle = a.Bundle.String()
		}
		if a.Legacy != nil {
			aj.Legacy = a.Legacy.String()
		}
		j.Attestations = append(j.Attestations, aj)
	}
}

// modelPackJSON describes the ModelPack twin in build's --json output.
type modelPackJSON struct {
	// Digest is the ModelPack manifest's; its subject is the image.
	Digest       string          `json:"digest"`
	ArtifactType string          `json:"artifactType"`
	Attached     []attachedJSON  `json:"attached,omitempty"`
	Refused      string          `json:"refused,omitempty"`
	Config       json.RawMessage `json:"config"`
}

type attachedJSON struct {
	Ref       string `json:"ref"`
	Mechanism string `json:"mechanism"`
	Index     string `json:"index,omitempty"`
}

func newModelPackJSON(r *pack.ModelPackResult) *modelPackJSON {
	j := &modelPackJSON{Digest: r.Digest.String(), ArtifactType: modelpack.ArtifactType, Config: r.Manifest.Config}
	for _, a := range r.Attached {
		aj := attachedJSON{Ref: a.Ref.String(), Mechanism: string(a.Mechanism)}
		if a.Index != nil {
			aj.Index = a.Index.String()
		}
		j.Attached = append(j.Attached, aj)
	}
	if r.Refused != nil {
		j.Refused = r.Refused.Error()
	}
	return j
}

func newBuildJSON(ref string, res *builder.Result) *buildJSON {
	j := &buildJSON{
		Reference:   ref,
		Digest:      res.Digest.String(),
		MediaType:   string(res.MediaType),
		Size:        res.Size,
		Platforms:   []string{},
		Layers:      []layerJSON{},
		Files:       res.Files,
		FileBytes:   res.FileBytes,
		Prefix:      "/" + res.Prefix,
		Created:     res.Created.Format(time.RFC3339),
		Annotations: res.Annotations,
	}
	for _, p := range res.Platforms {
		j.Platforms = append(j.Platforms, p.String())
	}
	for _, l := range res.Layers {
		d, _ := l.Digest()
		diff, _ := l.DiffID()
		sz, _ := l.Size()
		mt, _ := l.MediaType()
		j.Layers = append(j.Layers, layerJSON{Digest: d.String(), DiffID: diff.String(), Size: sz,
			UncompressedSize: l.UncompressedSize(), MediaType: string(mt), Role: string(l.Role())})
		j.UncompressedBytes += l.UncompressedSize()
	}
	return j
}

// printResult writes the digest file (if asked) and then the result: the
// reference on one line, or v as indented JSON.
func printResult(w io.Writer, o options.Output, ref, digest string, v any) error {
	if o.DigestFile != "" {
		if err := atomicfile.Write(o.DigestFile, []byte(digest+"\n"), 0o644); err != nil {
			return fmt.Errorf("writing --digest-file %q: %w", o.DigestFile, err)
		}
	}
	if o.JSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	_, err := fmt.Fprintln(w, ref)
	return err
}
