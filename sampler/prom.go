package sampler

import (
	"fmt"
	"sync"

	"github.com/VictoriaMetrics/metrics"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/hypervisor"
)

// promSeries are this host's per-VM series on /metrics: the counters as
// the hypervisor has them (Prometheus takes their rate itself) and the
// memory gauges, labelled with the VM's name and ID, its project and this
// node. A VM that leaves the host leaves /metrics at the next sample.
// Their HELP texts are in api/metrics.go (familyHelp), which writes
// /metrics: a new series needs one there too.
type promSeries struct {
	node string
	set  *metrics.Set

	mu sync.Mutex
	// names are each VM's series names, to unregister when it goes.
	names map[string][]string
}

func newPromSeries(node string) *promSeries {
	p := &promSeries{node: node, set: metrics.NewSet(), names: map[string][]string{}}
	metrics.RegisterSet(p.set)
	return p
}

func (p *promSeries) close() { metrics.UnregisterSet(p.set, true) }

// setVM updates vm's series from its counters.
func (p *promSeries) setVM(vm fsm.VM, st hypervisor.DomainStats) {
	labels := fmt.Sprintf(`{vm=%q,vm_id=%q,project=%q,node=%q}`, vm.Spec.Name, vm.ID, vm.Project, p.node)
	p.mu.Lock()
	defer p.mu.Unlock()
	var names []string
	// A counter the driver could not read this time (DomainStats'
	// ...Missing) keeps its last value: a zero would read as a reset,
	// and the next real value as a leap, in Prometheus's rate().
	counter := func(name string, v uint64, missing bool) {
		n := name + labels
		if missing {
			if contains(p.names[vm.ID], n) {
				names = append(names, n)
			}
			return
		}
		p.set.GetOrCreateCounter(n).Set(v)
		names = append(names, n)
	}
	gauge := func(name string, v float64) {
		n := name + labels
		p.set.GetOrCreateGauge(n, nil).Set(v)
		names = append(names, n)
	}
	if n := "novacron_vm_cpu_seconds_total" + labels; !st.CPUMissing {
		p.set.GetOrCreateFloatCounter(n).Set(st.CPUTime.Seconds())
		names = append(names, n)
	} else if contains(p.names[vm.ID], n) {
		names = append(names, n)
	}
	gauge("novacron_vm_vcpus", float64(st.VCPUs))
	gauge("novacron_vm_memory_max_bytes", float64(st.MemoryMaxBytes))
	gauge("novacron_vm_memory_used_bytes", float64(st.MemoryUsedBytes))
	gauge("novacron_vm_balloon_bytes", float64(st.BalloonBytes))
	counter("novacron_vm_disk_read_bytes_total", st.DiskReadBytes, st.DiskMissing)
	counter("novacron_vm_disk_written_bytes_total", st.DiskWriteBytes, st.DiskMissing)
	counter("novacron_vm_disk_reads_total", st.DiskReadOps, st.DiskMissing)
	counter("novacron_vm_disk_writes_total", st.DiskWriteOps, st.DiskMissing)
	counter("novacron_vm_network_receive_bytes_total", st.NetRxBytes, st.NetMissing)
	counter("novacron_vm_network_transmit_bytes_total", st.NetTxBytes, st.NetMissing)
	counter("novacron_vm_network_receive_packets_total", st.NetRxPackets, st.NetMissing)
	counter("novacron_vm_network_transmit_packets_total", st.NetTxPackets, st.NetMissing)
	// A renamed VM (or one moved to another project) has new labels: its
	// old series go.
	for _, old := range p.names[vm.ID] {
		if !contains(names, old) {
			p.set.UnregisterMetric(old)
		}
	}
	p.names[vm.ID] = names
}

// keepOnly drops the series of the VMs not in running.
func (p *promSeries) keepOnly(running map[string]hypervisor.DomainStats) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, names := range p.names {
		if _, ok := running[id]; ok {
			continue
		}
		for _, n := range names {
			p.set.UnregisterMetric(n)
		}
		delete(p.names, id)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
