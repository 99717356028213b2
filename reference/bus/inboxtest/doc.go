// Package inboxtest is the conformance suite for bus.Inbox: every inbox
// (bus.MemoryInbox, pebbleinbox) runs Run and so behaves the same under
// bus.Dedup. Durability across a reopen is a backend's own test, since only
// a backend knows how to reopen itself.
package inboxtest
