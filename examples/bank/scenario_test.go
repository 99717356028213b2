package bank_test

import (
	"strings"
	"testing"

	"github.com/onsi/gomega"

	"github.com/edkit-dev/edkit/examples/bank"
	"github.com/edkit-dev/edkit/scenarios"
)

// TestScenarioFiles runs every scenario file of the bank in the three
// modes: in memory, on an embedded Kafka, and in memory under duplicated
// and delayed deliveries. The same files, the same expectations.
func TestScenarioFiles(t *testing.T) {
	verdicts := scenarios.RunFiles(t, bank.New(bank.Config{}), "scenarios/*.yaml")
	envs := map[string]int{}
	for _, v := range verdicts {
		envs[v.Environment]++
	}
	for _, env := range []string{"memory on membus", "kafka on embedded-kafka", "faults on membus"} {
		if envs[env] < 4 {
			t.Errorf("%d scenarios ran %s, want the 4 files (ran: %v)", envs[env], env, envs)
		}
	}
}

// TestScenarioCatchesBrokenBank runs the compensation scenario on a bank
// that skips compensation: it must fail, naming what did not hold.
func TestScenarioCatchesBrokenBank(t *testing.T) {
	sys := bank.New(bank.Config{})
	sc, err := scenarios.ParseFile("scenarios/frozen-compensated.yaml", sys.Vocabulary())
	if err != nil {
		t.Fatal(err)
	}
	sc.Setup.(*bank.Setup).Bugs.SkipCompensation = true
	v, err := scenarios.Run(t.Context(), sys, sc, scenarios.Memory)
	if err != nil {
		t.Fatal(err)
	}
	if v.Passed {
		t.Fatalf("a bank that skips compensation passed:\n%s", v.Report)
	}
	for _, want := range []string{"FAIL then (line 12): view transfer/t-1", "FAIL then (line 13)", "refund", "message sequence"} {
		if !strings.Contains(v.Report, want) {
			t.Errorf("the report does not say %q:\n%s", want, v.Report)
		}
	}
}

// BenchmarkScenario runs the bank's compensation scenario in memory.
func BenchmarkScenario(b *testing.B) {
	sys := bank.New(bank.Config{})
	sc, err := scenarios.ParseFile("scenarios/frozen-compensated.yaml", sys.Vocabulary())
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		v, err := scenarios.Run(b.Context(), sys, sc, scenarios.Memory)
		if err != nil || !v.Passed {
			b.Fatalf("%v\n%v", err, v)
		}
	}
}

// TestScenarioMatchers: Pass and HavePublishedOn hold on a clean run and
// fail, with the report, on a wrong expectation and a broken bank.
func TestScenarioMatchers(t *testing.T) {
	g := gomega.NewWithT(t)
	sys := bank.New(bank.Config{})
	sc, err := scenarios.ParseFile("scenarios/transfer-completes.yaml", sys.Vocabulary())
	g.Expect(err).NotTo(gomega.HaveOccurred())
	v, err := scenarios.Run(t.Context(), sys, sc, scenarios.Memory)
	g.Expect(err).NotTo(gomega.HaveOccurred())
	g.Expect(v).To(scenarios.Pass())
	g.Expect(v).To(scenarios.HavePublishedOn(bank.TopicCommands, "open", "open", "open", "freeze", "debit", "credit"))

	wrong := scenarios.HavePublishedOn(bank.TopicCommands, "open", "debit")
	if ok, err := wrong.Match(v); ok || err != nil {
		t.Fatalf("a wrong message list matched (%v, %v)", ok, err)
	}
	if msg := wrong.FailureMessage(v); !strings.Contains(msg, "holds [open, open, open, freeze, debit, credit]") || !strings.Contains(msg, "message sequence") {
		t.Errorf("failure message: %s", msg)
	}

	sc2, err := scenarios.ParseFile("scenarios/frozen-compensated.yaml", sys.Vocabulary())
	g.Expect(err).NotTo(gomega.HaveOccurred())
	sc2.Setup.(*bank.Setup).Bugs.SkipCompensation = true
	broken, err := scenarios.Run(t.Context(), sys, sc2, scenarios.Memory)
	g.Expect(err).NotTo(gomega.HaveOccurred())
	pass := scenarios.Pass()
	if ok, _ := pass.Match(broken); ok {
		t.Fatal("Pass matched a broken bank's verdict")
	}
	if msg := pass.FailureMessage(broken); !strings.Contains(msg, "FAIL money-conserved") {
		t.Errorf("Pass's failure message lacks the broken invariant:\n%s", msg)
	}
}
