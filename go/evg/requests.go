package evg

import (
	"context"

	"github.com/lf-edge/eve-guest-agent/go/evgpb"
)

// Run states of a VM (VmInfo.state, VmStateRequest.state).
const (
	StateStopped = "stopped"
	// StateStarting is the barrier before QEMU starts: its answer comes
	// once nothing holds the images (docs/eve.md, "The calls, in order").
	StateStarting = "starting"
	StateRunning  = "running"
)

// Volume backends (Volume.backend).
const (
	BackendQcow2 = "qcow2"
	BackendZFS   = "zfs"
)

// Disk identifier kinds (DiskId.kind).
const (
	DiskSerial  = "serial"
	DiskWWN     = "wwn"
	DiskPCI     = "pci"
	DiskPCIPath = "pcipath"
	DiskBacking = "backing"
)

// Consistency levels (SnapshotCreateRequest.consistency; empty is crash).
const (
	ConsistencyApp   = "app"
	ConsistencyFS    = "fs"
	ConsistencyCrash = "crash"
)

// Snapshot.state values; a rollback of a running VM answers its members
// with StateRollbackScheduled.
const (
	SnapshotReady          = "ready"
	SnapshotCreating       = "creating"
	SnapshotDeleting       = "deleting"
	SnapshotMissing        = "missing"
	StateRollbackScheduled = "rollback-scheduled"
)

// The fields a VmUpdateRequest may name (VMUpdate's fields).
const (
	FieldName           = "name"
	FieldCID            = "cid"
	FieldHybridSocket   = "hybrid_socket"
	FieldQMP            = "qmp"
	FieldQMPAgent       = "qmp_agent"
	FieldSnapshotBudget = "snapshot_budget"
	FieldVolumes        = "volumes"
)

// malformed is the error for an OK reply without the result it must carry.
func malformed(op, what string) error {
	return localError(op, Internal, nil, "the host's answer carries no %s", what)
}

// vmResult is the VmInfo of an OK reply.
func vmResult(op string, rep *evgpb.Reply, err error) (*evgpb.VmInfo, error) {
	if err != nil {
		return nil, err
	}
	if rep.GetVm() == nil {
		return nil, malformed(op, "VM")
	}
	return rep.GetVm(), nil
}

// snapResult is the snapshot list of an OK reply.
func snapResult(op string, rep *evgpb.Reply, err error) ([]*evgpb.Snapshot, error) {
	if err != nil {
		return nil, err
	}
	if rep.GetSnapshotList() == nil {
		return nil, malformed(op, "snapshot list")
	}
	return rep.GetSnapshotList().Snapshots, nil
}

// Ping asks the host for an OK.
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.call(ctx, &evgpb.Envelope{Body: &evgpb.Envelope_Ping{Ping: &evgpb.Ping{}}})
	return err
}

// VMAdd registers a VM and answers it as registered.  Errors:
// InvalidArgument naming the first bad field, AlreadyExists (UUID, CID,
// hybrid socket or a volume UUID taken), NoSpace, Internal.
func (c *Client) VMAdd(ctx context.Context, vm *evgpb.VmInfo) (*evgpb.VmInfo, error) {
	rep, err := c.call(ctx, &evgpb.Envelope{Body: &evgpb.Envelope_VmAdd{VmAdd: &evgpb.VmAddRequest{Vm: vm}}})
	return vmResult("vm_add", rep, err)
}

// VMUpdate changes the fields named (Field*) of the VM vm.Uuid to vm's
// values; an empty string or 0 clears a field, FieldVolumes replaces the
// whole volume list.  Busy while an operation runs on the VM.
func (c *Client) VMUpdate(ctx context.Context, vm *evgpb.VmInfo, fields ...string) (*evgpb.VmInfo, error) {
	req := &evgpb.VmUpdateRequest{Vm: vm, Fields: fields}
	rep, err := c.call(ctx, &evgpb.Envelope{Body: &evgpb.Envelope_VmUpdate{VmUpdate: req}})
	return vmResult("vm_update", rep, err)
}

// VMRemove unregisters a VM; its catalog file is kept.
func (c *Client) VMRemove(ctx context.Context, uuid string) error {
	_, err := c.call(ctx, &evgpb.Envelope{Body: &evgpb.Envelope_VmRemove{VmRemove: &evgpb.VmRemoveRequest{Uuid: uuid}}})
	return err
}

// VMState records a VM's run state (State*).  StateStarting answers only
// once a scheduled rollback has run and nothing holds the images: give it
// a context as long as a rollback may take (eve-guest-hostctl waits 900 s).
func (c *Client) VMState(ctx context.Context, uuid, state string) (*evgpb.VmInfo, error) {
	req := &evgpb.VmStateRequest{Uuid: uuid, State: state}
	rep, err := c.call(ctx, &evgpb.Envelope{Body: &evgpb.Envelope_VmState{VmState: req}})
	return vmResult("vm_state", rep, err)
}

// VMList is every registered VM, in registration order, fetched page by
// page (the daemon pages the list to its control frame cap).
func (c *Client) VMList(ctx context.Context) ([]*evgpb.VmInfo, error) {
	var all []*evgpb.VmInfo
	after := ""
	for {
		page, err := c.VMListPage(ctx, after, 0)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Vms...)
		// A page that does not move on would never end.
		if page.Next == "" || len(page.Vms) == 0 || page.Next == after {
			return all, nil
		}
		after = page.Next
	}
}

// VMListPage is one page of the VM list: the VMs after the one named by
// after ("": from the first), at most limit (0: as many as fit in a
// frame); its Next names the after of the next page, "" on the last.
func (c *Client) VMListPage(ctx context.Context, after string, limit uint32) (*evgpb.VmList, error) {
	req := &evgpb.VmListRequest{After: after, Limit: limit}
	rep, err := c.call(ctx, &evgpb.Envelope{Body: &evgpb.Envelope_VmList{VmList: req}})
	if err != nil {
		return nil, err
	}
	if rep.GetVmList() == nil {
		return nil, malformed("vm_list", "VM list")
	}
	return rep.GetVmList(), nil
}

// VMShow is one VM, with its live connections and agent_connected.
func (c *Client) VMShow(ctx context.Context, uuid string) (*evgpb.VmInfo, error) {
	rep, err := c.call(ctx, &evgpb.Envelope{Body: &evgpb.Envelope_VmShow{VmShow: &evgpb.VmShowRequest{Uuid: uuid}}})
	return vmResult("vm_show", rep, err)
}

// SnapshotCreate makes one snapshot group of the volumes named in req
// (all of the VM's when none) and answers its members.  The reply comes
// when the workflow ends, which can take minutes (hooks, freeze, backend):
// follow the events for its steps.  Set req.IdempotencyKey so that a retry
// never makes a second group.
func (c *Client) SnapshotCreate(ctx context.Context, req *evgpb.SnapshotCreateRequest) ([]*evgpb.Snapshot, error) {
	rep, err := c.call(ctx, &evgpb.Envelope{Body: &evgpb.Envelope_SnapshotCreate{SnapshotCreate: req}})
	return snapResult("snapshot_create", rep, err)
}

// SnapshotList is every member snapshot of the VM (Groups folds them), in
// creation order, asked for page by page.
func (c *Client) SnapshotList(ctx context.Context, vmUUID string) ([]*evgpb.Snapshot, error) {
	var all []*evgpb.Snapshot
	after := ""
	for {
		page, err := c.SnapshotListPage(ctx, vmUUID, after, 0)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Snapshots...)
		// A page that does not move on would never end.
		if page.Next == "" || len(page.Snapshots) == 0 || page.Next == after {
			return all, nil
		}
		after = page.Next
	}
}

// SnapshotListPage is one page of the VM's snapshots: those after the
// snapshot UUID after ("": from the first), at most limit (0: as many as
// fit in a frame); its Next names the after of the next page, "" on the
// last.  An after the host no longer lists (deleted meanwhile) is
// NotFound: list again from the start.
func (c *Client) SnapshotListPage(ctx context.Context, vmUUID, after string, limit uint32) (*evgpb.SnapshotList, error) {
	req := &evgpb.SnapshotListRequest{VmUuid: vmUUID, After: after, Limit: limit, Paged: true}
	rep, err := c.call(ctx, &evgpb.Envelope{Body: &evgpb.Envelope_SnapshotList{SnapshotList: req}})
	if err != nil {
		return nil, err
	}
	if rep.GetSnapshotList() == nil {
		return nil, malformed("snapshot_list", "snapshot list")
	}
	return rep.GetSnapshotList(), nil
}

// SnapshotDelete deletes a group (its UUID, its name, or a member's UUID)
// and answers the members deleted.  With member, only the member whose own
// UUID snapshot is; without it, a member's UUID of a group of several is
// FailedPrecondition.
func (c *Client) SnapshotDelete(ctx context.Context, vmUUID, snapshot string, member bool) ([]*evgpb.Snapshot, error) {
	req := &evgpb.SnapshotDeleteRequest{VmUuid: vmUUID, Snapshot: snapshot, Member: member}
	rep, err := c.call(ctx, &evgpb.Envelope{Body: &evgpb.Envelope_SnapshotDelete{SnapshotDelete: req}})
	return snapResult("snapshot_delete", rep, err)
}

// SnapshotRollback rolls a group back (its UUID, its name, or a member's
// UUID), or only the members on volumeUUIDs.  For a running VM the
// rollback of one qcow2 data disk the guest agent daemon says is unused
// is done online (the disk unplugged, reverted and plugged back;
// docs/snapshots.md); any other is scheduled for its next stop: the
// members come back with state StateRollbackScheduled and the host emits
// restart-required.
func (c *Client) SnapshotRollback(ctx context.Context, vmUUID, snapshot string, volumeUUIDs ...string) ([]*evgpb.Snapshot, error) {
	return c.snapshotRollback(ctx, vmUUID, snapshot, false, volumeUUIDs)
}

// SnapshotRollbackOnline rolls one data disk of a running VM back now,
// the VM running on, or fails saying why not (FailedPrecondition: the
// guest uses the disk, no guest agent daemon, not qcow2, QEMU refused the
// unplug; Timeout: the guest did not release the disk, which stays
// attached).  It never schedules.
func (c *Client) SnapshotRollbackOnline(ctx context.Context, vmUUID, snapshot, volumeUUID string) ([]*evgpb.Snapshot, error) {
	return c.snapshotRollback(ctx, vmUUID, snapshot, true, []string{volumeUUID})
}

func (c *Client) snapshotRollback(ctx context.Context, vmUUID, snapshot string, online bool, volumeUUIDs []string) ([]*evgpb.Snapshot, error) {
	req := &evgpb.SnapshotRollbackRequest{VmUuid: vmUUID, Snapshot: snapshot, VolumeUuids: volumeUUIDs, Online: online}
	// A host from before groups reads only volume_uuid.
	if len(volumeUUIDs) == 1 {
		req.VolumeUuid = volumeUUIDs[0]
	}
	rep, err := c.call(ctx, &evgpb.Envelope{Body: &evgpb.Envelope_SnapshotRollback{SnapshotRollback: req}})
	return snapResult("snapshot_rollback", rep, err)
}

// Events is the host's backlog of recent events, oldest first.  note is
// the host's remark when the backlog did not fit in one frame (only the
// newest events came), else empty.  Follow streams new ones.
func (c *Client) Events(ctx context.Context) (events []*evgpb.Event, note string, err error) {
	rep, err := c.call(ctx, &evgpb.Envelope{Body: &evgpb.Envelope_Events{Events: &evgpb.EventsRequest{}}})
	if err != nil {
		return nil, "", err
	}
	if rep.GetEventList() == nil {
		return nil, "", malformed("events", "event list")
	}
	return rep.GetEventList().Events, rep.GetStatus().GetMessage(), nil
}

// GuestInfo is the guest's facts, relayed from the VM's guest agent
// daemon; Unavailable when it is not connected or does not answer.  Every
// string in it comes from the guest: escape it before showing it.
func (c *Client) GuestInfo(ctx context.Context, vmUUID string) (*evgpb.GuestInfo, error) {
	req := &evgpb.GuestInfoRequest{VmUuid: vmUUID}
	rep, err := c.call(ctx, &evgpb.Envelope{Body: &evgpb.Envelope_VmGuestInfo{VmGuestInfo: req}})
	if err != nil {
		return nil, err
	}
	if rep.GetGuestInfo() == nil {
		return nil, malformed("vm_guest_info", "guest info")
	}
	return rep.GetGuestInfo(), nil
}
