module github.com/fastopen/fastopen/bench/compare

go 1.26.0

require (
	github.com/database64128/tfo-go/v2 v2.3.0
	github.com/fastopen/fastopen v0.0.0
)

require (
	github.com/database64128/netx-go v0.1.0 // indirect
	github.com/vishvananda/netlink v1.3.1 // indirect
	github.com/vishvananda/netns v0.0.5 // indirect
	golang.org/x/crypto v0.59.0 // indirect
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)

replace github.com/fastopen/fastopen => ../..
