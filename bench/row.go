package bench

import (
	"slices"
)

// Test names, as they appear in Row.Test.
const (
	TestTCP1  = "tcp1"  // one TCP stream (iperf3)
	TestTCP4  = "tcp4"  // four TCP streams (iperf3 -P 4)
	TestUDP64 = "udp64" // 64-byte UDP datagrams per second (our sendmmsg flood; iperf3 -u cross-check)
	TestRR    = "rr"    // TCP request/response latency (our 64-byte ping-pong)
)

// AllTests are the tests of a full run, in display order.
var AllTests = []string{TestTCP1, TestTCP4, TestUDP64, TestRR}

// StatusOK is Row.Status of a row that was measured; an unsupported row's
// status starts with StatusUnsupported, a failed one's with StatusFailed.
const (
	StatusOK          = "ok"
	StatusUnsupported = "unsupported: "
	StatusFailed      = "failed: "
)

// Row is one mode's result in one test at one underlay MTU: the median of
// Runs runs for every number, with Min and Max of the test's headline
// Metric (gbps for TCP, pps for udp64, p50_us for rr). Every field is
// always present in the JSON; numbers a test does not measure are 0.
type Row struct {
	Mode  string `json:"mode"`
	IO    string `json:"io"`
	Encap string `json:"encap"`
	Test  string `json:"test"`
	MTU   int    `json:"mtu"`

	Gbps   float64 `json:"gbps"`
	PPS    float64 `json:"pps"`
	P50us  float64 `json:"p50_us"`
	P99us  float64 `json:"p99_us"`
	P999us float64 `json:"p999_us"`

	// CPU while the test ran, per packet and per Gbit: of the whole
	// machine (/proc/stat busy time; on a shared machine it includes other
	// people's work), of the test's own work ("own": daemons, generators,
	// iperf3, ksoftirqd, plus the machine's irq+softirq time where the
	// kernel accounts it apart, see Env.OwnCPUAddsIRQ) and of the
	// podfwd daemons alone (/proc/PID/stat). TCP packets are counted as
	// MTU-sized segments (bytes / (pod MTU - 40)).
	CPUNsPerPkt       float64 `json:"cpu_ns_per_pkt"`
	CPUSPerGbit       float64 `json:"cpu_s_per_gbit"`
	OwnCPUNsPerPkt    float64 `json:"own_cpu_ns_per_pkt"`
	OwnCPUSPerGbit    float64 `json:"own_cpu_s_per_gbit"`
	DaemonCPUNsPerPkt float64 `json:"daemon_cpu_ns_per_pkt"`
	DaemonCPUSPerGbit float64 `json:"daemon_cpu_s_per_gbit"`
	CPUMachineS       float64 `json:"cpu_machine_s"`
	CPUOwnS           float64 `json:"cpu_own_s"`
	CPUDaemonS        float64 `json:"cpu_daemon_s"`

	Retransmits int     `json:"retransmits"`
	UDPLoss     float64 `json:"udp_loss"`   // fraction the receiver did not get (udp64)
	IperfPPS    float64 `json:"iperf_pps"`  // iperf3 -u -l 64 -b 0 cross-check (udp64)
	IperfLoss   float64 `json:"iperf_loss"` // its lost fraction

	// Other processes (outside the benchmark) while the test ran: the
	// most they used together in one run, in % of a core, and how many
	// runs had one of them above OthersLimitPct (see Report.Warnings).
	OthersCorePct float64 `json:"others_core_pct"`
	DisturbedRuns int     `json:"disturbed_runs"`

	Runs          int     `json:"runs"`
	Metric        string  `json:"metric"`
	Min           float64 `json:"min"`
	Max           float64 `json:"max"`
	VsKernelVXLAN float64 `json:"vs_kernel_vxlan"` // Metric / kernel VXLAN's Metric; 0 if none
	Status        string  `json:"status"`
}

// sample is one run of one test.
type sample struct {
	gbps, pps, p50, p99, p999 float64
	machineCPU, ownCPU        float64
	daemonCPU                 float64
	pkts, bits                float64
	retransmits               float64
	loss, iperfPPS, iperfLoss float64
	othersPct                 float64   // every process outside the benchmark, % of a core
	offenders                 []ProcUse // those above OthersLimitPct
}

// metricOf names the headline number of a test.
func metricOf(test string) string {
	switch test {
	case TestUDP64:
		return "pps"
	case TestRR:
		return "p50_us"
	}
	return "gbps"
}

func (s sample) metric(test string) float64 {
	switch test {
	case TestUDP64:
		return s.pps
	case TestRR:
		return s.p50
	}
	return s.gbps
}

// aggregate fills r's numbers with the medians of samples.
func (r *Row) aggregate(samples []sample) {
	r.Runs, r.Metric = len(samples), metricOf(r.Test)
	if len(samples) == 0 {
		return
	}
	med := func(f func(sample) float64) float64 {
		v := make([]float64, len(samples))
		for i, s := range samples {
			v[i] = f(s)
		}
		return median(v)
	}
	r.Gbps = med(func(s sample) float64 { return s.gbps })
	r.PPS = med(func(s sample) float64 { return s.pps })
	r.P50us = med(func(s sample) float64 { return s.p50 })
	r.P99us = med(func(s sample) float64 { return s.p99 })
	r.P999us = med(func(s sample) float64 { return s.p999 })
	r.CPUMachineS = med(func(s sample) float64 { return s.machineCPU })
	r.CPUDaemonS = med(func(s sample) float64 { return s.daemonCPU })
	r.CPUOwnS = med(func(s sample) float64 { return s.ownCPU })
	r.OwnCPUNsPerPkt = med(func(s sample) float64 { return per(s.ownCPU*1e9, s.pkts) })
	r.OwnCPUSPerGbit = med(func(s sample) float64 { return per(s.ownCPU, s.bits/1e9) })
	r.CPUNsPerPkt = med(func(s sample) float64 { return per(s.machineCPU*1e9, s.pkts) })
	r.CPUSPerGbit = med(func(s sample) float64 { return per(s.machineCPU, s.bits/1e9) })
	r.DaemonCPUNsPerPkt = med(func(s sample) float64 { return per(s.daemonCPU*1e9, s.pkts) })
	r.DaemonCPUSPerGbit = med(func(s sample) float64 { return per(s.daemonCPU, s.bits/1e9) })
	r.Retransmits = int(med(func(s sample) float64 { return s.retransmits }))
	r.UDPLoss = med(func(s sample) float64 { return s.loss })
	r.IperfPPS = med(func(s sample) float64 { return s.iperfPPS })
	r.IperfLoss = med(func(s sample) float64 { return s.iperfLoss })
	m := make([]float64, len(samples))
	for i, s := range samples {
		m[i] = s.metric(r.Test)
		r.OthersCorePct = max(r.OthersCorePct, s.othersPct)
		if len(s.offenders) > 0 {
			r.DisturbedRuns++
		}
	}
	r.Min, r.Max = slices.Min(m), slices.Max(m)
}

// Value returns the row's headline number (see Metric).
func (r Row) Value() float64 {
	switch r.Metric {
	case "pps":
		return r.PPS
	case "p50_us":
		return r.P50us
	}
	return r.Gbps
}

// per divides, answering 0 where there is nothing to divide by, so no
// NaN or Inf ever reaches the JSON.
func per(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}

// median of v (the mean of the middle two for an even count); 0 if empty.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// setRatios fills VsKernelVXLAN of every ok row from the kernel VXLAN row
// of the same test and MTU.
func setRatios(rows []Row) {
	for i := range rows {
		rows[i].VsKernelVXLAN = 0
		if rows[i].Status != StatusOK {
			continue
		}
		for _, ref := range rows {
			if ref.Mode == KernelVXLANName && ref.Test == rows[i].Test && ref.MTU == rows[i].MTU && ref.Status == StatusOK {
				rows[i].VsKernelVXLAN = per(rows[i].Value(), ref.Value())
			}
		}
	}
}

// RequiredRowFields are the JSON keys every row carries (issue 7's
// contract, checked by the smoke test).
var RequiredRowFields = []string{"io", "encap", "test", "gbps", "pps", "p50_us", "p99_us",
	"cpu_ns_per_pkt", "cpu_s_per_gbit", "retransmits", "runs", "min", "max", "status"}
