package blackbox

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/template"

	"github.com/edkit-dev/edkit/harness/env"
	"github.com/edkit-dev/edkit/harness/env/process"
)

// service is the user's service edkit started for the run.
type service struct {
	inst *process.Instance
	src  []string
}

// ErrNoReachableBroker is a workload with a service on the in-process
// memory broker, which no other process can reach.
var ErrNoReachableBroker = errors.New("blackbox: a service runs in its own process and cannot reach the memory broker: use kafka, rabbitmq, nats or redis")

// startService starts the workload's service, if any, with its templates
// filled from the run's broker endpoint.
func (in *instance) startService(ctx context.Context) error {
	s := in.w.Service
	if s == nil {
		return nil
	}
	if in.env.Broker == nil {
		return ErrNoReachableBroker
	}
	v := ServiceVars{Broker: brokerVars(in.env.Broker)}
	spec := process.ServiceSpec{Name: "service", Dir: s.Dir, ReadyLog: s.Ready, ReadyTimeout: s.ReadyTimeout, Env: map[string]string{}}
	for i, t := range s.Command {
		arg, err := renderService(t, v)
		if err != nil {
			return fmt.Errorf("service command[%d]: %w", i, err)
		}
		spec.Command = append(spec.Command, arg)
	}
	for k, t := range s.Env {
		val, err := renderService(t, v)
		if err != nil {
			return fmt.Errorf("service env %s: %w", k, err)
		}
		spec.Env[k] = val
	}
	inst, err := process.New().StartService(ctx, spec)
	if err != nil {
		return fmt.Errorf("start service: %w", err)
	}
	in.svc = &service{inst: inst, src: s.Source}
	return nil
}

func brokerVars(c env.Component) BrokerVars {
	ep := c.Endpoint()
	return BrokerVars{Kind: string(c.Kind()), Addrs: strings.Join(ep.Addrs, ","), URL: ep.URL}
}

func renderService(t *template.Template, v ServiceVars) (string, error) {
	var b strings.Builder
	if err := t.Execute(&b, v); err != nil {
		return "", err
	}
	return b.String(), nil
}

// Component is the service's environment handle, for faults (kill, pause,
// stop, restart); nil when edkit did not start one.
func (in *instance) Component() env.Component {
	if in.svc == nil {
		return nil
	}
	return in.svc.inst
}

func (s *service) close() error {
	return s.inst.Close(context.Background())
}
