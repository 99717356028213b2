package service

import (
	"encoding/json"
	"fmt"
	"sync"

	"github.com/edkit-dev/edkit/examples/bank"
)

// accounts is every open account's state and the inbox of handled
// command IDs. It is the service's small equivalent of the bank's own
// (unexported) accounts.apply, split in two so that a command changes
// nothing until its answer is out: decide, then commit.
type accounts struct {
	mu    sync.Mutex
	open  map[string]bank.Account
	inbox inbox
}

func newAccounts(inboxSize int) *accounts {
	return &accounts{open: map[string]bank.Account{}, inbox: newInbox(inboxSize)}
}

// seen reports whether command id was handled already.
func (a *accounts) seen(id string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.inbox.has(id)
}

// decide runs command c through the account's decider and evolves the
// account with the answering event: the answer, and the account's state
// after it, to commit once the answer is published.
func (a *accounts) decide(c bank.Msg) (answer bank.Msg, next bank.Account) {
	a.mu.Lock()
	acc, ok := a.open[c.Account]
	a.mu.Unlock()
	d := bank.AccountDecider()
	if !ok {
		acc = d.Initial()
	}
	events, err := d.Decide(acc, c)
	if err == nil && len(events) != 1 {
		err = fmt.Errorf("decided %d events, want 1", len(events))
	}
	if err == nil {
		next, err = d.Evolve(acc, events[0])
	}
	if err == nil {
		err = events[0].Decode(&answer)
	}
	if err != nil { // only a Msg that does not encode gets here
		return rejected(c, err), acc
	}
	return answer, next
}

// commit records command id as handled and account's new state.
func (a *accounts) commit(id, account string, next bank.Account) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.inbox.add(id)
	if next.Open {
		a.open[account] = next
	}
}

// rejected answers a command the decider could not take.
func rejected(c bank.Msg, err error) bank.Msg {
	return bank.Msg{Type: bank.EvCommandRejected, Account: c.Account, Transfer: c.Transfer, Reason: err.Error()}
}

// decodeCommand decodes a command; one that does not decode is answered
// "command-rejected", so every command still gets one answer.
func decodeCommand(payload []byte) (bank.Msg, error) {
	var c bank.Msg
	if err := json.Unmarshal(payload, &c); err != nil {
		return c, fmt.Errorf("decode command: %w", err)
	}
	return c, nil
}

// inbox remembers the last size command IDs handled, oldest forgotten
// first: enough to catch broker redeliveries, which come soon after the
// first delivery, in bounded memory.
type inbox struct {
	ids  map[string]struct{}
	ring []string
	next int // the ring slot to overwrite once full
}

func newInbox(size int) inbox {
	return inbox{ids: make(map[string]struct{}, size), ring: make([]string, 0, size)}
}

func (in *inbox) has(id string) bool {
	_, ok := in.ids[id]
	return ok
}

// add remembers id. An empty ID names no message in particular and is
// never remembered.
func (in *inbox) add(id string) {
	if id == "" || in.has(id) || cap(in.ring) == 0 {
		return
	}
	if len(in.ring) < cap(in.ring) {
		in.ring = append(in.ring, id)
	} else {
		delete(in.ids, in.ring[in.next])
		in.ring[in.next] = id
		in.next = (in.next + 1) % len(in.ring)
	}
	in.ids[id] = struct{}{}
}
