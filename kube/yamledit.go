package kube

import (
	"bytes"
	"fmt"
	"reflect"
	"sort"
	"strings"

	yamlv3 "go.yaml.in/yaml/v3"
)

// docEditor edits one YAML document the way a person would. Each change is
// made to the document's node tree (go.yaml.in/yaml/v3) and recorded as the
// replacement of the smallest run of lines that holds it: a mapping entry or
// a sequence item of block style, or — inside a flow collection such as
// [{name: data, mountPath: /data}] — the block entry that holds the flow
// collection. Every other line keeps its bytes: comments, blank lines, key
// order, quoting and indentation. Only the replaced lines are written by the
// encoder, with the document's own indentation.
//
// The result is checked: it must decode to exactly what the edited tree
// decodes to. When it does not (an unusual layout the line arithmetic does
// not cover), the whole document is encoded from the tree instead, which
// still keeps comments, key order, quoting and flow style but not blank
// lines.
type docEditor struct {
	lines   []string // the document's text, each line without its line break
	crlf    bool     // lines end in "\r\n"
	final   bool     // the last line ends with a line break
	root    *yamlv3.Node
	parent  map[*yamlv3.Node]*yamlv3.Node
	edits   []*lineEdit
	whole   bool // an edit could not be placed: encode the whole document
	indent  int  // spaces per nesting level
	compact bool // block sequences under a key start at the key's column
}

// lineEdit replaces lines [start, end) (start == end inserts before start)
// with what render returns, indented by prefix (first line) and spaces(col)
// (other lines).
type lineEdit struct {
	start, end int
	target     *yamlv3.Node // the collection whose content changed
	covers     *yamlv3.Node // for a re-rendered flow collection: that collection
	render     func() (*yamlv3.Node, error)
	text       func() ([]string, error) // the replacing lines as they are, instead of render
	prefix     string
	col        int
}

func newDocEditor(text []byte) (*docEditor, error) {
	var root yamlv3.Node
	if err := yamlv3.Unmarshal(text, &root); err != nil {
		return nil, err
	}
	s := string(text)
	e := &docEditor{root: &root, parent: map[*yamlv3.Node]*yamlv3.Node{}, indent: 2, compact: true}
	e.crlf = strings.Contains(s, "\r\n")
	e.final = strings.HasSuffix(s, "\n")
	s = strings.TrimSuffix(s, "\n")
	for _, l := range strings.Split(s, "\n") {
		e.lines = append(e.lines, strings.TrimSuffix(l, "\r"))
	}
	var walk func(n *yamlv3.Node)
	walk = func(n *yamlv3.Node) {
		for _, c := range n.Content {
			e.parent[c] = n
			walk(c)
		}
	}
	walk(&root)
	e.detectStyle()
	return e, nil
}

// detectStyle finds the document's indentation step and sequence style from
// the first nested block mapping and block sequence under a key.
func (e *docEditor) detectStyle() {
	foundIndent, foundSeq := false, false
	var walk func(n *yamlv3.Node)
	walk = func(n *yamlv3.Node) {
		if n.Kind == yamlv3.MappingNode && n.Style&yamlv3.FlowStyle == 0 {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if v.Style&yamlv3.FlowStyle != 0 || v.Line == k.Line {
					continue
				}
				switch {
				case v.Kind == yamlv3.MappingNode && !foundIndent && v.Column > k.Column:
					e.indent, foundIndent = v.Column-k.Column, true
				case v.Kind == yamlv3.SequenceNode && !foundSeq:
					e.compact, foundSeq = v.Column == k.Column, true
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(e.root)
}

// body is the document's top-level node.
func (e *docEditor) body() *yamlv3.Node {
	if e.root.Kind == yamlv3.DocumentNode && len(e.root.Content) == 1 {
		return e.root.Content[0]
	}
	return nil
}

func isFlow(n *yamlv3.Node) bool {
	return (n.Kind == yamlv3.MappingNode || n.Kind == yamlv3.SequenceNode) && n.Style&yamlv3.FlowStyle != 0
}

// mapIndex is the index in m.Content of key's key node, or -1.
func mapIndex(m *yamlv3.Node, key string) int {
	if m == nil || m.Kind != yamlv3.MappingNode {
		return -1
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return i
		}
	}
	return -1
}

// mapGet is the value of key in mapping m, or nil.
func mapGet(m *yamlv3.Node, key string) *yamlv3.Node {
	if i := mapIndex(m, key); i >= 0 {
		return m.Content[i+1]
	}
	return nil
}

func scalar(value, tag string) *yamlv3.Node {
	return &yamlv3.Node{Kind: yamlv3.ScalarNode, Tag: tag, Value: value}
}

// outerFlow is the outermost flow collection that holds n (or n itself), or
// nil when n is in block context.
func (e *docEditor) outerFlow(n *yamlv3.Node) *yamlv3.Node {
	var outer *yamlv3.Node
	for c := n; c != nil; c = e.parent[c] {
		if isFlow(c) {
			outer = c
		}
	}
	return outer
}

// changed records that collection c changed. In block context, record is
// called to place the edit; inside a flow collection, the block entry or
// item holding the outermost flow collection is rendered again instead.
func (e *docEditor) changed(c *yamlv3.Node, record func()) {
	f := e.outerFlow(c)
	if f == nil {
		record()
		return
	}
	p := e.parent[f]
	if p == nil || isFlow(p) || p.Kind == yamlv3.DocumentNode {
		e.whole = true
		return
	}
	for _, ed := range e.edits {
		if ed.covers == f {
			return
		}
	}
	switch p.Kind {
	case yamlv3.MappingNode:
		for i := 1; i < len(p.Content); i += 2 {
			if p.Content[i] == f {
				k := p.Content[i-1]
				e.replaceEntry(p, k, func() (*yamlv3.Node, error) { return entryNode(k, f), nil }, f)
				return
			}
		}
	case yamlv3.SequenceNode:
		start, ok := e.itemStart(p, f)
		if !ok {
			e.whole = true
			return
		}
		col := p.Column - 1
		e.edits = append(e.edits, &lineEdit{start: start, end: e.scanEnd(start, col, false), target: p, covers: f, col: col,
			prefix: e.lines[start][:col], render: func() (*yamlv3.Node, error) {
				return &yamlv3.Node{Kind: yamlv3.SequenceNode, Content: []*yamlv3.Node{f}}, nil
			}})
		return
	}
	e.whole = true
}

// entryNode is a one-entry mapping of k and v without the comments that sit
// outside the entry's lines (above and below it).
func entryNode(k, v *yamlv3.Node) *yamlv3.Node {
	kc := *k
	kc.HeadComment, kc.FootComment = "", ""
	return &yamlv3.Node{Kind: yamlv3.MappingNode, Content: []*yamlv3.Node{&kc, v}}
}

// replaceEntry records that the entry of key k in block mapping m is
// rendered again.
func (e *docEditor) replaceEntry(m, k *yamlv3.Node, render func() (*yamlv3.Node, error), covers *yamlv3.Node) {
	if k.Line == 0 {
		e.whole = true
		return
	}
	start, col := k.Line-1, k.Column-1
	prefix, ok := e.prefixAt(start, col)
	if !ok {
		e.whole = true
		return
	}
	e.edits = append(e.edits, &lineEdit{start: start, end: e.scanEnd(start, col, true), target: m, covers: covers,
		prefix: prefix, col: col, render: render})
}

// Set sets key to v in mapping m: in place when the key exists (a scalar
// keeps its line comment), else after the last entry.
func (e *docEditor) Set(m *yamlv3.Node, key string, v *yamlv3.Node) {
	if i := mapIndex(m, key); i >= 0 {
		old := m.Content[i+1]
		if old.Kind == yamlv3.ScalarNode && v.Kind == yamlv3.ScalarNode {
			if old.Value == v.Value && old.ShortTag() == v.ShortTag() {
				return // unchanged: keep its bytes
			}
			if v.Style == 0 && old.Style&(yamlv3.DoubleQuotedStyle|yamlv3.SingleQuotedStyle) != 0 && v.Tag == "!!str" {
				v.Style = old.Style // keep the quoting
			}
		}
		if v.LineComment == "" {
			v.LineComment = old.LineComment
		}
		m.Content[i+1] = v
		k := m.Content[i]
		e.changed(m, func() {
			if !e.replaceScalar(m, old, v) {
				e.replaceEntry(m, k, func() (*yamlv3.Node, error) { return entryNode(k, v), nil }, nil)
			}
		})
		return
	}
	m.Content = append(m.Content, scalar(key, "!!str"), v)
	e.changed(m, func() { e.insertInto(m) })
}

// replaceScalar records that the characters of scalar old, alone on its
// line but for its key and a comment, become v's: what surrounds them keeps
// its bytes. It reports false when old's text cannot be delimited.
func (e *docEditor) replaceScalar(m, old, v *yamlv3.Node) bool {
	if old.Kind != yamlv3.ScalarNode || v.Kind != yamlv3.ScalarNode || old.Line == 0 || strings.Contains(old.Value, "\n") {
		return false
	}
	l, c0 := old.Line-1, old.Column-1
	if _, ok := e.prefixAt(l, c0); !ok {
		return false
	}
	line := e.lines[l]
	c1 := -1
	switch src := line[c0:]; old.Style {
	case 0:
		if strings.HasPrefix(src, old.Value) {
			c1 = c0 + len(old.Value)
		}
	case yamlv3.DoubleQuotedStyle:
		for i := 1; i < len(src); i++ {
			if src[i] == '\\' {
				i++
			} else if src[i] == '"' {
				c1 = c0 + i + 1
				break
			}
		}
	case yamlv3.SingleQuotedStyle:
		for i := 1; i < len(src); i++ {
			if src[i] == '\'' {
				if i+1 < len(src) && src[i+1] == '\'' {
					i++
					continue
				}
				c1 = c0 + i + 1
				break
			}
		}
	}
	if c1 < 0 {
		return false
	}
	if rest := strings.TrimSpace(line[c1:]); rest != "" && !strings.HasPrefix(rest, "#") {
		return false
	}
	vc := *v
	vc.LineComment = ""
	e.edits = append(e.edits, &lineEdit{start: l, end: l + 1, target: m, text: func() ([]string, error) {
		lines, err := e.fragment(&vc, "", 0)
		if err != nil {
			return nil, err
		}
		if len(lines) != 1 {
			return nil, fmt.Errorf("scalar %q takes %d lines", v.Value, len(lines))
		}
		return []string{line[:c0] + lines[0] + line[c1:]}, nil
	}})
	return true
}

// Replace puts key newKey with value v in place of key oldKey in mapping m.
func (e *docEditor) Replace(m *yamlv3.Node, oldKey, newKey string, v *yamlv3.Node) {
	i := mapIndex(m, oldKey)
	if i < 0 {
		e.Set(m, newKey, v)
		return
	}
	old := m.Content[i]
	k := scalar(newKey, "!!str")
	m.Content[i], m.Content[i+1] = k, v
	e.changed(m, func() {
		e.replaceEntry(m, old, func() (*yamlv3.Node, error) { return entryNode(k, v), nil }, nil)
	})
}

// Delete removes key from mapping m, with the comment lines right above it.
func (e *docEditor) Delete(m *yamlv3.Node, key string) {
	i := mapIndex(m, key)
	if i < 0 {
		return
	}
	k := m.Content[i]
	m.Content = append(m.Content[:i:i], m.Content[i+2:]...)
	e.changed(m, func() {
		start, col := k.Line-1, k.Column-1
		if prefix, ok := e.prefixAt(start, col); !ok || strings.TrimSpace(prefix) != "" {
			e.whole = true // the key shares its line with a "- "
			return
		}
		e.deleteLines(m, start, e.scanEnd(start, col, true), col)
	})
}

// DeleteItem removes item i of sequence s, with the comment lines right
// above it.
func (e *docEditor) DeleteItem(s *yamlv3.Node, i int) {
	item := s.Content[i]
	s.Content = append(s.Content[:i:i], s.Content[i+1:]...)
	e.changed(s, func() {
		start, ok := e.itemStart(s, item)
		col := s.Column - 1
		if prefix, fits := e.prefixAt(start, col); !ok || !fits || strings.TrimSpace(prefix) != "" {
			e.whole = true
			return
		}
		e.deleteLines(s, start, e.scanEnd(start, col, false), col)
	})
}

// deleteLines records the deletion of lines [start, end) of an entry or item
// at column col, with the comment lines at that column right above it, and
// the blank lines after it when nothing but blank lines or its parent
// precede it (so no blank line is left hanging under the parent).
func (e *docEditor) deleteLines(target *yamlv3.Node, start, end, col int) {
	for start > 0 {
		l := e.lines[start-1]
		t := strings.TrimLeft(l, " ")
		if !strings.HasPrefix(t, "#") || len(l)-len(t) != col {
			break
		}
		start--
	}
	if start == 0 || blank(e.lines[start-1]) || indentOf(e.lines[start-1]) < col {
		for end < len(e.lines) && blank(e.lines[end]) {
			end++
		}
	}
	e.edits = append(e.edits, &lineEdit{start: start, end: end, target: target})
}

// insertInto records that the new entries of block mapping m (those without
// a position) are written after its last entry.
func (e *docEditor) insertInto(m *yamlv3.Node) {
	for _, ed := range e.edits {
		if ed.target == m && ed.start == ed.end {
			return // one insertion renders all new entries
		}
	}
	var last *yamlv3.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Line > 0 {
			last = m.Content[i]
		}
	}
	if last == nil {
		e.whole = true
		return
	}
	if last.Line > len(e.lines) {
		e.whole = true
		return
	}
	at, col := e.scanEnd(last.Line-1, m.Column-1, true), m.Column-1
	e.edits = append(e.edits, &lineEdit{start: at, end: at, target: m, col: col, prefix: strings.Repeat(" ", col),
		render: func() (*yamlv3.Node, error) {
			out := &yamlv3.Node{Kind: yamlv3.MappingNode}
			for i := 0; i+1 < len(m.Content); i += 2 {
				if m.Content[i].Line == 0 {
					out.Content = append(out.Content, m.Content[i], m.Content[i+1])
				}
			}
			return out, nil
		}})
}

// prefixAt is line l up to column col (0-based), when both exist.
func (e *docEditor) prefixAt(l, col int) (string, bool) {
	if l < 0 || l >= len(e.lines) || col < 0 || col > len(e.lines[l]) {
		return "", false
	}
	return e.lines[l][:col], true
}

// itemStart is the line of the "-" of item in block sequence s.
func (e *docEditor) itemStart(s, item *yamlv3.Node) (int, bool) {
	col := s.Column - 1
	for l := item.Line - 1; l >= 0 && l >= s.Line-1; l-- {
		line := e.lines[l]
		if len(line) > col && line[col] == '-' && (len(line) == col+1 || line[col+1] == ' ') {
			return l, true
		}
	}
	return 0, false
}

// scanEnd is the end (exclusive) of the entry or item that starts on line
// start at column col: the lines after it that are blank, comments or
// content indented deeper than col — and, for a mapping entry, "- " lines
// at col (a sequence written at its key's indentation) — up to the last
// such non-blank line.
func (e *docEditor) scanEnd(start, col int, entry bool) int {
	last := start
	for l := start + 1; l < len(e.lines); l++ {
		line := e.lines[l]
		if blank(line) {
			continue
		}
		ind := indentOf(line)
		t := line[ind:]
		switch {
		case ind > col:
			last = l
			continue
		case entry && ind == col && (t == "-" || strings.HasPrefix(t, "- ")):
			last = l
			continue
		case strings.HasPrefix(t, "#") && e.continues(l, col, entry):
			continue
		}
		break
	}
	return last + 1
}

// continues reports whether the comment on line l (at or left of col) is
// followed by more of the entry or item at col.
func (e *docEditor) continues(l, col int, entry bool) bool {
	for l++; l < len(e.lines); l++ {
		line := e.lines[l]
		if blank(line) {
			continue
		}
		ind := indentOf(line)
		t := line[ind:]
		if strings.HasPrefix(t, "#") {
			continue
		}
		return ind > col || entry && ind == col && (t == "-" || strings.HasPrefix(t, "- "))
	}
	return false
}

func blank(s string) bool { return strings.TrimSpace(s) == "" }

func indentOf(s string) int { return len(s) - len(strings.TrimLeft(s, " ")) }

// within reports whether n is root or one of its descendants.
func within(n, root *yamlv3.Node) bool {
	if n == root {
		return true
	}
	for _, c := range root.Content {
		if within(n, c) {
			return true
		}
	}
	return false
}

// Bytes is the edited document: the original lines with the recorded edits
// applied, or the whole document encoded again when they cannot be.
func (e *docEditor) Bytes() ([]byte, error) {
	var want any
	if err := e.root.Decode(&want); err != nil {
		return nil, err
	}
	if !e.whole {
		if out, err := e.splice(); err == nil {
			var got any
			if yamlv3.Unmarshal(out, &got) == nil && reflect.DeepEqual(got, want) {
				return out, nil
			}
		}
	}
	var b bytes.Buffer
	enc := yamlv3.NewEncoder(&b)
	enc.SetIndent(e.indent)
	if e.compact {
		enc.CompactSeqIndent()
	}
	if err := enc.Encode(e.root); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	out := b.Bytes()
	if e.crlf {
		out = bytes.ReplaceAll(out, []byte("\n"), []byte("\r\n"))
	}
	return out, nil
}

// splice applies the edits to the lines.
func (e *docEditor) splice() ([]byte, error) {
	// Drop edits that a re-rendered flow collection already holds.
	var edits []*lineEdit
	for _, ed := range e.edits {
		held := false
		for _, o := range e.edits {
			if o != ed && o.covers != nil && (within(ed.target, o.covers) || ed.covers != nil && within(ed.covers, o.covers) && ed.covers != o.covers) {
				held = true
			}
		}
		if !held {
			edits = append(edits, ed)
		}
	}
	sort.SliceStable(edits, func(i, j int) bool { return edits[i].start < edits[j].start })
	for i := 1; i < len(edits); i++ {
		if edits[i].start < edits[i-1].end || edits[i].start == edits[i-1].start {
			return nil, fmt.Errorf("overlapping edits at line %d", edits[i].start+1)
		}
	}
	out := append([]string{}, e.lines...)
	for i := len(edits) - 1; i >= 0; i-- {
		ed := edits[i]
		var repl []string
		if ed.text != nil {
			var err error
			if repl, err = ed.text(); err != nil {
				return nil, err
			}
		} else if ed.render != nil {
			n, err := ed.render()
			if err != nil {
				return nil, err
			}
			if repl, err = e.fragment(n, ed.prefix, ed.col); err != nil {
				return nil, err
			}
		}
		out = append(out[:ed.start:ed.start], append(repl, out[ed.end:]...)...)
	}
	nl := "\n"
	if e.crlf {
		nl = "\r\n"
	}
	s := strings.Join(out, nl)
	if e.final && len(out) > 0 {
		s += nl
	}
	return []byte(s), nil
}

// fragment encodes n with the document's style, its first line after
// prefix and the others indented by col spaces.
func (e *docEditor) fragment(n *yamlv3.Node, prefix string, col int) ([]string, error) {
	var b bytes.Buffer
	enc := yamlv3.NewEncoder(&b)
	enc.SetIndent(e.indent)
	if e.compact {
		enc.CompactSeqIndent()
	}
	if err := enc.Encode(n); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	pad := strings.Repeat(" ", col)
	for i, l := range lines {
		switch {
		case i == 0:
			lines[i] = prefix + l
		case l != "":
			lines[i] = pad + l
		}
	}
	return lines, nil
}
