package bustest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edkit-dev/edkit/reference/backoff"
	"github.com/edkit-dev/edkit/reference/bus"
)

// publishers are the run's publishing goroutines.
type publishers struct {
	phase   atomic.Int32
	stop    chan struct{}
	wg      sync.WaitGroup
	stopped sync.Once
}

func startPublishers(ctx context.Context, cfg RestartConfig, b bus.Bus, log *publishLog) *publishers {
	p := &publishers{stop: make(chan struct{})}
	for w := range cfg.Publishers {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.loop(ctx, cfg, b, w, log)
		}()
	}
	return p
}

// halt stops the publishers and waits for them.
func (p *publishers) halt() {
	p.stopped.Do(func() {
		close(p.stop)
		p.wg.Wait()
	})
}

func (p *publishers) last() int32 { return p.phase.Load() }

// loop publishes one message per call until stop, backing off a little
// after a failure so a dead broker is not spun on.
func (p *publishers) loop(ctx context.Context, cfg RestartConfig, b bus.Bus, w int, log *publishLog) {
	for n := 0; ; n++ {
		select {
		case <-p.stop:
			return
		case <-ctx.Done():
			return
		default:
		}
		id := fmt.Sprintf("w%d-%d", w, n)
		m := &bus.Message{ID: id, Topic: cfg.Topic, Key: fmt.Sprintf("k%d", w), Payload: []byte(id)}
		ph := p.phase.Load()
		pctx, cancel := context.WithTimeout(ctx, cfg.PublishTimeout)
		err := b.Publish(pctx, m)
		cancel()
		log.record(id, ph, err)
		if err != nil {
			select {
			case <-p.stop:
				return
			case <-ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

// members are the group's consuming subscriptions, one bus each.
type members struct {
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	buses   []bus.Bus
	stopped sync.Once
}

// startMembers subscribes cfg.Members members before the run starts, so a
// subscribe that fails is the run's error, not a loss.
func startMembers(t *testing.T, cfg RestartConfig, got *deliveryLog) (*members, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ms := &members{cancel: cancel}
	for i := range cfg.Members {
		b := cfg.NewBus(t)
		ms.buses = append(ms.buses, b)
		ch, err := b.Subscribe(ctx, cfg.Topic, cfg.Group)
		if err != nil {
			ms.stop()
			return nil, fmt.Errorf("member %d: subscribe: %w", i, err)
		}
		ms.wg.Add(1)
		go func() {
			defer ms.wg.Done()
			ms.consume(ctx, cfg, b, ch, got)
		}()
	}
	return ms, nil
}

// consume acks every delivery; when the subscription ends while the run
// goes on, it subscribes again with jittered backoff.
func (ms *members) consume(ctx context.Context, cfg RestartConfig, b bus.Bus, ch <-chan bus.Delivery, got *deliveryLog) {
	retry := backoff.New(50*time.Millisecond, time.Second)
	for {
		for d := range ch {
			// A failed ack only makes a duplicate, which is counted.
			got.add(d.Message().ID, d.Ack(ctx))
		}
		for ctx.Err() == nil {
			if !retry.Sleep(ctx) {
				return
			}
			var err error
			if ch, err = b.Subscribe(ctx, cfg.Topic, cfg.Group); err == nil {
				got.mu.Lock()
				got.resubscribed++
				got.mu.Unlock()
				retry.Reset()
				break
			}
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// stop ends every member and closes their buses.
func (ms *members) stop() {
	ms.stopped.Do(func() {
		ms.cancel()
		ms.wg.Wait()
		for _, b := range ms.buses {
			_ = b.Close()
		}
	})
}
