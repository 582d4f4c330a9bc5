// Package doctest runs the command lines of assetpack's documentation:
// the shell blocks of README.md and docs/**/*.md, which include the
// generated docs/cli/*.md and so the Example: section of every command's
// --help (a unit test keeps docs/cli equal to the cobra commands). Each
// command is run against a registry on 127.0.0.1 in a workspace that holds
// the inputs the documentation assumes (./site, cosign.key, manifests),
// must exit 0 and, where the documentation shows its output, print that
// shape. A command that cannot run here is named in AllowList with the
// reason, so that a new one cannot go untested silently.
//
// The commands are parsed and run by mvdan.cc/sh/v3 (syntax and interp)
// rather than by /bin/sh -c: the parser gives each statement with its
// lines, so backslash continuations, pipelines, `$(…)`, `&&` chains and
// trailing comments are handled as a shell does, and the programs a line
// runs can be listed before it runs (to defer third-party tools to the
// end-to-end suite and to refuse unknown ones); the interpreter runs them
// with an environment built from nothing (no credentials, no
// GITHUB_TOKEN of the machine) and an exec hook that stands in for what
// needs a cluster (`kubectl apply -f -`) and for `go build` of the binary
// under test.
package doctest

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// Command is one statement of a shell block in the documentation.
type Command struct {
	// File is the document, relative to the repository root; Line is the
	// line of the statement's first word (1-based).
	File string
	Line int
	// Lines are the statement's lines as written (continuations included).
	Lines []string
	// Text is the statement as written on one line: continuation lines
	// joined, trailing comments dropped, spaces collapsed. AllowList
	// entries name commands by it.
	Text string
	// Block numbers the shell blocks: the commands of one block run in
	// order in one workspace, as a reader copying them would.
	Block int
	// Want is the output the documentation shows for the command
	// (`# stdout: …` on the next line, a trailing comment that is a
	// reference, or an unlabelled block of references after the shell
	// block), as written, or "".
	Want string
}

// Where is the command's place in the documentation.
func (c Command) Where() string { return fmt.Sprintf("%s:%d", c.File, c.Line) }

var shellLangs = map[string]bool{"sh": true, "bash": true, "shell": true, "console": true}

// outputLine is a documented output line: an image reference by digest.
var outputLine = regexp.MustCompile(`^\S+@sha256:\S+$`)

// Extract reads README.md and every docs/**/*.md under root.
func Extract(root string) ([]Command, error) {
	files := []string{"README.md"}
	err := filepath.WalkDir(filepath.Join(root, "docs"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".md") {
			rel, _ := filepath.Rel(root, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(files[1:])
	var all []Command
	block := 0
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			return nil, err
		}
		cmds, err := extractFile(f, b, &block)
		if err != nil {
			return nil, err
		}
		all = append(all, cmds...)
	}
	return all, nil
}

// extractFile finds the fenced blocks of one Markdown file: shell blocks
// (```sh, bash, shell, console, and the unlabelled block under a
// "### Examples" heading, as cobra's doc generator writes the Example:
// section) and unlabelled blocks that only hold references, the output of
// the shell block before them.
func extractFile(file string, data []byte, block *int) ([]Command, error) {
	var out []Command
	var heading string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	line := 0
	var fence []string
	inFence, lang, start := false, "", 0
	lastShell := -1 // index in out of the last command of the last shell block
	for sc.Scan() {
		line++
		s := sc.Text()
		if !inFence {
			if strings.HasPrefix(s, "#") {
				heading = s
			}
			if strings.HasPrefix(s, "```") {
				inFence, lang, start, fence = true, strings.TrimSpace(strings.TrimPrefix(s, "```")), line+1, nil
			}
			continue
		}
		if !strings.HasPrefix(s, "```") {
			fence = append(fence, s)
			continue
		}
		inFence = false
		switch {
		case shellLangs[lang] || (lang == "" && strings.TrimSpace(heading) == "### Examples"):
			var outputs map[int]string
			if lang == "console" {
				fence, outputs = splitConsole(fence)
			}
			cmds, err := splitBlock(file, start, fence)
			for i, c := range cmds {
				last := c.Line - start + len(c.Lines) - 1 // index in fence of its last line
				if o, ok := outputs[last]; ok {
					cmds[i].Want = o
				}
			}
			if err != nil {
				return nil, err
			}
			*block++
			for i := range cmds {
				cmds[i].Block = *block
			}
			out = append(out, cmds...)
			if len(cmds) > 0 {
				lastShell = len(out) - 1
			}
		case lang == "" && lastShell >= 0 && isOutput(fence):
			out[lastShell].Want = strings.TrimSpace(strings.Join(fence, "\n"))
		}
	}
	if inFence {
		return nil, fmt.Errorf("%s:%d: unterminated code block", file, start-1)
	}
	return out, sc.Err()
}

// splitConsole turns a console block into a shell block: "$ " prompts
// start commands (their continuation lines follow), and the other lines
// are the output of the command before them, returned by the index of
// that command's last line. Output lines become blank, so that line
// numbers stay.
func splitConsole(lines []string) ([]string, map[int]string) {
	script := make([]string, len(lines))
	outputs := map[int]string{}
	last, inCmd := -1, false
	for i, l := range lines {
		switch {
		case strings.HasPrefix(l, "$ "):
			script[i], last, inCmd = strings.TrimPrefix(l, "$ "), i, strings.HasSuffix(l, `\`)
		case inCmd:
			script[i], last, inCmd = l, i, strings.HasSuffix(l, `\`)
		case last >= 0 && strings.TrimSpace(l) != "":
			if outputs[last] != "" {
				outputs[last] += "\n"
			}
			outputs[last] += strings.TrimSpace(l)
		}
	}
	return script, outputs
}

func isOutput(lines []string) bool {
	n := 0
	for _, l := range lines {
		if l = strings.TrimSpace(l); l == "" {
			continue
		}
		if !outputLine.MatchString(l) {
			return false
		}
		n++
	}
	return n > 0
}

var (
	stdoutComment   = regexp.MustCompile(`^\s*# stdout: (.*)$`)
	trailingComment = regexp.MustCompile(`\s#\s(.*)$`)
	spaces          = regexp.MustCompile(`\s+`)
)

// splitBlock parses a shell block into its statements. The block is
// parsed with its placeholders replaced (`<hex>` would be a redirection,
// `a|b` a pipe), which changes no line, so each statement's lines can be
// taken from the block as written.
func splitBlock(file string, start int, lines []string) ([]Command, error) {
	sub := make([]string, len(lines))
	for i, l := range lines {
		sub[i] = Substitute(l, placeholderValues, 0)
	}
	f, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(strings.NewReader(strings.Join(sub, "\n")), file)
	if err != nil {
		return nil, fmt.Errorf("%s:%d: parsing the shell block: %w", file, start, err)
	}
	var out []Command
	for _, st := range f.Stmts {
		first, last := int(st.Pos().Line()), int(st.End().Line())
		c := Command{File: file, Line: start + first - 1, Lines: lines[first-1 : last]}
		var parts []string
		for _, l := range c.Lines {
			l = strings.TrimSuffix(strings.TrimRight(l, " \t"), `\`)
			parts = append(parts, l)
		}
		joined := strings.Join(parts, " ")
		if m := trailingComment.FindStringSubmatchIndex(joined); m != nil {
			if comment := joined[m[2]:m[3]]; outputLine.MatchString(strings.TrimSpace(comment)) {
				c.Want = strings.TrimSpace(comment)
			}
			joined = joined[:m[0]]
		}
		c.Text = strings.TrimSpace(spaces.ReplaceAllString(joined, " "))
		if last < len(lines) {
			if m := stdoutComment.FindStringSubmatch(lines[last]); m != nil {
				c.Want = strings.TrimSpace(m[1])
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// Span is an inline code span of the documentation's prose that names an
// assetpack command (`assetpack login REGISTRY -u USER --password-stdin`):
// a reference to a command rather than a line to run, whose command and
// flags must exist all the same.
type Span struct {
	File string
	Line int
	Args []string // the words after "assetpack"
}

var (
	fencedBlock = regexp.MustCompile("(?ms)^```.*?^```")
	inlineCode  = regexp.MustCompile("`([^`]+)`")
)

// Spans finds the inline code spans of README.md and docs/**/*.md that
// start with "assetpack " (a span may wrap onto the next line).
func Spans(root string) ([]Span, error) {
	files := []string{"README.md"}
	err := filepath.WalkDir(filepath.Join(root, "docs"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".md") {
			rel, _ := filepath.Rel(root, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []Span
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			return nil, err
		}
		// Blank the fenced blocks, keeping their newlines for the line
		// numbers.
		text := fencedBlock.ReplaceAllStringFunc(string(b), func(m string) string {
			return strings.Repeat("\n", strings.Count(m, "\n"))
		})
		for _, m := range inlineCode.FindAllStringSubmatchIndex(text, -1) {
			words := strings.Fields(text[m[2]:m[3]])
			if len(words) < 2 || words[0] != "assetpack" || strings.Contains(text[m[2]:m[3]], "\n\n") {
				continue
			}
			out = append(out, Span{File: f, Line: 1 + strings.Count(text[:m[0]], "\n"), Args: words[1:]})
		}
	}
	return out, nil
}
