// Package reports holds the model of one edkit run — its configuration,
// counts, latency summaries, invariant verdicts and thresholds — and writes
// it for machines (JSON, JUnit XML for CI) and for people (a short text
// summary).
//
// Every writer escapes user data through its encoder (encoding/json,
// encoding/xml) and redacts credentials in URL-like values
// ("amqp://user:pass@host" becomes "amqp://user:***@host") before writing,
// so a report can be attached to a public CI run.
//
// JSON durations are integer nanoseconds, in fields whose names end in "_ns"
// (and in the embedded check results, whose own fields "time" and "at" are
// nanoseconds too); one unit everywhere keeps reports easy to diff and
// compare against a baseline.
package reports
