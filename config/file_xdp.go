package config

// XDP tunes `io: xdp`; every field is optional.
type XDP struct {
	// Queue, when set, restricts podfwd to that one receive queue of the
	// underlay interface (tunnel packets arriving on the others pass to the
	// kernel and are lost). Unset (nil), podfwd opens one AF_XDP socket on
	// every receive queue.
	Queue *int `yaml:"queue"`
	// Mode is where the XDP program runs: auto (driver, else generic),
	// native (driver only: start fails otherwise) or generic.
	Mode XDPMode `yaml:"mode"`
	// ZeroCopy selects the socket's bind: auto (zero-copy where the driver
	// has it, else copy), on (zero-copy or fail) or off (copy).
	ZeroCopy XDPZeroCopy `yaml:"zeroCopy"`
	// Pods puts AF_XDP sockets on the host-side veths of local pods too,
	// so that their traffic to remote pods never enters the kernel stack
	// on either node (default false: pod traffic goes through the TUN).
	Pods bool `yaml:"pods"`
}

// validate checks the XDP settings and fills in the defaults.
func (x *XDP) validate() error {
	if x.Queue != nil && *x.Queue < 0 {
		return FieldError("xdp.queue", "%d is negative", *x.Queue)
	}
	if x.Mode == "" {
		x.Mode = XDPModeAuto
	}
	if x.ZeroCopy == "" {
		x.ZeroCopy = XDPZeroCopyAuto
	}
	if err := x.Mode.Check(); err != nil {
		return err
	}
	return x.ZeroCopy.Check()
}
