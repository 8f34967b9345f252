package hub

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the hub's Prometheus metrics (docs/sync.md "What is shown").
type Metrics struct {
	accepted *prometheus.CounterVec
	refused  *prometheus.CounterVec
	alarms   *prometheus.CounterVec
	cosigned prometheus.Counter
}

// NewMetrics makes the hub's metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "exhibit", Subsystem: "hub", Name: "records_confirmed_total",
			Help: "Records confirmed to agents in replies to batches (appended now or held already)."}, []string{"outcome"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "exhibit", Subsystem: "hub", Name: "refusals_total",
			Help: "Sync requests refused, by refusal code (docs/sync.md)."}, []string{"code"}),
		alarms: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "exhibit", Subsystem: "hub", Name: "alarms_total",
			Help: "Rewritten or forked agent histories detected, by kind (fork: a record or a checkpoint at a size already held differs; inconsistent: no consistency proof; checkpoint: a root the mirror does not have). Any increase needs a person."}, []string{"kind"}),
		cosigned: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "exhibit", Subsystem: "hub", Name: "checkpoints_cosigned_total",
			Help: "Agent checkpoints the hub's witness co-signed."}),
	}
	for _, k := range []string{"fork", "inconsistent", "checkpoint"} {
		m.alarms.WithLabelValues(k) // present at 0, so that alerts can use increase()
	}
	reg.MustRegister(m.accepted, m.refused, m.alarms, m.cosigned)
	return m
}

// nil-safe updates.
func (m *Metrics) confirmed(n uint64) {
	if m != nil {
		m.accepted.WithLabelValues("confirmed").Add(float64(n))
	}
}

func (m *Metrics) refusal(code string) {
	if m != nil {
		m.refused.WithLabelValues(code).Inc()
	}
}

// Alarm counts an alarm of kind (nil-safe): the witness's are counted
// by the Server; the ingest's by whoever runs it (its OnAlarm).
func (m *Metrics) Alarm(kind string) { m.alarm(kind) }

func (m *Metrics) alarm(kind string) {
	if m != nil {
		m.alarms.WithLabelValues(kind).Inc()
	}
}

func (m *Metrics) cosign() {
	if m != nil {
		m.cosigned.Inc()
	}
}
