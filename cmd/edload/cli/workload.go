package cli

import (
	"errors"
	"strconv"

	"github.com/spf13/pflag"

	"github.com/edkit-dev/edkit/blackbox"
	"github.com/edkit-dev/edkit/harness"
	"github.com/edkit-dev/edkit/harness/env"
)

// workloadFlags are `edload run -f`'s: a workload file makes the run
// black-box, its broker and load the defaults of the flags.
type workloadFlags struct {
	file     string
	asyncapi string
	provider string
	w        *blackbox.Workload
}

func (wf *workloadFlags) add(fl *pflag.FlagSet) {
	fl.StringVarP(&wf.file, "file", "f", "", "a workload file: drive a service in any language through its topics and judge its outputs\n"+
		"(black-box mode; its broker, load and SLO are the defaults of the flags, which override them)")
	fl.StringVar(&wf.asyncapi, "asyncapi", "", "the service's AsyncAPI 2.x or 3.0 document, for a -f workload: inputs drawn from the messages it\n"+
		"receives (where the workload lists none), every output held to the messages it sends")
	fl.StringVar(&wf.provider, "provider", "", "how the broker comes to life: embedded (kafka's default), process (the others' default:\n"+
		"a local server on free ports), container or external (with a workload's addrs or url)")
}

// apply reads the workload file and makes it the run's system, its
// settings the defaults of every flag not given.
func (wf *workloadFlags) apply(f *runFlags, fl *pflag.FlagSet) error {
	if wf.file == "" {
		if wf.asyncapi != "" {
			return errors.New("--asyncapi goes with a workload file (-f) that says how to load and correlate")
		}
		return nil
	}
	var opts []blackbox.ParseOption
	if wf.asyncapi != "" {
		opts = append(opts, blackbox.WithAsyncAPI(wf.asyncapi))
	}
	w, err := blackbox.ParseFile(wf.file, opts...)
	if err != nil {
		return err
	}
	wf.w = w
	f.systems, f.system = []harness.System{blackbox.New(w)}, w.Name
	set := func(name string, v string) {
		if !fl.Changed(name) {
			_ = fl.Set(name, v)
		}
	}
	set("broker", w.Broker.Kind)
	set("rate", w.Load.Rate)
	set("duration", w.Load.Duration.String())
	set("keys", strconv.Itoa(w.Load.Keys))
	set("key-dist", w.Load.Distribution)
	set("workers", strconv.Itoa(w.Load.Workers))
	set("seed", strconv.FormatInt(w.Load.Seed, 10))
	set("warm-up", w.Load.WarmUp.String())
	set("fault", "none")
	set("quiesce-timeout", w.Quiesce().String())
	if w.Load.Count > 0 {
		set("count", strconv.FormatUint(w.Load.Count, 10))
	}
	if w.Broker.Partitions > 0 {
		set("partitions", strconv.Itoa(w.Broker.Partitions))
	}
	if len(w.SLO) > 0 {
		set("slo", w.SLO.String())
	}
	return nil
}

// broker is the run's broker: the flags' kind and partitions, the
// workload's (or --provider's) provider, endpoint and durability.
func (wf *workloadFlags) broker(f *runFlags) harness.Broker {
	b := harness.Broker{Kind: f.broker, Partitions: f.partitions}
	if wf.w != nil && wf.w.Broker.Kind == f.broker {
		b.Provider, b.Endpoint, b.Durable, b.Proxied = wf.w.Broker.Provider, wf.w.Broker.Endpoint, wf.w.Broker.Durable, wf.w.Broker.Proxied
	}
	if wf.provider != "" {
		b.Provider = env.ProviderName(wf.provider)
	}
	return b
}
