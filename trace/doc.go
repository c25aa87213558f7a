// Package trace is podfwd's packet tracer: a tcpdump-like filter language
// matched against a packet's inner and outer headers, a dataplane.Tracer
// that copies the stages of matching packets into a bounded lock-free ring
// (dropping, and counting, what a slow reader cannot take), the assembly of
// those stages into one record per packet, text / JSON / pcapng output, and
// the packets the what-if simulation feeds the engine.
//
// Nothing here runs unless a tracer is installed with
// dataplane.Engine.SetTracer; the forwarding loops then pay for one
// Match per packet (a filter evaluation over a header view, no allocation)
// and, for matching packets only, one ring slot per stage.
package trace
