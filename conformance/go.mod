module github.com/zmtp-go/zmtp/conformance

go 1.26.0

replace github.com/zmtp-go/zmtp => ../

require (
	github.com/pebbe/zmq4 v1.4.0
	github.com/zmtp-go/zmtp v0.0.0
	go.uber.org/goleak v1.3.0
)

require (
	golang.org/x/crypto v0.59.0 // indirect
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)
