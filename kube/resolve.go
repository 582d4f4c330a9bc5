package kube

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	yamlv3 "go.yaml.in/yaml/v3"
)

// Scheme prefixes the placeholders Resolve replaces: assetpack://./site.
const Scheme = "assetpack://"

// Resolve replaces every YAML string value "assetpack://DIR" by what build
// returns for DIR (the digest reference of DIR built and pushed), like ko's
// ko://. Each DIR is built once, in the order first seen. Comments and key
// order are kept (the documents are re-encoded with two-space indentation).
// It returns the rewritten stream and the DIRs it resolved.
func Resolve(manifest []byte, build func(dir string) (string, error)) ([]byte, []string, error) {
	dec := yamlv3.NewDecoder(bytes.NewReader(manifest))
	var out bytes.Buffer
	enc := yamlv3.NewEncoder(&out)
	enc.SetIndent(2)
	refs := map[string]string{}
	var order []string
	var walk func(n *yamlv3.Node) error
	walk = func(n *yamlv3.Node) error {
		if n.Kind == yamlv3.ScalarNode && n.Tag == "!!str" && strings.HasPrefix(n.Value, Scheme) {
			dir := strings.TrimPrefix(n.Value, Scheme)
			if dir == "" {
				return invalid("line %d: %q names no directory; write assetpack://./site", n.Line, n.Value)
			}
			ref, ok := refs[dir]
			if !ok {
				var err error
				if ref, err = build(dir); err != nil {
					return fmt.Errorf("resolving %s (line %d): %w", n.Value, n.Line, err)
				}
				refs[dir] = ref
				order = append(order, dir)
			}
			n.Value = ref
			n.Style = 0
		}
		for _, c := range n.Content {
			if err := walk(c); err != nil {
				return err
			}
		}
		return nil
	}
	for {
		var doc yamlv3.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, invalid("malformed YAML: %v", err)
		}
		if err := walk(&doc); err != nil {
			return nil, nil, err
		}
		if err := enc.Encode(&doc); err != nil {
			return nil, nil, err
		}
	}
	if err := enc.Close(); err != nil {
		return nil, nil, err
	}
	return out.Bytes(), order, nil
}
