package answers

import (
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// maxProblems bounds how many problems one answers file reports: a file
// that is not an answers file at all (a log, a binary) gives a screenful,
// not one line per line of it.
const maxProblems = 20

// textProblem finds the first byte that keeps data from being YAML text:
// invalid UTF-8, a NUL or another control character. yaml reports these
// without a line.
func textProblem(data []byte) *FieldError {
	line, col := 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			return &FieldError{Line: line, Msg: fmt.Sprintf("column %d: invalid UTF-8 (byte 0x%02x): an answers file is UTF-8 text", col, data[i])}
		case r == 0:
			return &FieldError{Line: line, Msg: fmt.Sprintf("column %d: a NUL byte: an answers file is text", col)}
		case r == '\n':
			line, col = line+1, 0
		case r == '\t' || r == '\r' || r == 0x85 || r == 0xFEFF:
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0xfffe || r == 0xffff:
			return &FieldError{Line: line, Msg: fmt.Sprintf("column %d: control character %U: an answers file is text", col, r)}
		}
		i += size
		col++
	}
	return nil
}

// typeCheck walks the YAML tree along the Answers type and reports
// unknown and repeated keys, and what yaml would accept silently or
// explain badly: a decimal number where a whole number is wanted (yaml
// truncates 1.5 to 1), and a list or a map where one value is wanted.
func typeCheck(n *yaml.Node) []*FieldError {
	var out []*FieldError
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	checkNode(n, reflect.TypeFor[Answers](), "", &out)
	return out
}

func checkNode(n *yaml.Node, t reflect.Type, key string, out *[]*FieldError) {
	if len(*out) > maxProblems {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode || n.ShortTag() == "!!null" {
		return
	}
	add := func(msg, allowed string) {
		v := ""
		if n.Kind == yaml.ScalarNode {
			v = n.Value
		}
		*out = append(*out, &FieldError{Line: n.Line, Key: key, Value: v, Msg: msg, Allowed: allowed})
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return // yaml's own message says so
		}
		fields := map[string]reflect.Type{}
		var names []string
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			fields[name] = f.Type
			names = append(names, name)
		}
		// Unknown and repeated keys are found here, in one pass: yaml's
		// own check compares every key with every other.
		first := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			kn := n.Content[i]
			k := kn.Value
			if key != "" {
				k = key + "." + k
			}
			ft, ok := fields[kn.Value]
			if !ok || kn.Kind != yaml.ScalarNode {
				*out = append(*out, &FieldError{Line: kn.Line, Key: k, Msg: "unknown key", Allowed: strings.Join(names, ", ")})
				if len(*out) > maxProblems {
					return
				}
				continue
			}
			if l, dup := first[kn.Value]; dup {
				*out = append(*out, &FieldError{Line: kn.Line, Key: k, Msg: fmt.Sprintf("key given twice (first at line %d)", l)})
				continue
			}
			first[kn.Value] = kn.Line
			checkNode(n.Content[i+1], ft, k, out)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, c := range n.Content {
			checkNode(c, t.Elem(), fmt.Sprintf("%s[%d]", key, i), out)
		}
	case reflect.String, reflect.Int, reflect.Bool:
		switch n.Kind {
		case yaml.SequenceNode:
			add("a list is not allowed here", "one value"+example(t))
			return
		case yaml.MappingNode:
			add("a map (key: value) is not allowed here", "one value"+example(t))
			return
		}
		if t.Kind() == reflect.Int && n.ShortTag() != "!!int" {
			add("not a whole number", "a whole number such as 500")
		}
	}
}

func example(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int:
		return ", a whole number"
	case reflect.Bool:
		return ", true or false"
	}
	return ", a string"
}
