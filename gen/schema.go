package main

// Kind is how a field's value is typed and laid out on the protobuf wire.
type Kind int

// The field kinds the remote-write messages use.
const (
	String     Kind = iota // length-delimited UTF-8
	Double                 // fixed64, IEEE 754 bits
	Int64                  // varint, two's complement
	Uint32                 // varint
	Uint64                 // varint
	Sint32                 // varint, zigzag
	Sint64                 // varint, zigzag
	EnumValued             // varint of an int32 enum value
	Embedded               // length-delimited embedded message
)

// Field is one field of a message, in proto terms.
type Field struct {
	Name     string // proto name, snake_case
	Number   int    // field number
	Kind     Kind   // wire kind
	Type     string // enum or message type name, for EnumValued and Embedded kinds
	Repeated bool   // repeated field
	Packed   bool   // repeated scalar encoded as one length-delimited run
	Oneof    string // enclosing oneof: such fields have explicit presence and are always written
}

// Message is one protobuf message.
type Message struct {
	Name   string // proto name, also the Go name (with the file's prefix)
	Fields []Field
}

// EnumValue is one named value of an enum.
type EnumValue struct {
	Proto  string // name as written in the proto
	Go     string // Go suffix appended to the enum's Go type name
	Number int32
}

// Enum is a protobuf enum, emitted as a Go int32 type with named constants.
type Enum struct {
	Name   string // Go type name (without the file's prefix)
	Proto  string // fully qualified proto name, for the doc comment
	Doc    string // why the enum exists, completes "<Name> is ..."
	Values []EnumValue
}

// File is one generated Go file: a proto package's messages under a Go name prefix.
type File struct {
	Name     string // output file name inside encoder/
	Title    string // what the file encodes, for its header comment
	Proto    string // proto package
	Prefix   string // prefix of every Go identifier, keeping two protocols apart in one package
	Enums    []Enum
	Messages []Message
}

// histogramFields is the native histogram message, identical in both protocols up to field 15.
func histogramFields(resetHint string) []Field {
	return []Field{
		{Name: "count_int", Number: 1, Kind: Uint64, Oneof: "count"},
		{Name: "count_float", Number: 2, Kind: Double, Oneof: "count"},
		{Name: "sum", Number: 3, Kind: Double},
		{Name: "schema", Number: 4, Kind: Sint32},
		{Name: "zero_threshold", Number: 5, Kind: Double},
		{Name: "zero_count_int", Number: 6, Kind: Uint64, Oneof: "zero_count"},
		{Name: "zero_count_float", Number: 7, Kind: Double, Oneof: "zero_count"},
		{Name: "negative_spans", Number: 8, Kind: Embedded, Type: "BucketSpan", Repeated: true},
		{Name: "negative_deltas", Number: 9, Kind: Sint64, Repeated: true, Packed: true},
		{Name: "negative_counts", Number: 10, Kind: Double, Repeated: true, Packed: true},
		{Name: "positive_spans", Number: 11, Kind: Embedded, Type: "BucketSpan", Repeated: true},
		{Name: "positive_deltas", Number: 12, Kind: Sint64, Repeated: true, Packed: true},
		{Name: "positive_counts", Number: 13, Kind: Double, Repeated: true, Packed: true},
		{Name: "reset_hint", Number: 14, Kind: EnumValued, Type: resetHint},
		{Name: "timestamp", Number: 15, Kind: Int64},
	}
}

var bucketSpan = Message{Name: "BucketSpan", Fields: []Field{
	{Name: "offset", Number: 1, Kind: Sint32},
	{Name: "length", Number: 2, Kind: Uint32},
}}

// rw1 is remote write 1.0, proto package prometheus (prompb/types.proto, prompb/remote.proto).
var rw1 = File{
	Name:   "rw1.gen.go",
	Title:  "Prometheus remote write 1.0 (proto package prometheus, message WriteRequest)",
	Proto:  "prometheus",
	Prefix: "",
	Enums: []Enum{
		{Name: "MetricType", Proto: "prometheus.MetricMetadata.MetricType", Doc: "the kind of metric a MetricMetadata entry describes", Values: []EnumValue{
			{"UNKNOWN", "Unknown", 0}, {"COUNTER", "Counter", 1}, {"GAUGE", "Gauge", 2},
			{"HISTOGRAM", "Histogram", 3}, {"GAUGEHISTOGRAM", "GaugeHistogram", 4},
			{"SUMMARY", "Summary", 5}, {"INFO", "Info", 6}, {"STATESET", "StateSet", 7},
		}},
		{Name: "ResetHint", Proto: "prometheus.Histogram.ResetHint", Doc: "what a receiver may assume about counter resets before a Histogram", Values: []EnumValue{
			{"UNKNOWN", "Unknown", 0}, {"YES", "Yes", 1}, {"NO", "No", 2}, {"GAUGE", "Gauge", 3},
		}},
	},
	Messages: []Message{
		{Name: "WriteRequest", Fields: []Field{
			{Name: "timeseries", Number: 1, Kind: Embedded, Type: "TimeSeries", Repeated: true},
			{Name: "metadata", Number: 3, Kind: Embedded, Type: "MetricMetadata", Repeated: true},
		}},
		{Name: "TimeSeries", Fields: []Field{
			{Name: "labels", Number: 1, Kind: Embedded, Type: "Label", Repeated: true},
			{Name: "samples", Number: 2, Kind: Embedded, Type: "Sample", Repeated: true},
			{Name: "exemplars", Number: 3, Kind: Embedded, Type: "Exemplar", Repeated: true},
			{Name: "histograms", Number: 4, Kind: Embedded, Type: "Histogram", Repeated: true},
		}},
		{Name: "Label", Fields: []Field{
			{Name: "name", Number: 1, Kind: String},
			{Name: "value", Number: 2, Kind: String},
		}},
		{Name: "Sample", Fields: []Field{
			{Name: "value", Number: 1, Kind: Double},
			{Name: "timestamp", Number: 2, Kind: Int64},
		}},
		{Name: "Exemplar", Fields: []Field{
			{Name: "labels", Number: 1, Kind: Embedded, Type: "Label", Repeated: true},
			{Name: "value", Number: 2, Kind: Double},
			{Name: "timestamp", Number: 3, Kind: Int64},
		}},
		{Name: "Histogram", Fields: histogramFields("ResetHint")},
		bucketSpan,
		{Name: "MetricMetadata", Fields: []Field{
			{Name: "type", Number: 1, Kind: EnumValued, Type: "MetricType"},
			{Name: "metric_family_name", Number: 2, Kind: String},
			{Name: "help", Number: 4, Kind: String},
			{Name: "unit", Number: 5, Kind: String},
		}},
	},
}

// rw2 is remote write 2.0, proto package io.prometheus.write.v2
// (prompb/io/prometheus/write/v2/types.proto, spec version v2.0-rc.4: TimeSeries field 6,
// the former created_timestamp, is reserved; start timestamps live in Sample and Histogram).
var rw2 = File{
	Name:   "rw2.gen.go",
	Title:  "Prometheus remote write 2.0 (proto package io.prometheus.write.v2, message Request)",
	Proto:  "io.prometheus.write.v2",
	Prefix: "V2",
	Enums: []Enum{
		{Name: "MetricType", Proto: "io.prometheus.write.v2.Metadata.MetricType", Doc: "the kind of metric a series' Metadata describes", Values: []EnumValue{
			{"METRIC_TYPE_UNSPECIFIED", "Unspecified", 0}, {"METRIC_TYPE_COUNTER", "Counter", 1},
			{"METRIC_TYPE_GAUGE", "Gauge", 2}, {"METRIC_TYPE_HISTOGRAM", "Histogram", 3},
			{"METRIC_TYPE_GAUGEHISTOGRAM", "GaugeHistogram", 4}, {"METRIC_TYPE_SUMMARY", "Summary", 5},
			{"METRIC_TYPE_INFO", "Info", 6}, {"METRIC_TYPE_STATESET", "StateSet", 7},
		}},
		{Name: "ResetHint", Proto: "io.prometheus.write.v2.Histogram.ResetHint", Doc: "what a receiver may assume about counter resets before a Histogram", Values: []EnumValue{
			{"RESET_HINT_UNSPECIFIED", "Unspecified", 0}, {"RESET_HINT_YES", "Yes", 1},
			{"RESET_HINT_NO", "No", 2}, {"RESET_HINT_GAUGE", "Gauge", 3},
		}},
	},
	Messages: []Message{
		{Name: "Request", Fields: []Field{
			{Name: "symbols", Number: 4, Kind: String, Repeated: true},
			{Name: "timeseries", Number: 5, Kind: Embedded, Type: "TimeSeries", Repeated: true},
		}},
		{Name: "TimeSeries", Fields: []Field{
			{Name: "labels_refs", Number: 1, Kind: Uint32, Repeated: true, Packed: true},
			{Name: "samples", Number: 2, Kind: Embedded, Type: "Sample", Repeated: true},
			{Name: "histograms", Number: 3, Kind: Embedded, Type: "Histogram", Repeated: true},
			{Name: "exemplars", Number: 4, Kind: Embedded, Type: "Exemplar", Repeated: true},
			{Name: "metadata", Number: 5, Kind: Embedded, Type: "Metadata"},
		}},
		{Name: "Exemplar", Fields: []Field{
			{Name: "labels_refs", Number: 1, Kind: Uint32, Repeated: true, Packed: true},
			{Name: "value", Number: 2, Kind: Double},
			{Name: "timestamp", Number: 3, Kind: Int64},
		}},
		{Name: "Sample", Fields: []Field{
			{Name: "value", Number: 1, Kind: Double},
			{Name: "timestamp", Number: 2, Kind: Int64},
			{Name: "start_timestamp", Number: 3, Kind: Int64},
		}},
		{Name: "Metadata", Fields: []Field{
			{Name: "type", Number: 1, Kind: EnumValued, Type: "MetricType"},
			{Name: "help_ref", Number: 3, Kind: Uint32},
			{Name: "unit_ref", Number: 4, Kind: Uint32},
		}},
		{Name: "Histogram", Fields: append(histogramFields("ResetHint"),
			Field{Name: "custom_values", Number: 16, Kind: Double, Repeated: true, Packed: true},
			Field{Name: "start_timestamp", Number: 17, Kind: Int64},
		)},
		bucketSpan,
	},
}

// files lists every generated file.
var files = []File{rw1, rw2}
