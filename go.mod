module xk6-output-penelopa

go 1.26.0

require (
	github.com/VictoriaMetrics/easyproto v1.2.0
	github.com/klauspost/compress v1.20.4
	github.com/valyala/fasthttp v1.78.0
	github.com/valyala/fastjson v1.6.10
	golang.org/x/net v0.62.0
)

require (
	github.com/molecule-man/go-brrr v1.3.1 // indirect
	github.com/valyala/bytebufferpool v1.0.0 // indirect
	golang.org/x/text v0.43.0 // indirect
)
