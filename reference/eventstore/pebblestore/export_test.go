package pebblestore

// DecodeSnapshot exposes the snapshot decoder to the fuzz test.
var DecodeSnapshot = decodeSnapshot
