package series

import "xk6-output-penelopa/encoder"

// Meta describes one output metric family (all series of one __name__), so a flush can tell a
// receiver its type, unit and meaning: 1.0 WriteRequest.metadata or 2.0 per-series Metadata.
type Meta struct {
	Family string             // the series name (__name__), e.g. k6_http_reqs_total
	Type   encoder.MetricType // counter for _total series, histogram for native histograms, else gauge
	Help   string             // one line: what the k6 metric measures, and which aggregate
	Unit   string             // "seconds", "bytes", "milliseconds" or ""
}

// V2Type returns the family's type in remote write 2.0's enum, which numbers the same kinds
// differently named, so a 2.0 flush needs no table of its own.
func (m Meta) V2Type() encoder.V2MetricType {
	switch m.Type {
	case encoder.MetricTypeCounter:
		return encoder.V2MetricTypeCounter
	case encoder.MetricTypeGauge:
		return encoder.V2MetricTypeGauge
	case encoder.MetricTypeHistogram:
		return encoder.V2MetricTypeHistogram
	}
	return encoder.V2MetricTypeUnspecified
}

// familiesOf returns the output series names of a k6 metric and their metadata, in output
// order.
func (t *Table) familiesOf(name string, kind Kind, contains Contains) ([]string, []Meta) {
	base := "k6_" + SanitizeName(name)
	help := metricHelp(name, kind)
	var unit string // unit of values as the stream has them (trends: after conversion)
	switch contains {
	case Time:
		unit = "milliseconds"
		if kind == Trend {
			unit = "seconds"
		}
	case Data:
		unit = "bytes"
	}
	var metas []Meta
	add := func(family string, typ encoder.MetricType, help, unit string) {
		metas = append(metas, Meta{Family: family, Type: typ, Help: help, Unit: unit})
	}
	switch kind {
	case Counter:
		add(base+"_total", encoder.MetricTypeCounter, help, unit)
	case Gauge:
		add(base, encoder.MetricTypeGauge, help, unit)
	case Rate:
		add(base+"_rate", encoder.MetricTypeGauge, help+"; share of non-zero samples", "")
		add(base+"_passes_total", encoder.MetricTypeCounter, help+"; non-zero samples", "")
		add(base+"_samples_total", encoder.MetricTypeCounter, help+"; all samples", "")
	case Trend:
		if t.native {
			suffix := ""
			if unit != "" {
				suffix = "_" + unit
			}
			add(base+suffix, encoder.MetricTypeHistogram, help, unit)
			break
		}
		for _, st := range t.stats {
			if st.kind == statCount {
				add(base+"_count", encoder.MetricTypeGauge, help+"; number of values", "")
				continue
			}
			add(base+"_"+st.suffix, encoder.MetricTypeGauge, help+"; "+st.name+" of the values", unit)
		}
	}
	names := make([]string, len(metas))
	for i, md := range metas {
		names[i] = md.Family
	}
	return names, metas
}

// metricHelp returns the help text of a k6 metric: our own description of k6's built-in
// metrics (matched by name and type, so a custom metric reusing a name is not mislabelled),
// "k6 custom <type> metric <name>" otherwise.
func metricHelp(name string, kind Kind) string {
	if k, help := builtinMetric(name); k == kind && help != "" {
		return help
	}
	return "k6 custom " + kind.String() + " metric " + name
}

// String returns k6's name of the metric type.
func (k Kind) String() string {
	switch k {
	case Counter:
		return "counter"
	case Gauge:
		return "gauge"
	case Rate:
		return "rate"
	case Trend:
		return "trend"
	}
	return "unknown"
}

// builtinMetric returns the type and a one-line description of a metric k6 emits itself, or
// 0 and "" for another name. The descriptions are ours, from k6's documented meaning.
func builtinMetric(name string) (Kind, string) {
	switch name {
	// Every test.
	case "vus":
		return Gauge, "Virtual users running at the moment"
	case "vus_max":
		return Gauge, "Virtual users allocated, the most that can run at once"
	case "iterations":
		return Counter, "Iterations completed by all virtual users"
	case "iteration_duration":
		return Trend, "Time one full iteration took, including setup and teardown where they ran"
	case "dropped_iterations":
		return Counter, "Iterations never started, for lack of a free virtual user or of time"
	case "data_sent":
		return Counter, "Bytes sent over the network by all protocols"
	case "data_received":
		return Counter, "Bytes received over the network by all protocols"
	case "checks":
		return Rate, "Checks, by success: a non-zero sample is a passed check"
	case "group_duration":
		return Trend, "Time one run of a group() block took"
	// HTTP.
	case "http_reqs":
		return Counter, "HTTP requests sent"
	case "http_req_duration":
		return Trend, "HTTP request time: sending, waiting and receiving, without DNS and connection setup"
	case "http_req_blocked":
		return Trend, "Time an HTTP request waited for a free connection before it started"
	case "http_req_connecting":
		return Trend, "Time spent opening the TCP connection of an HTTP request"
	case "http_req_tls_handshaking":
		return Trend, "Time spent in the TLS handshake of an HTTP request"
	case "http_req_sending":
		return Trend, "Time spent sending an HTTP request to the server"
	case "http_req_waiting":
		return Trend, "Time from the end of sending an HTTP request to the first response byte"
	case "http_req_receiving":
		return Trend, "Time spent receiving an HTTP response after its first byte"
	case "http_req_failed":
		return Rate, "HTTP requests, by failure: a non-zero sample is a response the response callback deems failed"
	// WebSockets.
	case "ws_connecting":
		return Trend, "Time spent opening a WebSocket connection"
	case "ws_session_duration":
		return Trend, "Time from opening a WebSocket session to its end"
	case "ws_sessions":
		return Counter, "WebSocket sessions started"
	case "ws_msgs_sent":
		return Counter, "WebSocket messages sent"
	case "ws_msgs_received":
		return Counter, "WebSocket messages received"
	case "ws_ping":
		return Trend, "Time from a WebSocket ping to its pong"
	// gRPC.
	case "grpc_req_duration":
		return Trend, "Time from sending a gRPC request to receiving its response"
	case "grpc_streams":
		return Counter, "gRPC streams opened"
	case "grpc_streams_msgs_sent":
		return Counter, "Messages sent on gRPC streams"
	case "grpc_streams_msgs_received":
		return Counter, "Messages received on gRPC streams"
	// Browser.
	case "browser_web_vital_lcp":
		return Trend, "Largest Contentful Paint: time until the largest visible content element rendered"
	case "browser_web_vital_fcp":
		return Trend, "First Contentful Paint: time until the first content rendered"
	case "browser_web_vital_cls":
		return Trend, "Cumulative Layout Shift: score of unexpected layout movement on the page"
	case "browser_web_vital_inp":
		return Trend, "Interaction to Next Paint: delay between a user interaction and the next frame"
	case "browser_web_vital_fid":
		return Trend, "First Input Delay: delay before the page handled the first user input"
	case "browser_web_vital_ttfb":
		return Trend, "Time to First Byte of a page navigation"
	case "browser_data_sent":
		return Counter, "Bytes the browser sent"
	case "browser_data_received":
		return Counter, "Bytes the browser received"
	case "browser_http_req_duration":
		return Trend, "Time of an HTTP request made by the browser"
	case "browser_http_req_failed":
		return Rate, "HTTP requests made by the browser, by failure: a non-zero sample is a failed request"
	}
	return 0, ""
}
