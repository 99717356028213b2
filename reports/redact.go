package reports

import (
	"regexp"
	"strings"

	"github.com/edkit-dev/edkit/harness/check"
	"github.com/edkit-dev/edkit/harness/history"
)

// schemeStart finds where a URL's authority begins: after "scheme://".
var schemeStart = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.\-]*://`)

// userinfo matches a scheme-less "user:password@host", as in
// admin:hunter2@broker:9092 (and lists of them, "a:1@h1,b:2@h2"). The user
// part stays so a reader can still tell which account was used.
var userinfo = regexp.MustCompile(`(^|[\s,;=("'])([^\s:/@,;=("']*):[^\s/@,;]*@`)

// kvSecret matches key=value secrets in DSNs such as PostgreSQL's
// "host=db password=secret" and in query strings (?token=).
var kvSecret = regexp.MustCompile(`(?i)\b(password|passwd|pwd|secret|token|api_?key|auth_?token)=([^\s&;]+)`)

// natsCreds matches the JWT and seed blocks of a NATS credentials file,
// and nkeySeed a bare NKEY seed (S, a type letter, base32).
var (
	natsCreds = regexp.MustCompile(`(?s)(-----BEGIN [A-Z ]*(?:JWT|SEED)-----).*?(-{5,6}END [A-Z ]*(?:JWT|SEED)-{5,6})`)
	nkeySeed  = regexp.MustCompile(`\bS[UOACNX][A-Z2-7]{56}\b`)
)

// tokenSchemes carry a bare token as the whole userinfo (nats://TOKEN@host).
var tokenSchemes = map[string]bool{"nats": true, "tls": true, "ws": true, "wss": true}

// Redact hides credentials in s: the password of any user:password@ part
// — also when the password holds , ; / @ or : unescaped, as people write
// them — a NATS token URL's token, key=value secrets (password=, token=),
// and NATS credentials (JWT and seed blocks, bare NKEY seeds).
func Redact(s string) string {
	s = redactURLs(s)
	s = userinfo.ReplaceAllString(s, "$1$2:***@")
	s = kvSecret.ReplaceAllString(s, "$1=***")
	s = natsCreds.ReplaceAllString(s, "$1 *** $2")
	return nkeySeed.ReplaceAllString(s, "S***")
}

// redactURLs hides the userinfo secrets of every scheme://userinfo@host in
// s. The userinfo runs to the last '@' before the URL ends (whitespace, or
// the next URL of a list), not to the first: a host never holds an '@', a
// password written unescaped may.
func redactURLs(s string) string {
	locs := schemeStart.FindAllStringIndex(s, -1)
	if locs == nil {
		return s
	}
	var b strings.Builder
	prev := 0
	for i, loc := range locs {
		auth := loc[1]
		end := len(s)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		if ws := strings.IndexAny(s[auth:end], " \t\r\n\"'<>"); ws >= 0 {
			end = auth + ws
		}
		at := strings.LastIndexByte(s[auth:end], '@')
		if at < 0 {
			continue
		}
		info := s[auth : auth+at]
		scheme := strings.ToLower(s[loc[0] : loc[1]-3])
		var hidden string
		switch user, _, hasPass := strings.Cut(info, ":"); {
		case hasPass:
			hidden = user + ":***"
		case tokenSchemes[scheme]:
			hidden = "***"
		default:
			continue // a user name alone is no secret
		}
		b.WriteString(s[prev:auth])
		b.WriteString(hidden)
		prev = auth + at
	}
	b.WriteString(s[prev:])
	return b.String()
}

// secretKey reports config keys whose whole value is a secret.
func secretKey(k string) bool {
	k = strings.ToLower(k)
	for _, w := range []string{"password", "passwd", "secret", "token", "apikey", "api_key", "api-key", "creds", "credentials"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// redacted returns a copy of r with credentials hidden wherever a string
// of the user's or a broker's can be: the name, command and config, the
// invariants' names, notes, anomalies and witnesses, and the thresholds.
// r itself is not modified.
func redacted(r *Run) *Run {
	c := *r
	c.Name = Redact(r.Name)
	c.Command = Redact(r.Command)
	c.Config = make([]KV, len(r.Config))
	for i, kv := range r.Config {
		v := Redact(kv.Value)
		if secretKey(kv.Key) && v != "" {
			v = "***"
		}
		c.Config[i] = KV{Key: kv.Key, Value: v}
	}
	c.Invariants = mapSlice(r.Invariants, func(inv check.Result) check.Result {
		inv.Invariant, inv.Note = Redact(inv.Invariant), Redact(inv.Note)
		inv.Anomalies = mapSlice(inv.Anomalies, func(a check.Anomaly) check.Anomaly {
			a.Summary = Redact(a.Summary)
			a.Witness = mapSlice(a.Witness, func(op history.Op) history.Op {
				op.Value, op.Error = Redact(op.Value), Redact(op.Error)
				return op
			})
			return a
		})
		return inv
	})
	c.Thresholds = mapSlice(r.Thresholds, func(t Threshold) Threshold {
		t.Name = Redact(t.Name)
		return t
	})
	return &c
}

// mapSlice is a copy of in with f applied, nil for nil: the copy must
// encode as the original does.
func mapSlice[T any](in []T, f func(T) T) []T {
	if in == nil {
		return nil
	}
	out := make([]T, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}
