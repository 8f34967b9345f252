package agentsync

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the outbox's Prometheus metrics (docs/sync.md "Metrics").
type Metrics struct {
	queue       prometheus.Gauge
	pending     prometheus.Gauge
	lastSuccess prometheus.Gauge
	lag         prometheus.Gauge
	witnessed   prometheus.Gauge
	confirmed   prometheus.Gauge
	refused     prometheus.Gauge
	attempts    *prometheus.CounterVec
	uploaded    prometheus.Counter
}

// NewMetrics makes the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	g := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "exhibit", Subsystem: "outbox", Name: name, Help: help})
	}
	m := &Metrics{
		queue:       g("queue_records", "Records in the log the hub has not confirmed."),
		pending:     g("pending_bytes", "Bytes of the blobs the unconfirmed records name."),
		lastSuccess: g("last_success_timestamp_seconds", "When a sync last ended with everything confirmed (Unix time; 0: never)."),
		lag:         g("lag_seconds", "Age of the oldest unconfirmed record (0: none)."),
		witnessed:   g("witnessed_size", "Size of the latest checkpoint the hub co-signed."),
		confirmed:   g("confirmed_size", "Size of the log the hub confirmed."),
		refused:     g("refused", "1 if the hub refused the last sync (a person must look), else 0."),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "exhibit", Subsystem: "outbox", Name: "syncs_total",
			Help: "Syncs attempted, by result (ok, error, refused)."}, []string{"result"}),
		uploaded: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "exhibit", Subsystem: "outbox", Name: "uploaded_bytes_total",
			Help: "Blob bytes sent to the hub, resumed parts included."}),
	}
	reg.MustRegister(m.queue, m.pending, m.lastSuccess, m.lag, m.witnessed, m.confirmed, m.refused, m.attempts, m.uploaded)
	return m
}

func (m *Metrics) attempt(err error) {
	switch {
	case err == nil:
		m.attempts.WithLabelValues("ok").Inc()
	case isRefusal(err):
		m.attempts.WithLabelValues("refused").Inc()
	default:
		m.attempts.WithLabelValues("error").Inc()
	}
}

// set updates the gauges from a status.
func (m *Metrics) set(s *Status) {
	m.queue.Set(float64(s.Queue))
	m.pending.Set(float64(s.PendingBytes))
	if !s.LastSuccess.IsZero() {
		m.lastSuccess.Set(float64(s.LastSuccess.UnixNano()) / 1e9)
	}
	m.lag.Set(s.Lag.Seconds())
	m.witnessed.Set(float64(s.Witnessed))
	m.confirmed.Set(float64(s.Confirmed))
	if s.Refused {
		m.refused.Set(1)
	} else {
		m.refused.Set(0)
	}
}

// Set updates the gauges from a status read elsewhere (ReadStatus).
func (m *Metrics) Set(s *Status) { m.set(s) }
