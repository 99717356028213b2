package match

import (
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/edkit-dev/edkit/harness/jsonvalue"
	"github.com/edkit-dev/edkit/harness/yamlfile"
)

// problem is a problem at n (a zero node for a nil one).
func problem(n *yaml.Node, format string, args ...any) yamlfile.Problem {
	if n == nil {
		n = &yaml.Node{}
	}
	return yamlfile.Problem{Node: n, Msg: fmt.Sprintf(format, args...)}
}

func short(s string) string {
	return jsonvalue.Cut(s, jsonvalue.MaxShown)
}
