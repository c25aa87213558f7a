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
	Mode string `yaml:"mode"`
	// ZeroCopy selects the socket's bind: auto (zero-copy where the driver
	// has it, else copy), on (zero-copy or fail) or off (copy).
	ZeroCopy string `yaml:"zeroCopy"`
	// Pods puts AF_XDP sockets on the host-side veths of local pods too,
	// so that their traffic to remote pods never enters the kernel stack
	// on either node (default false: pod traffic goes through the TUN).
	Pods bool `yaml:"pods"`
}

// XDP attach modes and zero-copy choices accepted in the config file.
const (
	XDPModeAuto    = "auto"
	XDPModeNative  = "native"
	XDPModeGeneric = "generic"

	XDPZeroCopyAuto = "auto"
	XDPZeroCopyOn   = "on"
	XDPZeroCopyOff  = "off"
)

// validate checks the XDP settings and fills in the defaults.
func (x *XDP) validate() error {
	if x.Queue != nil && *x.Queue < 0 {
		return FieldError("xdp.queue", "%d is negative", *x.Queue)
	}
	switch x.Mode {
	case "":
		x.Mode = XDPModeAuto
	case XDPModeAuto, XDPModeNative, XDPModeGeneric:
	default:
		return FieldError("xdp.mode", "%q is not one of auto, native, generic", x.Mode)
	}
	switch x.ZeroCopy {
	case "":
		x.ZeroCopy = XDPZeroCopyAuto
	case XDPZeroCopyAuto, XDPZeroCopyOn, XDPZeroCopyOff:
	default:
		return FieldError("xdp.zeroCopy", "%q is not one of auto, on, off", x.ZeroCopy)
	}
	return nil
}
