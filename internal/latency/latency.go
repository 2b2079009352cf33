// Package latency gives the agent's latency histograms one shape: Prometheus
// buckets (so histogram_quantile works in Prometheus) fine enough below a
// millisecond, where Raft writes on a quiet cluster land.
package latency

import "github.com/VictoriaMetrics/metrics"

// Buckets are the upper bounds, in seconds.
var Buckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Histogram returns the histogram called name (with its labels), creating it on
// first use in the global set.
func Histogram(name string) *metrics.PrometheusHistogram {
	return metrics.GetOrCreatePrometheusHistogramExt(name, Buckets)
}
