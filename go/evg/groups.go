package evg

import (
	"sort"

	"github.com/lf-edge/eve-guest-agent/go/evgpb"
)

// Group is a snapshot group: one create over one or more volumes, frozen
// at one instant, with one name and one UUID (common/snapgroup.h).
type Group struct {
	// GroupUUID is the members' group_uuid (a member's own UUID for a
	// snapshot from a host that predates groups).
	GroupUUID string
	// UUID is what the CLIs show: GroupUUID, but for a group made with
	// one member that member's own UUID.  The host takes either.
	UUID string
	// Name is the first member's (every member has the group's name).
	Name string
	// Created is the earliest member's, Unix seconds.
	Created uint64
	// SizeBytes is the members' sum.
	SizeBytes uint64
	// Size is how many members the group was made with.
	Size uint32
	// Partial: fewer members listed than Size (one deleted on its own, or
	// lost).
	Partial bool
	// Members in the list's order.
	Members []*evgpb.Snapshot
}

// Groups folds a snapshot list (SnapshotList, SnapshotCreate) into groups,
// ordered by creation time, then name, then first appearance.
func Groups(snaps []*evgpb.Snapshot) []*Group {
	var out []*Group
	byUUID := make(map[string]*Group)
	for _, s := range snaps {
		key := s.GroupUuid
		if key == "" {
			key = s.Uuid
		}
		g := byUUID[key]
		if g == nil {
			size := s.GroupSize
			if size == 0 {
				size = 1
			}
			g = &Group{GroupUUID: key, Name: s.Name, Created: s.Created, Size: size}
			byUUID[key] = g
			out = append(out, g)
		}
		if s.Created < g.Created {
			g.Created = s.Created
		}
		g.SizeBytes += s.SizeBytes
		g.Members = append(g.Members, s)
	}
	for _, g := range out {
		g.UUID = g.GroupUUID
		if g.Size == 1 && len(g.Members) == 1 {
			g.UUID = g.Members[0].Uuid
		}
		g.Partial = uint32(len(g.Members)) < g.Size
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Created != out[j].Created {
			return out[i].Created < out[j].Created
		}
		return out[i].Name < out[j].Name
	})
	return out
}
