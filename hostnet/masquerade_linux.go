package hostnet

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/podfwd/podfwd/config"
	"github.com/podfwd/podfwd/dataplane"
	"github.com/podfwd/podfwd/hostnet/masq"
)

// Masquerade keeps the egress masquerade table in step with the daemon's
// configs, whatever the io path: every path reads its configs through
// Follow, and the table goes when Stop is called.
type Masquerade struct {
	log    *slog.Logger
	policy config.MasqueradePolicy
	table  masq.Table
	wg     sync.WaitGroup
}

// StartMasquerade programs the table for cfg, adopting one a crashed run
// left behind. With the policy off it removes such a table instead, so a
// switch from on to off never leaves a stale NAT rule.
func StartMasquerade(log *slog.Logger, policy config.MasqueradePolicy, cfg *dataplane.Config) (*Masquerade, error) {
	m := &Masquerade{log: log, policy: policy}
	leftover, err := m.table.Present()
	if err != nil {
		return nil, fmt.Errorf("masquerade: %w", err)
	}
	if !policy.On {
		if err := m.table.Remove(); err != nil {
			return nil, fmt.Errorf("masquerade: %w", err)
		}
		if leftover {
			log.Info("egress masquerade off; removed the table a previous run left", "table", "inet "+masq.TableName)
		}
		return m, nil
	}
	if err := m.table.Apply(masqueradeRules(policy, cfg)); err != nil {
		return nil, fmt.Errorf("masquerade: %w", err)
	}
	log.Info("egress masquerade on", "table", "inet "+masq.TableName, "adopted", leftover,
		"nonMasqueradeCIDRs", len(policy.NonMasquerade))
	return m, nil
}

// Follow returns a channel that carries every config from updates after
// applying it to the table; nil stays nil (a static config). A config the
// table cannot take is logged and still passed on: forwarding must not
// stop over NAT, and the previous table stays in force. The relay ends
// when ctx ends or updates closes.
func (m *Masquerade) Follow(ctx context.Context, updates <-chan *dataplane.Config) <-chan *dataplane.Config {
	if updates == nil || !m.policy.On {
		return updates
	}
	out := make(chan *dataplane.Config)
	m.wg.Go(func() {
		defer close(out)
		for {
			var next *dataplane.Config
			var ok bool
			select {
			case <-ctx.Done():
				return
			case next, ok = <-updates:
				if !ok {
					return
				}
			}
			if err := m.table.Apply(masqueradeRules(m.policy, next)); err != nil {
				m.log.Error("masquerade table not updated; keeping the previous one", "generation", next.Generation, "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case out <- next:
			}
		}
	})
	return out
}

// Stop waits for Follow's relay to end (its ctx must be done) and removes
// the table.
func (m *Masquerade) Stop() error {
	m.wg.Wait()
	if !m.policy.On {
		return nil
	}
	if err := m.table.Remove(); err != nil {
		return fmt.Errorf("masquerade: %w", err)
	}
	return nil
}
