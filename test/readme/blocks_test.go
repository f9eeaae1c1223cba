package readme

import (
	"bufio"
	"regexp"
	"strings"
)

// block is one fenced code block of README.md.
type block struct {
	Line int    // line of the opening fence, 1-based
	Info string // the info string ("sh", "yaml", "go", or "")
	Text string // the content, less the fence's indentation
}

// parseBlocks returns the fenced code blocks of a Markdown document,
// indented ones (inside list items) included.
func parseBlocks(doc string) []block {
	var (
		blocks []block
		cur    *block
		indent string
		lines  []string
	)
	sc := bufio.NewScanner(strings.NewReader(doc))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimLeft(line, " ")
		if cur == nil {
			if strings.HasPrefix(trimmed, "```") {
				indent = line[:len(line)-len(trimmed)]
				cur = &block{Line: n, Info: strings.TrimSpace(strings.TrimPrefix(trimmed, "```"))}
				lines = nil
			}
			continue
		}
		if strings.TrimSpace(line) == "```" {
			cur.Text = strings.Join(lines, "\n") + "\n"
			blocks = append(blocks, *cur)
			cur = nil
			continue
		}
		lines = append(lines, strings.TrimPrefix(line, indent))
	}
	return blocks
}

// commandLines splits a shell block into its commands: continuation lines
// and quoted line breaks joined, blank and comment-only lines dropped.
func commandLines(text string) []string {
	var out []string
	var cont string
	for _, l := range strings.Split(text, "\n") {
		if s, ok := strings.CutSuffix(l, "\\"); ok {
			cont += s + " "
			continue
		}
		l = cont + l
		if openQuote(l) {
			cont = l + "\n"
			continue
		}
		cont = ""
		if c := strings.TrimSpace(stripComment(l)); c != "" {
			out = append(out, c)
		}
	}
	return out
}

// openQuote reports whether l ends inside a quoted string.
func openQuote(l string) bool {
	_, open := scanLine(l)
	return open
}

// stripComment removes a trailing shell comment: a # at the start or after
// a blank, outside quotes.
func stripComment(l string) string {
	i, _ := scanLine(l)
	return l[:i]
}

// scanLine returns where l's comment starts (len(l) without one) and
// whether l ends inside a quoted string.
func scanLine(l string) (comment int, open bool) {
	var quote byte
	for i := 0; i < len(l); i++ {
		switch c := l[i]; {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '#' && (i == 0 || l[i-1] == ' ' || l[i-1] == '\t'):
			return i, false
		}
	}
	return len(l), quote != 0
}

// serverLine matches a command that starts a server (and blocks until it
// is stopped): eurekad with flags only, or go run of it, possibly sent to
// the background with &.
var serverLine = regexp.MustCompile(`^(eurekad|go run \./cmd/eurekad)(\s+--.*?)?\s*(&)?$`)

// isAssignment matches a shell variable assignment alone on its line.
var isAssignment = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=\S*$`)
