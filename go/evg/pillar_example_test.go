package evg_test

// The pillar example of docs/eve.md ("Pillar in Go").  Between the two
// marker lines this file is, character for character, the example's code
// block: TestPillarExample (pillar_run_test.go) fails when they differ, and
// runs the example against the real daemon, so the example in the docs
// compiles, passes go vet and works.

// pillar example: begin
import (
	"context"
	"errors"
	"fmt"
	"log"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/lf-edge/eve-guest-agent/go/evg"
	"github.com/lf-edge/eve-guest-agent/go/evgpb"
)

// The fields of EVE's pkg/pillar/types this mapping reads, as plain
// structs: the real ones are types.DomainStatus, types.DiskStatus and
// types.VolumeStatus.
type DomainStatus struct {
	UUID           string // UUIDandVersion.UUID.String()
	DisplayName    string
	DomainName     string // "<uuid>.<version>.<appnum>"
	DomainId       int    // the QEMU process; 0 once it is gone
	DiskStatusList []DiskStatus
}

type DiskStatus struct {
	VolumeKey    string // VolumeStatus.Key(): "<volume-uuid>#<generation>"
	DisplayName  string
	FileLocation string // the qcow2 file, or /dev/zvol/<dataset>
	Format       string // zconfig.Format: "QCOW2", "RAW", ...
	Devtype      string // "", "AppCustom", "9P", "cdrom", "hdd", ...
	ReadOnly     bool
}

type VolumeStatus struct {
	VolumeID   string // the volume UUID
	MaxVolSize uint64 // bytes volumemgr reserved for it
}

const zvolPrefix = "/dev/zvol/"

// volumes walks DiskStatusList as kvm.go's CreateDomConfig does: every
// disk but "" and AppCustom takes a drive number, every one but a cdrom
// the next pcie-root-port from slot 4.  Writable qcow2 files and zvols
// are registered, each named by its PCI path (ask 1 adds a serial).
func volumes(ds *DomainStatus) []*evgpb.Volume {
	var vols []*evgpb.Volume
	slot := 4
	for _, d := range ds.DiskStatusList {
		if d.Devtype == "" || d.Devtype == "AppCustom" {
			continue
		}
		if d.Devtype == "cdrom" {
			continue
		}
		pcipath := fmt.Sprintf("%02x.0/00.0", slot)
		slot++
		if d.ReadOnly || d.Devtype == "9P" {
			continue
		}
		v := &evgpb.Volume{
			Uuid:  strings.SplitN(d.VolumeKey, "#", 2)[0],
			Name:  d.DisplayName,
			Disks: []*evgpb.DiskId{{Kind: evg.DiskPCIPath, Value: pcipath}},
		}
		switch {
		case strings.HasPrefix(d.FileLocation, zvolPrefix):
			v.Backend = evg.BackendZFS
			v.Locator = strings.TrimPrefix(d.FileLocation, zvolPrefix)
		case d.Format == "QCOW2":
			v.Backend = evg.BackendQcow2
			v.Locator = d.FileLocation // exactly what QEMU opened
		default:
			continue // raw files hold no internal snapshots
		}
		vols = append(vols, v)
	}
	return vols
}

// budget gives the app a fifth of its volumes' reserved size for
// snapshots; pillar must count it as reserved in its own admission.
func budget(vs []VolumeStatus) uint64 {
	var sum uint64
	for _, v := range vs {
		sum += v.MaxVolSize
	}
	return sum / 5
}

// vmInfo is the registry record of this start of the domain.
func vmInfo(ds *DomainStatus, cid uint32, vs []VolumeStatus) *evgpb.VmInfo {
	return &evgpb.VmInfo{
		Uuid:           ds.UUID,
		Name:           ds.DisplayName,
		Cid:            cid,
		Qmp:            "/run/hypervisor/kvm/" + ds.DomainName + "/qmp",
		SnapshotBudget: budget(vs),
		Volumes:        volumes(ds),
	}
}

// retryBusy calls f again while the host answers BUSY (an operation or a
// catalog check runs on the VM), until ctx ends.
func retryBusy(ctx context.Context, f func() error) error {
	for {
		err := f()
		if !errors.Is(err, evg.ErrBusy) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Second):
		}
	}
}

// register sends this start's CID, QMP path and volumes: vm update, or
// vm add (as stopped) the first time.
func register(ctx context.Context, c *evg.Client, vm *evgpb.VmInfo) error {
	return retryBusy(ctx, func() error {
		_, err := c.VMUpdate(ctx, vm, evg.FieldName, evg.FieldCID, evg.FieldQMP,
			evg.FieldSnapshotBudget, evg.FieldVolumes)
		if errors.Is(err, evg.ErrNotFound) {
			add := proto.Clone(vm).(*evgpb.VmInfo)
			add.State = evg.StateStopped
			_, err = c.VMAdd(ctx, add)
		}
		return err
	})
}

// DomainStart is domainmgr's start of a domain, after Setup() picked the
// CID: vm update, starting (the barrier: a scheduled rollback runs here),
// QEMU, running.
func DomainStart(c *evg.Client, ds *DomainStatus, cid uint32, vs []VolumeStatus,
	startQEMU func() error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	if err := register(ctx, c, vmInfo(ds, cid, vs)); err != nil {
		return fmt.Errorf("eve-guest-hostd: vm update: %w", err)
	}
	if _, err := c.VMState(ctx, ds.UUID, evg.StateStarting); err != nil {
		// e.g. "the scheduled rollback failed, so the VM must not start"
		return fmt.Errorf("eve-guest-hostd: starting: %w", err)
	}
	if err := startQEMU(); err != nil {
		c.VMState(ctx, ds.UUID, evg.StateStopped)
		return err
	}
	_, err := c.VMState(ctx, ds.UUID, evg.StateRunning)
	return err
}

// DomainStopped is called once DomainId is 0: QEMU is gone, and the host
// may open the images offline (a scheduled rollback runs now).
func DomainStopped(c *evg.Client, ds *DomainStatus) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	_, err := c.VMState(ctx, ds.UUID, evg.StateStopped)
	return err
}

// DomainDeleted unregisters the app; its snapshot catalog is kept.
func DomainDeleted(c *evg.Client, uuid string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := c.VMRemove(ctx, uuid)
	if errors.Is(err, evg.ErrNotFound) {
		return nil
	}
	return err
}

// WatchEvents hands restart-required (a rollback waits for the next stop)
// and the outcome of scheduled rollbacks to the controller side
// (socket: evg.DefaultSocket).
func WatchEvents(ctx context.Context, socket string, restart func(app string), done func(ev *evgpb.Event)) {
	s := evg.Follow(ctx, socket, evg.WithDialOptions(evg.WithSoftware("pillar")))
	defer s.Close()
	for {
		ev, err := s.Next(ctx)
		switch {
		case errors.Is(err, evg.ErrEventsLost):
			log.Printf("eve-guest-hostd events: %v; listing snapshots again", err)
			continue
		case err != nil:
			return // ctx ended
		}
		switch ev.Kind {
		case "restart-required":
			restart(ev.VmUuid)
		case "rollback-done", "rollback-failed", "failed":
			done(ev)
		}
	}
}

// pillar example: end
