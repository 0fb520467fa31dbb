package z3

/*
#include <stdlib.h>
#include <string.h>
#include <z3.h>

// A small open-addressing set of AST ids, so whole path conditions can be
// walked in one cgo call instead of several calls per node.
typedef struct { unsigned *slot; unsigned cap; unsigned n; } goz3_idset;

static int goz3_idset_add(goz3_idset *s, unsigned id) {
	unsigned key = id + 1; // 0 marks an empty slot
	if ((s->n + 1) * 2 > s->cap) {
		unsigned ncap = s->cap ? s->cap * 2 : 256;
		unsigned *ns = calloc(ncap, sizeof(unsigned));
		if (!ns) return -1;
		for (unsigned i = 0; i < s->cap; i++) {
			unsigned k = s->slot[i];
			if (!k) continue;
			unsigned h = (k * 2654435761u) & (ncap - 1);
			while (ns[h]) h = (h + 1) & (ncap - 1);
			ns[h] = k;
		}
		free(s->slot);
		s->slot = ns;
		s->cap = ncap;
	}
	unsigned h = (key * 2654435761u) & (s->cap - 1);
	while (s->slot[h]) {
		if (s->slot[h] == key) return 0;
		h = (h + 1) & (s->cap - 1);
	}
	s->slot[h] = key;
	s->n++;
	return 1;
}

// goz3_subterm_ids writes the ids of all distinct application subterms of
// roots (roots included) into a malloc'ed array *out and returns their
// number, or -1 when out of memory. The caller frees *out.
static long goz3_subterm_ids(Z3_context c, unsigned nroots, Z3_ast const *roots, unsigned **out) {
	goz3_idset seen = {0, 0, 0};
	unsigned stcap = 256, sp = 0;
	Z3_ast *stack = malloc(stcap * sizeof(Z3_ast));
	if (!stack) return -1;
	for (unsigned i = 0; i < nroots; i++) {
		if (sp == stcap) {
			stcap *= 2;
			Z3_ast *ns = realloc(stack, stcap * sizeof(Z3_ast));
			if (!ns) { free(stack); free(seen.slot); return -1; }
			stack = ns;
		}
		stack[sp++] = roots[i];
	}
	while (sp > 0) {
		Z3_ast a = stack[--sp];
		Z3_ast_kind k = Z3_get_ast_kind(c, a);
		if (k != Z3_APP_AST && k != Z3_NUMERAL_AST) continue;
		int added = goz3_idset_add(&seen, Z3_get_ast_id(c, a));
		if (added < 0) { free(stack); free(seen.slot); return -1; }
		if (!added || k != Z3_APP_AST) continue;
		Z3_app app = Z3_to_app(c, a);
		unsigned n = Z3_get_app_num_args(c, app);
		for (unsigned i = 0; i < n; i++) {
			if (sp == stcap) {
				stcap *= 2;
				Z3_ast *ns = realloc(stack, stcap * sizeof(Z3_ast));
				if (!ns) { free(stack); free(seen.slot); return -1; }
				stack = ns;
			}
			stack[sp++] = Z3_get_app_arg(c, app, i);
		}
	}
	free(stack);
	unsigned *ids = malloc((seen.n ? seen.n : 1) * sizeof(unsigned));
	if (!ids) { free(seen.slot); return -1; }
	unsigned j = 0;
	for (unsigned i = 0; i < seen.cap; i++) {
		if (seen.slot[i]) ids[j++] = seen.slot[i] - 1;
	}
	free(seen.slot);
	*out = ids;
	return (long)j;
}
*/
import "C"

import (
	"errors"
	"unsafe"
)

// TermSet is a set of terms of one context, identified by AST id. Ids are
// only stable while the terms are alive, so a TermSet is meaningful only
// while the terms it was built from are still referenced.
type TermSet struct {
	ids map[uint32]struct{}
}

// Has reports whether a is in the set.
func (s *TermSet) Has(a *AST) bool {
	if s == nil || a == nil {
		return false
	}
	_, ok := s.ids[a.ID()]
	return ok
}

// Len returns the number of terms in the set.
func (s *TermSet) Len() int {
	if s == nil {
		return 0
	}
	return len(s.ids)
}

// Subterms returns the set of all application subterms of roots (constants,
// literals and the roots themselves included). The walk runs in C, so
// large path conditions cost one cgo call.
func (c *Context) Subterms(roots ...*AST) (*TermSet, error) {
	if err := c.ready("Subterms"); err != nil {
		return nil, err
	}
	set := &TermSet{ids: make(map[uint32]struct{})}
	if len(roots) == 0 {
		return set, nil
	}
	raws, ok := c.raws("Subterms", roots)
	if !ok {
		return nil, c.err
	}
	var out *C.unsigned
	n := C.goz3_subterm_ids(c.raw, C.unsigned(len(raws)), &raws[0], &out)
	if n < 0 {
		return nil, errors.New("z3: Subterms: out of memory")
	}
	defer C.free(unsafe.Pointer(out))
	for _, id := range unsafe.Slice(out, int(n)) {
		set.ids[uint32(id)] = struct{}{}
	}
	return set, nil
}
