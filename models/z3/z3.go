// Package z3 is a thin cgo binding to the C API of the Z3 theorem prover
// (Debian's libz3-dev, 4.8.x). Its shape follows go-z3 (Context, Sort, AST,
// FuncDecl, Solver, Model) but it is written for crewvm's symbolic execution
// library, with two properties that library needs for long runs:
//
//   - Errors never abort the process. Z3 reports misuse (a sort mismatch, an
//     interrupted query) through an error handler; the default one calls
//     exit(). Every Context installs a no-op handler and reads the error code
//     back, so a Z3 error becomes a Go error.
//   - Memory is reference counted. Contexts are created with
//     Z3_mk_context_rc; every wrapper holds one reference, released by a
//     runtime cleanup when the wrapper becomes unreachable. Z3 contexts are
//     not thread-safe, so cleanups (which run on the runtime's cleanup
//     goroutine) only queue the release; the owning goroutine performs it at
//     its next call into the context. Close releases everything at once.
//
// # Errors
//
// Constructors that build terms (Const, Eq, Add, ...) would be unusable if
// each returned an error, so they follow the sticky-error pattern of
// bufio.Writer: the first Z3 error is recorded on the Context, the failing
// constructor returns nil, constructors given a nil operand return nil
// without calling Z3, and Context.Err reports the recorded error. Solver and
// model operations return their errors directly (and also fail once the
// context holds an error, so a broken term can never be asserted silently).
//
// # Concurrency
//
// A Context and everything built from it must be used by one goroutine at a
// time. The exceptions are Context.Interrupt, which may be called from any
// goroutine to stop a running check, and the cleanups described above.
// Different contexts may be used in parallel.
package z3

/*
#cgo LDFLAGS: -lz3
#include <stdlib.h>
#include <z3.h>

// goz3_on_error replaces Z3's default handler, which would exit the process.
// The error code stays readable through Z3_get_error_code.
static void goz3_on_error(Z3_context c, Z3_error_code e) { (void)c; (void)e; }

static Z3_context goz3_mk_context(Z3_config cfg) {
	Z3_context c = Z3_mk_context_rc(cfg);
	if (c) Z3_set_error_handler(c, goz3_on_error);
	return c;
}

// goz3_release drops one reference from each queued object. kinds[i] says
// what ptrs[i] is: 0 ast, 1 solver, 2 model.
static void goz3_release(Z3_context c, int n, const unsigned char *kinds, void **ptrs) {
	for (int i = 0; i < n; i++) {
		switch (kinds[i]) {
		case 0: Z3_dec_ref(c, (Z3_ast)ptrs[i]); break;
		case 1: Z3_solver_dec_ref(c, (Z3_solver)ptrs[i]); break;
		case 2: Z3_model_dec_ref(c, (Z3_model)ptrs[i]); break;
		}
	}
}
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"unsafe"
)

// ErrClosed is returned for operations on a closed Context.
var ErrClosed = errors.New("z3: context closed")

// ErrNil is recorded when a constructor is handed a nil operand that did
// not come from an earlier failure (for example a zero-value wrapper).
var ErrNil = errors.New("z3: nil operand")

// Error is a Z3 error: the operation that failed, Z3's error code and its
// message.
type Error struct {
	Op   string
	Code int
	Msg  string
}

func (e *Error) Error() string {
	return fmt.Sprintf("z3: %s: %s (code %d)", e.Op, e.Msg, e.Code)
}

// Version returns the version string of the linked libz3.
func Version() string {
	return C.GoString(C.Z3_get_full_version())
}

// Config holds context configuration parameters, as accepted by
// Z3_set_param_value (for example "model": "true").
type Config map[string]string

// refKind says which Z3 dec_ref function releases a queued pointer.
type refKind uint8

const (
	refAST refKind = iota
	refSolver
	refModel
)

type pendingRef struct {
	kind refKind
	ptr  unsafe.Pointer
}

// ctxState is the part of a Context reachable from cleanups. It must not
// point back to the Context or to any wrapper, or wrappers would never
// become unreachable.
type ctxState struct {
	mu      sync.Mutex
	raw     C.Z3_context
	closed  bool
	pending []pendingRef
}

func (st *ctxState) enqueue(r pendingRef) {
	st.mu.Lock()
	if !st.closed {
		st.pending = append(st.pending, r)
	}
	st.mu.Unlock()
}

// Context is a Z3 context: the factory and owner of sorts, terms, solvers
// and models. See the package documentation for its error and concurrency
// rules.
type Context struct {
	raw    C.Z3_context
	st     *ctxState
	err    error
	closed bool

	// created counts wrappers since the last drain, so queued releases are
	// performed regularly even by callers that never check.
	created int
	// keep disables per-object releases: objects live until Close.
	keep bool
	// tracked and released count objects registered for release and
	// released, for tests of the release machinery.
	tracked, released int

	boolSort, intSort *Sort
	trueAST, falseAST *AST
}

// NewContext creates a reference-counted Z3 context with the given
// configuration.
func NewContext(cfg Config) (*Context, error) {
	zc := C.Z3_mk_config()
	if zc == nil {
		return nil, errors.New("z3: Z3_mk_config failed")
	}
	defer C.Z3_del_config(zc)
	for k, v := range cfg {
		ck, cv := C.CString(k), C.CString(v)
		C.Z3_set_param_value(zc, ck, cv)
		C.free(unsafe.Pointer(ck))
		C.free(unsafe.Pointer(cv))
	}
	raw := C.goz3_mk_context(zc)
	if raw == nil {
		return nil, errors.New("z3: Z3_mk_context_rc failed")
	}
	c := &Context{raw: raw, st: &ctxState{raw: raw}}
	c.boolSort = c.wrapSort(C.Z3_mk_bool_sort(raw), "BoolSort")
	c.intSort = c.wrapSort(C.Z3_mk_int_sort(raw), "IntSort")
	c.trueAST = c.wrap(C.Z3_mk_true(raw), "True")
	c.falseAST = c.wrap(C.Z3_mk_false(raw), "False")
	if c.err != nil {
		err := c.err
		c.Close()
		return nil, err
	}
	return c, nil
}

// Close releases the context and every object created from it. Wrappers
// must not be used afterwards; operations on them report ErrClosed. Close
// is idempotent.
func (c *Context) Close() error {
	if c == nil || c.closed {
		return nil
	}
	c.closed = true
	c.st.mu.Lock()
	c.st.closed = true
	c.st.pending = nil
	C.Z3_del_context(c.raw)
	c.st.mu.Unlock()
	return nil
}

// KeepUntilClose switches the context to arena mode: objects created from
// now on are not released individually when their wrappers become
// unreachable, only all at once by Close. Two reasons to want that for a
// short-lived context: it saves the cost of a runtime cleanup per object,
// and it makes Z3 deterministic. Z3 numbers terms in creation order and
// recycles the numbers of freed terms, and its search depends on those
// numbers; releases driven by the garbage collector happen at
// unpredictable times, so the same sequence of API calls can yield
// different (equally valid) models from run to run. Memory then grows
// until Close, so use it for contexts with a bounded lifetime (crewvm
// uses one context per call set).
func (c *Context) KeepUntilClose() { c.keep = true }

// Err returns the first error recorded by a term constructor, or nil.
func (c *Context) Err() error {
	if c.closed && c.err == nil {
		return ErrClosed
	}
	return c.err
}

// ResetErr clears the sticky error, for callers that handled it (for
// example by discarding the terms built since) and want to go on.
func (c *Context) ResetErr() { c.err = nil }

// Interrupt asks a running Check on this context to stop; it then returns
// Unknown with reason "canceled". Safe to call from any goroutine, and a
// no-op after Close.
func (c *Context) Interrupt() {
	c.st.mu.Lock()
	if !c.st.closed {
		C.Z3_interrupt(c.st.raw)
	}
	c.st.mu.Unlock()
}

// drain performs queued releases. Called by the owning goroutine only.
func (c *Context) drain() {
	c.created = 0
	c.st.mu.Lock()
	pend := c.st.pending
	c.st.pending = nil
	c.st.mu.Unlock()
	if len(pend) == 0 || c.closed {
		return
	}
	kinds := make([]C.uchar, len(pend))
	ptrs := C.malloc(C.size_t(len(pend)) * C.size_t(unsafe.Sizeof(uintptr(0))))
	defer C.free(ptrs)
	arr := unsafe.Slice((*unsafe.Pointer)(ptrs), len(pend))
	for i, p := range pend {
		kinds[i] = C.uchar(p.kind)
		arr[i] = p.ptr
	}
	C.goz3_release(c.raw, C.int(len(pend)), &kinds[0], (*unsafe.Pointer)(ptrs))
	c.released += len(pend)
}

// usable reports whether a new object may be created, recording ErrClosed
// when the context is gone.
func (c *Context) usable() bool {
	if c.closed {
		if c.err == nil {
			c.err = ErrClosed
		}
		return false
	}
	return true
}

// check turns the context's current error code into a Go error for op.
func (c *Context) check(op string) error {
	code := C.Z3_get_error_code(c.raw)
	if code == C.Z3_OK {
		return nil
	}
	msg := C.GoString(C.Z3_get_error_msg(c.raw, code))
	C.Z3_set_error(c.raw, C.Z3_OK)
	return &Error{Op: op, Code: int(code), Msg: msg}
}

// fail records err as the sticky error unless one is already recorded.
func (c *Context) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

// failed records the error for op after Z3 returned NULL.
func (c *Context) failed(op string) {
	err := c.check(op)
	if err == nil {
		err = &Error{Op: op, Code: -1, Msg: "returned NULL without an error code"}
	}
	c.fail(err)
}

// release is the cleanup function: it queues one reference for release by
// the owning goroutine.
func release(r cleanupArg) { r.st.enqueue(pendingRef{kind: r.kind, ptr: r.ptr}) }

type cleanupArg struct {
	st   *ctxState
	kind refKind
	ptr  unsafe.Pointer
}

// track registers the cleanup that releases ptr when owner is collected,
// and drains the queue every so often.
func track[T any](c *Context, owner *T, kind refKind, ptr unsafe.Pointer) {
	if c.keep {
		return
	}
	runtime.AddCleanup(owner, release, cleanupArg{st: c.st, kind: kind, ptr: ptr})
	c.tracked++
	c.created++
	if c.created >= 4096 {
		c.drain()
	}
}

// String-conversion helper shared by the wrappers.
func goString(s C.Z3_string) string { return C.GoString(s) }

// mkSymbol converts a Go string into a Z3 string symbol. Symbols are not
// reference counted; Z3 interns them.
func (c *Context) mkSymbol(name string) C.Z3_symbol {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	return C.Z3_mk_string_symbol(c.raw, cs)
}

// EstimatedAlloc returns Z3's estimate of the bytes it has allocated, over
// all contexts. Useful to check that long runs do not leak.
func EstimatedAlloc() uint64 { return uint64(C.Z3_get_estimated_alloc_size()) }
