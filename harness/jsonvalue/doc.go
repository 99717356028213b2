// Package jsonvalue is JSON values as edkit prints and addresses them. The
// scenario matchers (scenarios/match) and the schema compatibility check
// (harness/schema) both read JSON that edkit does not trust — payloads from
// a broker, schema files from a repository — and both say where and why it
// is wrong; this package is the one place that decides how:
//
//   - brief rendering (Render, Prefix, Cut, Kind): a value printed in a
//     message is cut short, and its strings are quoted with strconv.Quote,
//     so that control characters and invisible runes are escaped instead
//     of reaching a terminal;
//   - RFC 6901 pointer tokens (Pointer, ParsePointer): "~0" for "~" and
//     "~1" for "/";
//   - a JSON Schema compiler that never loads a remote reference
//     (CompileSchema): a $ref resolves only inside the document, so that a
//     check means the same on every machine and never reaches the network
//     or the disk; with the first leaf of its errors (Leaf), and the
//     limits on numbers that keep its big.Rat arithmetic cheap (TooLarge).
//
// Each caller keeps its own words around these: its messages, its name for
// the document inside the compiler, and why it refuses a remote $ref. The
// package imports no other edkit package: scenarios build on harness, and
// it must never import scenarios.
package jsonvalue
