module xk6-output-penelopa/benchmarks

go 1.26.0

require (
	buf.build/gen/go/prometheus/prometheus/protocolbuffers/go v1.36.11-20251118093737-4105057cc7d4.1
	github.com/VictoriaMetrics/easyproto v1.2.0
	github.com/golang/snappy v1.0.0
	github.com/klauspost/compress v1.20.4
	google.golang.org/protobuf v1.36.11
	xk6-output-penelopa v0.0.0
)

require (
	buf.build/gen/go/gogo/protobuf/protocolbuffers/go v1.36.11-20240617172848-e1dbca2775a7.1 // indirect
	github.com/valyala/fastjson v1.6.10 // indirect
)

replace xk6-output-penelopa => ../
