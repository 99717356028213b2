package scenarios

import (
	"fmt"
	"strings"

	"github.com/onsi/gomega/types"

	"github.com/edkit-dev/edkit/harness/history"
)

// Pass is a Gomega matcher for a *Verdict that passed: from Ginkgo or
// plain go test, Expect(scenarios.Run(ctx, sys, sc, mode)).To(Pass()). On
// failure it prints what did not hold and the message sequence.
func Pass() types.GomegaMatcher { return passMatcher{} }

type passMatcher struct{}

func (passMatcher) Match(actual any) (bool, error) {
	v, ok := actual.(*Verdict)
	if !ok || v == nil {
		return false, fmt.Errorf("Pass wants a *Verdict, got %T", actual)
	}
	return v.Passed, nil
}

func (passMatcher) FailureMessage(actual any) string {
	v, _ := actual.(*Verdict)
	return fmt.Sprintf("scenario %q failed (%s):\n%s", v.Scenario, v.Environment, v.Report)
}

func (passMatcher) NegatedFailureMessage(actual any) string {
	v, _ := actual.(*Verdict)
	return fmt.Sprintf("scenario %q passed, expected it to fail", v.Scenario)
}

// HavePublishedOn is a Gomega matcher for a *Verdict whose run published
// on topic messages of exactly these types, in order (each message once
// however often its publish was retried), as edkit recorded them:
// Expect(v).To(HavePublishedOn("bank.events", "debited", "credited")).
func HavePublishedOn(topic string, types ...string) types.GomegaMatcher {
	return &publishedMatcher{x: MessagesExpectation{Topic: topic, Types: types}}
}

type publishedMatcher struct {
	x   MessagesExpectation
	err error
}

func (m *publishedMatcher) Match(actual any) (bool, error) {
	v, ok := actual.(*Verdict)
	if !ok || v == nil {
		return false, fmt.Errorf("HavePublishedOn wants a *Verdict, got %T", actual)
	}
	if v.Truncated {
		return false, fmt.Errorf("the run recorded more than the %d ops a Verdict keeps: use a messages expectation in the file", maxTranscript)
	}
	m.err = messagesErr(v.Ops, &m.x)
	return m.err == nil, nil
}

func (m *publishedMatcher) FailureMessage(actual any) string {
	v, _ := actual.(*Verdict)
	return fmt.Sprintf("%v\nmessage sequence:\n%s", m.err, opsListing(v.Ops))
}

func (m *publishedMatcher) NegatedFailureMessage(any) string {
	return fmt.Sprintf("topic %s carried [%s], expected otherwise", m.x.Topic, strings.Join(m.x.Types, ", "))
}

func opsListing(ops []history.Op) string {
	var b strings.Builder
	for _, op := range ops {
		fmt.Fprintf(&b, "  %s\n", escape(op.String()))
	}
	return b.String()
}
