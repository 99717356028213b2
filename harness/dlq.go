package harness

import (
	"context"
	"strconv"

	"github.com/edkit-dev/edkit/harness/history"
	"github.com/edkit-dev/edkit/harness/record"
	"github.com/edkit-dev/edkit/reference/bus"
)

// DeadLetterTopics is implemented by systems that dead-letter to topics
// of their own (with bus.DeadLetter, whose copies carry the reason, the
// attempts, the original topic and the group in headers). The run then
// judges dead letters from observation, as DESIGN.md asks: edkit consumes
// those topics itself and records a dead-letter op for each copy it finds
// there, and Env.DeadLetter — the system's own word that it dead-lettered
// a message — records nothing. A system that says it dead-lettered a
// message that never reached the topic breaks DLQ accounting.
type DeadLetterTopics interface {
	DeadLetterTopics() []string
}

// dlqObserver is the consumer group edkit observes dead-letter topics as.
const dlqObserver = "edkit-dlq-observer"

// observeDLQ consumes topic until ctx ends, recording each dead-letter copy
// as the dead-letter op of its group and settling it in the ledger, so that
// quiescence waits for the copies to be seen.
func observeDLQ(ctx context.Context, b bus.Bus, rec *history.Recorder, ledger *record.Ledger, topic string) error {
	err := bus.Consume(ctx, b, topic, dlqObserver, func(_ context.Context, m *bus.Message) error {
		seq, _ := strconv.ParseInt(m.Header(bus.HeaderSeq), 10, 64)
		attempts, _ := strconv.Atoi(m.Header(bus.HeaderDLQAttempts))
		rec.Record(history.Op{
			Process: dlqObserver, Type: history.OK, F: history.DeadLetter,
			Topic: m.Header(bus.HeaderDLQOriginalTopic), Group: m.Header(bus.HeaderDLQGroup),
			Key: m.Key, MsgID: m.ID, Seq: seq, Attempt: attempts, Value: m.Header(bus.HeaderDLQReason),
		})
		ledger.Settle(topic, dlqObserver, m.ID)
		return nil
	})
	if ctx.Err() != nil {
		return nil
	}
	return err
}
