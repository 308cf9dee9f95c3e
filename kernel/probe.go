package kernel

// Support is what a probe socket tells about the kernel's TFO options.
type Support struct {
	// Connect: the kernel has TCP_FASTOPEN_CONNECT (Linux 4.11+), so
	// clients can send data in the SYN through connect+write once the
	// client bit is set.
	Connect bool `json:"fastopen_connect"`
	// Listener: the kernel has TCP_FASTOPEN for listening sockets.
	Listener bool `json:"fastopen_listener"`
	// KeyOption: TCP_FASTOPEN_KEY (Linux 5.3+) is available for
	// per-listener keys.
	KeyOption bool `json:"fastopen_key_option"`
}
