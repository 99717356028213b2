package reports

import (
	"regexp"
	"strings"
)

// userinfo matches "user:password@" after an optional scheme, as in
// amqp://guest:guest@host or user:pw@broker:9092. The user part stays so a
// reader can still tell which account was used.
var userinfo = regexp.MustCompile(`((?:[A-Za-z][A-Za-z0-9+.\-]*://)?[^\s:/@,;=]*):[^\s/@,;]*@`)

// kvSecret matches key=value secrets in DSNs such as PostgreSQL's
// "host=db password=secret".
var kvSecret = regexp.MustCompile(`(?i)\b(password|passwd|pwd|secret|token|api_?key)=([^\s&;]+)`)

// Redact hides credentials in s: the password of any URL-like
// user:password@ part, and password=/secret=/token= values.
func Redact(s string) string {
	s = userinfo.ReplaceAllString(s, "$1:***@")
	return kvSecret.ReplaceAllString(s, "$1=***")
}

// secretKey reports config keys whose whole value is a secret.
func secretKey(k string) bool {
	k = strings.ToLower(k)
	for _, w := range []string{"password", "passwd", "secret", "token", "apikey", "api_key", "api-key"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// redacted returns a copy of r with credentials hidden in Command and
// Config; r itself is not modified.
func redacted(r *Run) *Run {
	c := *r
	c.Command = Redact(r.Command)
	c.Config = make([]KV, len(r.Config))
	for i, kv := range r.Config {
		v := Redact(kv.Value)
		if secretKey(kv.Key) && v != "" {
			v = "***"
		}
		c.Config[i] = KV{Key: kv.Key, Value: v}
	}
	return &c
}
