// Package sym is a symbolic execution library in the spirit of Commuter's
// simsym: models are ordinary Go code over symbolic values, and an Explorer
// runs that code once per feasible path.
//
// # Values
//
// Leaves are Bool, Int and U[T] (a value of an uninterpreted sort named by
// T, for identities such as file names or inode numbers whose only
// operation is equality). Composite values are Go structs and arrays of
// leaves, plus the containers Map (total map), Dict (map with a validity
// bit per key, like a Python dict), List (bounded list) and Bag (multiset).
// Fresh, Equal and Ite work on any such type by reflection; a struct may
// customise equality with an Equal(T) Bool method and declare well-formedness
// with an Invariant(*Path) Bool method, assumed whenever a fresh value of the
// type is created.
//
// Values are immutable or persistent: copying a state struct gives an
// independent state, which is how a commutativity check runs several call
// orders from one initial state.
//
// # Paths
//
// Path.If asks Z3 whether each side of a symbolic condition is feasible.
// The Explorer enumerates paths by re-running the code with a branch
// schedule: a path's decisions are replayed without solver calls and the
// first new feasible alternative is explored next (depth first), so the
// solver's assertion stack is shared between paths with a common prefix.
// Model code must therefore be deterministic. Assume adds a condition to
// the path; AssumeInvariant adds one that only states what a well-formed
// world looks like (see Relevance below).
//
// # The lazy world
//
// Containers do not describe a whole initial state, which would need
// quantifiers. Instead an initial container is an uninterpreted function
// read lazily: every key a path reads from the initial state is recorded as
// an observation. Generated tests materialise exactly the observed entries,
// so a constraint that should hold "for all keys" only has to hold for
// observed ones: Dict.ForAll instantiates a predicate on every key observed
// so far and on every key observed later in the path. This keeps every
// query quantifier-free (QF_UFLIA), which is what makes the whole POSIX
// model fast enough to enumerate.
//
// # Relevance
//
// Test generation (see Eval) excludes each generated test's isomorphism
// class before asking for the next one. Only terms that occur in the
// behaviour-determining part of the path condition (branch decisions and
// Assume) take part; terms that only occur in invariants, or that mention
// internal variables (see Internal; they stand for implementation choices),
// do not, so tests differ in what matters to the calls.
package sym
