// Package toy holds Commuter's small example models: counter, get/set,
// rename, unordered pipe, watermark and track/forget. They are small
// enough that their commutativity conditions are known by hand, which is
// what the tests of this package pin down, checking the whole checker
// (symbolic execution, state comparison, internal choices) end to end.
package toy

import (
	"github.com/crewvm/crewvm/models/commute"
	"github.com/crewvm/crewvm/models/sym"
)

// Models returns the toy models.
func Models() []commute.Model {
	return []commute.Model{Counter(), GetSet(), Rename(), UPipe(), Watermark(), TrackForget()}
}

// NoArgs is the argument struct of calls without arguments.
type NoArgs struct{}

// CounterState is a non-negative counter.
type CounterState struct{ N sym.Int }

// Invariant keeps the counter non-negative.
func (c CounterState) Invariant(p *sym.Path) sym.Bool { return c.N.GeN(0) }

// Counter is a counter with increment, decrement (assumed to be called on
// a positive counter) and a zero test. inc and dec always commute; iszero
// commutes with inc exactly when the counter is not zero.
func Counter() *commute.Spec[CounterState] {
	return &commute.Spec[CounterState]{
		Name: "counter",
		Doc:  "a non-negative counter: inc, dec (on a positive counter), iszero",
		Calls: []commute.Call[CounterState]{
			commute.NewCall("inc", "add one", func(s *CounterState, e commute.Env, _ NoArgs) sym.Result {
				s.N = s.N.AddN(1)
				return e.Result()
			}),
			commute.NewCall("dec", "subtract one from a positive counter", func(s *CounterState, e commute.Env, _ NoArgs) sym.Result {
				e.Assume(s.N.GtN(0))
				s.N = s.N.SubN(1)
				return e.Result()
			}),
			commute.NewCall("iszero", "report whether the counter is zero", func(s *CounterState, e commute.Env, _ NoArgs) sym.Result {
				return e.Result().With("r", s.N.EqN(0))
			}),
		},
	}
}

// VarState is one integer variable.
type VarState struct{ Val sym.Int }

// SetArgs are the arguments of set.
type SetArgs struct{ Val sym.Int }

// GetSet is a variable with get and set: set(x) and set(y) commute exactly
// when x = y, get and set(x) exactly when the variable already holds x.
func GetSet() *commute.Spec[VarState] {
	return &commute.Spec[VarState]{
		Name: "getset",
		Doc:  "an integer variable: get, set",
		Calls: []commute.Call[VarState]{
			commute.NewCall("get", "return the value", func(s *VarState, e commute.Env, _ NoArgs) sym.Result {
				return e.Result().With("r", s.Val)
			}),
			commute.NewCall("set", "replace the value", func(s *VarState, e commute.Env, a SetArgs) sym.Result {
				s.Val = a.Val
				return e.Result()
			}),
		},
	}
}

// NameSort is the sort of file names of the rename model.
type NameSort struct{}

// SortName names the sort.
func (NameSort) SortName() string { return "Name" }

// Name is a file name.
type Name = sym.U[NameSort]

// RInode is an inode of the rename model.
type RInode struct{ Nlink sym.Int }

// RenameState is a directory mapping names to inode numbers, and the
// inodes.
type RenameState struct {
	Dir    sym.Dict[Name, sym.Int]
	Inodes sym.Map[sym.Int, RInode]
}

// RenameArgs are the arguments of rename.
type RenameArgs struct{ Src, Dst Name }

// Rename is the simplified rename model of the SOSP '13 paper: renames
// of distinct existing files to distinct fresh names commute.
func Rename() *commute.Spec[RenameState] {
	return &commute.Spec[RenameState]{
		Name: "rename",
		Doc:  "the simplified rename model of the Commuter paper",
		Calls: []commute.Call[RenameState]{
			commute.NewCall("rename", "rename(src, dst): -1 if src is missing, else 0", func(s *RenameState, e commute.Env, a RenameArgs) sym.Result {
				if !e.If(s.Dir.Contains(a.Src)) {
					return e.Result().Int("r", -1)
				}
				if e.If(a.Src.Eq(a.Dst)) {
					return e.Result().Int("r", 0)
				}
				if e.If(s.Dir.Contains(a.Dst)) {
					old := s.Dir.Get(a.Dst)
					ino := s.Inodes.Get(old)
					ino.Nlink = ino.Nlink.SubN(1)
					s.Inodes.Set(old, ino)
				}
				s.Dir.Set(a.Dst, s.Dir.Get(a.Src))
				s.Dir.Delete(a.Src)
				return e.Result().Int("r", 0)
			}),
		},
	}
}

// UPipeState is an unordered pipe: a bag of items.
type UPipeState struct{ Elems sym.Bag[sym.Int] }

// WriteArgs are the arguments of u_write.
type WriteArgs struct{ Elem sym.Int }

// UPipe is Commuter's unordered pipe: reads return any item. Two reads
// commute unless exactly one item is available; a write and a read
// commute when the pipe is not empty.
func UPipe() *commute.Spec[UPipeState] {
	return &commute.Spec[UPipeState]{
		Name: "upipe",
		Doc:  "an unordered pipe: u_write adds an item, u_read removes any item",
		Calls: []commute.Call[UPipeState]{
			commute.NewCall("u_write", "add an item", func(s *UPipeState, e commute.Env, a WriteArgs) sym.Result {
				s.Elems = s.Elems.Add(a.Elem)
				return e.Result()
			}),
			commute.NewCall("u_read", "remove and return some item, or report empty", func(s *UPipeState, e commute.Env, _ NoArgs) sym.Result {
				if e.If(s.Elems.Len().EqN(0)) {
					return e.Result().Int("empty", 1)
				}
				x, rest := s.Elems.Take()
				s.Elems = rest
				return e.Result().With("r", x)
			}),
		},
	}
}

// WatermarkState is a high-water mark.
type WatermarkState struct{ Val sym.Int }

// PutArgs are the arguments of put.
type PutArgs struct{ Val sym.Int }

// Watermark keeps the maximum of the values put: puts always commute, and
// a put commutes with max when it does not raise the mark.
func Watermark() *commute.Spec[WatermarkState] {
	return &commute.Spec[WatermarkState]{
		Name: "watermark",
		Doc:  "a high-water mark: put, max",
		Calls: []commute.Call[WatermarkState]{
			commute.NewCall("put", "raise the mark to val if it is higher", func(s *WatermarkState, e commute.Env, a PutArgs) sym.Result {
				if e.If(a.Val.Gt(s.Val)) {
					s.Val = a.Val
				}
				return e.Result()
			}),
			commute.NewCall("max", "return the mark", func(s *WatermarkState, e commute.Env, _ NoArgs) sym.Result {
				return e.Result().With("r", s.Val)
			}),
		},
	}
}

// EventList is the tracker's log of which calls tracked.
type EventList = sym.List[sym.Int, sym.Cap4]

// TrackerState logs events until told to forget.
type TrackerState struct {
	Events EventList
	Forgot sym.Bool
}

// Equal ignores the log once forgotten: after forget the log is garbage.
func (t TrackerState) Equal(p *sym.Path, o TrackerState) sym.Bool {
	return t.Forgot.Eq(o.Forgot).And(t.Forgot.Or(sym.Equal(p, t.Events, o.Events)))
}

// TrackForget logs which calls ran track; report returns the log (empty
// once forgotten); forget drops it. Two tracks commute only once
// forgotten; report commutes with forget when the log is already empty or
// forgotten.
func TrackForget() *commute.Spec[TrackerState] {
	return &commute.Spec[TrackerState]{
		Name: "trackforget",
		Doc:  "an event log: track, report, forget",
		Calls: []commute.Call[TrackerState]{
			commute.NewCall("track", "append the calling slot to the log", func(s *TrackerState, e commute.Env, _ NoArgs) sym.Result {
				s.Events = s.Events.Append(e.Int(int64(e.Slot)))
				return e.Result()
			}),
			commute.NewCall("report", "return the log, or an empty one once forgotten", func(s *TrackerState, e commute.Env, _ NoArgs) sym.Result {
				if e.If(s.Forgot) {
					return e.Result().With("r", sym.Internal[EventList](e.Path, "empty").Truncate(e.Int(0)))
				}
				return e.Result().With("r", s.Events)
			}),
			commute.NewCall("forget", "drop the log", func(s *TrackerState, e commute.Env, _ NoArgs) sym.Result {
				s.Forgot = e.True()
				return e.Result()
			}),
		},
	}
}
