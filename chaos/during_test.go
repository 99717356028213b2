package chaos_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/chaos"
	"github.com/edkit-dev/edkit/harness/clock"
	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/harness/history"
)

// switchFault is a fault on a flag: broken while injected.
type switchFault struct {
	name    string
	mu      sync.Mutex
	broken  bool
	injects int
	heals   int
	failInj bool
}

func named(name string) *switchFault { return &switchFault{name: name} }

func (f *switchFault) Name() string { return f.name }

func (f *switchFault) Inject(context.Context) (chaos.Heal, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failInj {
		return nil, errors.New("refused")
	}
	f.injects++
	f.broken = true
	return func(context.Context) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.heals++
		f.broken = false
		return nil
	}, nil
}

func (f *switchFault) state() (broken bool, injects, heals int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.broken, f.injects, f.heals
}

var twoFaults = chaos.Schedule{Seed: 1, Intervals: []chaos.Interval{
	{Fault: 0, Start: 10 * time.Millisecond, End: 40 * time.Millisecond},
	{Fault: 1, Start: 60 * time.Millisecond, End: 2 * time.Second},
}}

// TestDuringHealsWhateverHappens: the fault held when the work ends — by
// returning, failing, panicking or being cancelled — is healed before
// During returns, each injection and heal is journaled and recorded.
func TestDuringHealsWhateverHappens(t *testing.T) {
	for _, tc := range []struct {
		name    string
		work    func(ctx context.Context) error
		cancel  bool
		wantErr string
	}{
		{"work ends mid-fault", func(ctx context.Context) error { return sleep(ctx, 150*time.Millisecond) }, false, ""},
		{"work fails mid-fault", func(ctx context.Context) error { _ = sleep(ctx, 150*time.Millisecond); return errors.New("boom") }, false, "boom"},
		{"work panics mid-fault", func(ctx context.Context) error { _ = sleep(ctx, 150*time.Millisecond); panic("oops") }, false, "panicked: oops"},
		{"cancelled mid-fault (Ctrl-C)", func(ctx context.Context) error { <-ctx.Done(); return nil }, true, "context canceled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := named("pause kafka"), named("kill redis")
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if tc.cancel {
				time.AfterFunc(150*time.Millisecond, cancel)
			}
			rec := history.NewRecorder(clock.Real{})
			journal, err := chaos.During(ctx, clock.Real{}, twoFaults, []chaos.Fault{a, b}, rec, tc.work)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
			for _, f := range []*switchFault{a, b} {
				if broken, injects, heals := f.state(); broken || injects != 1 || heals != 1 {
					t.Errorf("%s: broken %v after During, %d injected, %d healed", f.name, broken, injects, heals)
				}
			}
			if len(journal) != 4 || journal[0].Kind != "inject" || journal[3].Kind != "heal" || journal[3].Fault != "kill redis" {
				t.Errorf("journal %+v", journal)
			}
			ops := rec.Ops()
			if len(ops) != 4 || ops[0].F != history.Fault || ops[0].Type != history.Invoke || ops[1].Type != history.OK || ops[0].Value != "pause kafka" {
				t.Errorf("history %+v", ops)
			}
		})
	}
}

// TestDuringGoesOnAfterARefusedInjection: a fault that cannot be injected
// is journaled as failed and the schedule goes on.
func TestDuringGoesOnAfterARefusedInjection(t *testing.T) {
	a, b := named("pause kafka"), named("kill redis")
	a.failInj = true
	journal, err := chaos.During(t.Context(), clock.Real{}, twoFaults, []chaos.Fault{a, b}, nil,
		func(ctx context.Context) error { return sleep(ctx, 100*time.Millisecond) })
	if err == nil || !strings.Contains(err.Error(), "inject pause kafka: refused") {
		t.Fatalf("err %v", err)
	}
	if _, injects, heals := b.state(); injects != 1 || heals != 1 {
		t.Errorf("the next fault: %d injected, %d healed", injects, heals)
	}
	if journal[0].Error != "refused" {
		t.Errorf("journal %+v", journal)
	}
	if _, err := chaos.During(t.Context(), nil, twoFaults, []chaos.Fault{a}, nil, func(context.Context) error { return nil }); !errors.Is(err, chaos.ErrBadNemesis) {
		t.Errorf("a schedule naming a missing fault: %v", err)
	}
}

// fakeComponent has only the capabilities it embeds.
type fakeComponent struct{ env.Component }

func (fakeComponent) Name() string               { return "redis" }
func (fakeComponent) Kind() env.Kind             { return "redis" }
func (fakeComponent) Provider() env.ProviderName { return "external" }

type pausable struct {
	fakeComponent
	paused bool
}

func (p *pausable) Pause(context.Context) error  { p.paused = true; return nil }
func (p *pausable) Resume(context.Context) error { p.paused = false; return nil }

// TestComponentFaults: a fault needs its capability, by interface
// assertion; a component without it is refused by name.
func TestComponentFaults(t *testing.T) {
	for name, mk := range map[string]func(env.Component) (chaos.Fault, error){
		"pause": chaos.Pause, "kill": chaos.Kill, "stop": chaos.Stop, "partition": chaos.Partition,
	} {
		if _, err := mk(fakeComponent{}); !errors.Is(err, chaos.ErrUnsupported) || !strings.Contains(err.Error(), name+" redis (redis, external)") {
			t.Errorf("%s of a component without the capability: %v", name, err)
		}
	}
	p := &pausable{}
	f, err := chaos.Pause(p)
	if err != nil {
		t.Fatal(err)
	}
	heal, err := f.Inject(t.Context())
	if err != nil || !p.paused || f.Name() != "pause redis" {
		t.Fatalf("inject: %v, paused %v, name %q", err, p.paused, f.Name())
	}
	if err := heal(t.Context()); err != nil || p.paused {
		t.Fatalf("heal: %v, paused %v", err, p.paused)
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
