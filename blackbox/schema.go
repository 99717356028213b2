package blackbox

import _ "embed"

// WorkloadSchema is the JSON Schema of workload files, for editors
// (yaml-language-server) and for tools that write workloads. The parser
// is the authority — it also renders every template once — and a test
// keeps the two in step over every workload the project ships.
//
//go:embed workload.schema.json
var WorkloadSchema []byte
