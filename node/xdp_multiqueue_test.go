package node

import (
	"net"
	"slices"
	"testing"

	"github.com/podfwd/podfwd/config"
	"github.com/vishvananda/netlink"
)

func TestUnderlayQueuesEveryQueueUnlessOneIsSet(t *testing.T) {
	link := func(name string, index, numRx int) netlink.Link {
		return &netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: name, Index: index, NumRxQueues: numRx}}
	}
	two := 2
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what  string
		queue *int
		link  netlink.Link
		want  []int
	}{
		{"netlink's count when sysfs does not know the interface", nil, link("pf-absent0", 99999, 3), []int{0, 1, 2}},
		{"xdp.queue restricts", &two, link("pf-absent0", 99999, 3), []int{2}},
		{"queue 0 alone when the count is unknown", nil, link("pf-absent0", 99999, 0), []int{0}},
		// Read-only: the sysfs entry of our own loopback (one queue).
		{"sysfs's count (queues in use) when it shows this interface", nil, link("lo", lo.Index, 7), []int{0}},
		{"netlink's count when sysfs shows another interface of that name", nil, link("lo", lo.Index+1000, 2), []int{0, 1}},
	} {
		file := &config.File{XDP: config.XDP{Queue: c.queue}}
		if got := underlayQueues(file, c.link); !slices.Equal(got, c.want) {
			t.Errorf("%s: queues %v, want %v", c.what, got, c.want)
		}
	}
}

func TestFramesPerQueueBoundsTheUMEM(t *testing.T) {
	for _, c := range []struct{ queues, want int }{{1, 4096}, {4, 4096}, {8, 2048}, {32, 512}, {64, 512}} {
		if got := framesPerQueue(c.queues); got != c.want {
			t.Errorf("%d queues: %d frames each, want %d", c.queues, got, c.want)
		}
	}
}
