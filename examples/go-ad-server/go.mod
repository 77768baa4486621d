module github.com/adbudget/adbudget/examples/go-ad-server

go 1.26.0

require (
	connectrpc.com/connect v1.21.1
	github.com/adbudget/adbudget/clients/go v0.0.0
)

require (
	buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go v1.36.12-20260825204119-511051f7f437.2 // indirect
	google.golang.org/genproto v0.0.0-20261026165753-2ffab32bce7e // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20261110000943-09e21b237f2c // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)

// The SDK of this repository, as it is in the working tree: the example is built and tested
// with the SDK next to it, never with a published version.
replace github.com/adbudget/adbudget/clients/go => ../../clients/go
