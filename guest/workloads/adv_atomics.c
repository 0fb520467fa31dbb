/*
 * adv-atomics: read-modify-write and implicit-operand instructions on
 * shared pages, every CPU at once:
 *  - lock cmpxchg loops adding 1 to a counter (page 0);
 *  - lock cmpxchg8b loops adding 1 to a counter (page 1);
 *  - lock cmpxchg16b loops adding 1 to both halves of a 16-byte aligned
 *    pair (page 2): the halves are equal in every snapshot it takes;
 *  - a spinlock taken with xchg (implicitly locked) around a plain
 *    increment (page 3);
 *  - lock xadd on a counter (page 4), and plain (unlocked) xadd on
 *    another, which may lose updates (racy);
 *  - xlatb through a 256-byte table (page 5) whose entries CPU 0 keeps
 *    rewriting, always with a value of the form 0x80 | k;
 *  - enter/leave with nesting levels 0 and 2 on a small stack inside a
 *    shared page (page 6, one 256-byte stack per CPU, all in one page),
 *    with rbp pointing at a frame in page 7 that the other CPUs write:
 *    the level-2 enter copies a word of that frame.
 * Each CPU goes on past its iterations until it saw a few hand-overs
 * from other CPUs (or they stopped). The locked counters must be exact. The optional second argument, a
 * bit mask, picks the parts (1 cmpxchg, 2 cmpxchg8b, 4 cmpxchg16b, 8
 * xchg, 16 xadd, 32 xlatb, 64 enter/leave; default all), so that each
 * instruction can be tried on its own.
 */
#include "adv.h"

static const char adv_atomics_usage[] = "[iterations (default 20000)] [parts mask (default 127: all)]";

#define P_CMPXCHG 1
#define P_CMPXCHG8B 2
#define P_CMPXCHG16B 4
#define P_XCHG 8
#define P_XADD 16
#define P_XLAT 32
#define P_ENTER 64

static u64 iterations, parts;
static u8 *region;
static volatile u64 atomics_arrived;	/* CPUs at the start line */
/* v[0] bad snapshots or results, v[1] cmpxchg retries, v[2] xlat results
 * that changed, v[3] enter copies from another CPU's write, v[4] times the
 * xchg lock passed from one CPU to another, v[5] iterations done. */
static struct adv_slot results[ADV_MAX_CPUS];
static volatile u64 atomics_done;

static u64 *cx_word(void) { return (u64 *)(region + 0x40); }
static u64 *cx8_word(void) { return (u64 *)(region + ADV_PAGE + 0x48); }
static u64 *cx16_pair(void) { return (u64 *)(region + 2 * ADV_PAGE + 0x50); }
static volatile u32 *xchg_lock(void) { return (volatile u32 *)(region + 3 * ADV_PAGE); }
static volatile u64 *xchg_count(void) { return (volatile u64 *)(region + 3 * ADV_PAGE + 0x100); }
static volatile u64 *xchg_owner(void) { return (volatile u64 *)(region + 3 * ADV_PAGE + 0x140); }
static u64 *xadd_word(void) { return (u64 *)(region + 4 * ADV_PAGE + 0x10); }
static u64 *plain_xadd_word(void) { return (u64 *)(region + 4 * ADV_PAGE + 0x18); }
static u8 *xlat_table(void) { return region + 5 * ADV_PAGE + 0x300; }
static u8 *enter_stack(int cpu) { return region + 6 * ADV_PAGE + 256 * (u64)(cpu + 1); }
static u64 *enter_frame(void) { return (u64 *)(region + 7 * ADV_PAGE + 0x800); }

/* lock cmpxchg: 1 when *p held old and now holds new. */
static int cmpxchg(u64 *p, u64 old, u64 new)
{
	u8 ok;
	asm volatile("lock cmpxchgq %[new], (%[p])\n\tsete %[ok]"
		     : [ok] "=q"(ok), "+a"(old) : [new] "r"(new), [p] "r"(p) : "memory", "cc");
	return ok;
}

/* lock cmpxchg8b: compares edx:eax with *p, stores ecx:ebx. */
static int cmpxchg8b(u64 *p, u64 *old, u64 new)
{
	u32 lo = (u32)*old, hi = (u32)(*old >> 32);
	u8 ok;
	asm volatile("lock cmpxchg8b (%[p])\n\tsete %[ok]"
		     : [ok] "=q"(ok), "+a"(lo), "+d"(hi)
		     : "b"((u32)new), "c"((u32)(new >> 32)), [p] "r"(p)
		     : "memory", "cc");
	*old = (u64)hi << 32 | lo;
	return ok;
}

/* lock cmpxchg16b: compares rdx:rax with p[1]:p[0], stores rcx:rbx. */
static int cmpxchg16b(u64 *p, u64 old[2], const u64 new[2])
{
	u8 ok;
	asm volatile("lock cmpxchg16b (%[p])\n\tsete %[ok]"
		     : [ok] "=q"(ok), "+a"(old[0]), "+d"(old[1])
		     : "b"(new[0]), "c"(new[1]), [p] "r"(p)
		     : "memory", "cc");
	return ok;
}

static u32 xchg32(volatile u32 *p, u32 v)
{
	asm volatile("xchgl %[v], (%[p])" : [v] "+r"(v) : [p] "r"(p) : "memory");
	return v;
}

static u64 lock_xadd(u64 *p, u64 v)
{
	asm volatile("lock xaddq %[v], (%[p])" : [v] "+r"(v) : [p] "r"(p) : "memory", "cc");
	return v;
}

static void plain_xadd(u64 *p, u64 v)
{
	asm volatile("xaddq %[v], (%[p])" : [v] "+r"(v) : [p] "r"(p) : "memory", "cc");
}

static u8 xlat(const u8 *table, u8 index)
{
	u64 a = index;
	asm volatile("xlatb" : "+a"(a) : "b"(table) : "memory");
	return (u8)a;
}

/*
 * enter_nested switches to stack top (inside the shared page), points rbp
 * at frame, runs enter $16, $2 (which pushes rbp, copies the word at
 * frame - 8 and pushes the new frame pointer), reads the copied word back,
 * leaves, and returns it. Then enter $32, $0 / leave on the same stack.
 */
static u64 enter_nested(u8 *top, u64 *frame)
{
	u64 copied;
	asm volatile("movq %%rbp, %%r13\n\t"
		     "movq %%rsp, %%r12\n\t"
		     "movq %[top], %%rsp\n\t"
		     "movq %[frame], %%rbp\n\t"
		     "enter $16, $2\n\t"
		     "movq -8(%%rbp), %[copied]\n\t"
		     "leave\n\t"
		     "enter $32, $0\n\t"
		     "movq %[copied], -8(%%rbp)\n\t"
		     "leave\n\t"
		     "movq %%r12, %%rsp\n\t"
		     "movq %%r13, %%rbp"
		     : [copied] "=&d"(copied)
		     : [top] "S"(top), [frame] "D"(frame)
		     : "r12", "r13", "memory");
	return copied;
}

static int adv_atomics_setup(struct wctx *w)
{
	args_at_most(w, 2, adv_atomics_usage);
	iterations = arg_range(w, 1, 20000, 0, 1UL << 40, adv_atomics_usage);
	parts = arg_range(w, 2, 127, 0, 127, adv_atomics_usage);
	if (adv_cpus(w))
		return 1;
	region = adv_pages(8);
	for (int k = 0; k < 256; k++)
		xlat_table()[k] = 0x80;
	return 0;
}

static void adv_atomics_run(struct wctx *w, int cpu)
{
	u64 r[6] = {0};	/* as results[cpu].v, kept local until the end */
	u8 last_xlat = 0x80;

	(void)w;
	adv_touch(region, 8 * ADV_PAGE);
	adv_gate(&atomics_arrived, (u64)w->ncpus);
	u64 i, seen = 0;
	for (i = 1; adv_more(i - 1, iterations, seen, &atomics_done, w->ncpus); i++) {
		if (parts & P_CMPXCHG) {
			u64 old = *(volatile u64 *)cx_word();
			while (!cmpxchg(cx_word(), old, old + 1)) {
				old = *(volatile u64 *)cx_word();
				r[1]++;
			}
		}
		if (parts & P_CMPXCHG8B) {
			u64 old = 0;
			while (!cmpxchg8b(cx8_word(), &old, old + 1))
				r[1]++;
		}
		if (parts & P_CMPXCHG16B) {
			u64 pair[2] = {0, 0}, next[2];
			for (;;) {
				next[0] = pair[0] + 1;
				next[1] = pair[1] + 1;
				if (cmpxchg16b(cx16_pair(), pair, next))
					break;
				r[0] += pair[0] != pair[1]; /* a snapshot, atomically read */
				r[1]++;
			}
		}
		if (parts & P_XCHG) {
			while (xchg32(xchg_lock(), 1))
				while (*xchg_lock())
					cpu_relax();
			*xchg_count() = *xchg_count() + 1;
			r[4] += *xchg_owner() != (u64)cpu + 1;
			*xchg_owner() = (u64)cpu + 1;
			__atomic_store_n(xchg_lock(), 0, __ATOMIC_RELEASE);
		}
		if (parts & P_XADD) {
			lock_xadd(xadd_word(), 1);
			plain_xadd(plain_xadd_word(), 1);
		}
		if (parts & P_XLAT) {
			if (cpu == 0)
				__atomic_store_n(&xlat_table()[i % 256], (u8)(0x80 | (i & 0x7f)), __ATOMIC_RELAXED);
			u8 x = xlat(xlat_table(), (u8)(i * 7));
			r[0] += (x & 0x80) == 0;
			r[2] += x != last_xlat;
			last_xlat = x;
		}
		if (parts & P_ENTER) {
			/* The frame word the level-2 enter copies: the CPUs write it in turn. */
			if (i % (u64)w->ncpus == (u64)cpu)
				__atomic_store_n(enter_frame() - 1, i << 8 | (u64)cpu, __ATOMIC_RELAXED);
			u64 copied = enter_nested(enter_stack(cpu), enter_frame());
			r[0] += (copied & 0xff) >= (u64)w->ncpus;
			r[3] += (copied & 0xff) != (u64)cpu;
		}
		/* Hand-overs any other CPU that goes on will cause: the xchg
		 * lock changing hands, the enter frame word being another's. */
		seen = parts & (P_XCHG | P_ENTER) ? r[4] + r[3] : ADV_MIN_CHANGES;
	}
	adv_stop(&atomics_done);
	r[5] = i - 1;
	for (int k = 0; k < 6; k++)
		results[cpu].v[k] = r[k];
}

static int adv_atomics_check(struct wctx *w)
{
	u64 all = 0, t[5] = {0};
	for (int c = 0; c < w->ncpus; c++)
		all += results[c].v[5];
	u64 want1 = parts & P_CMPXCHG ? all : 0, want2 = parts & P_CMPXCHG8B ? all : 0;
	u64 want4 = parts & P_CMPXCHG16B ? all : 0, want8 = parts & P_XCHG ? all : 0;
	u64 want16 = parts & P_XADD ? all : 0;

	for (int c = 0; c < w->ncpus; c++)
		for (int k = 0; k < 5; k++)
			t[k] += results[c].v[k];
	u64 *pair = cx16_pair();
	int exact = *cx_word() == want1 && *cx8_word() == want2 && pair[0] == want4 && pair[1] == want4 &&
		    *xchg_count() == want8 && *xadd_word() == want16;
	kprintf("adv-atomics: parts %lx: cmpxchg, cmpxchg8b, cmpxchg16b, xchg-lock and xadd counts %s\n", parts,
		exact ? "exact" : "WRONG");
	if (!exact)
		kprintf("adv-atomics: cmpxchg %lu cmpxchg8b %lu cmpxchg16b %lu:%lu xchg-lock %lu xadd %lu, want %lu each\n",
			*cx_word(), *cx8_word(), pair[0], pair[1], *xchg_count(), *xadd_word(), all);
	kprintf("adv-atomics: %lu bad snapshots or results\n", t[0]);
	kprintf("adv-atomics: race: %lu iterations, plain xadd %lu of %lu, %lu cmpxchg retries, xchg lock passed between cpus %lu "
		"times, %lu xlat changes, %lu enter copies from another cpu\n",
		all, *plain_xadd_word(), want16, t[1], t[4], t[2], t[3]);
	return !exact || t[0] != 0 || *plain_xadd_word() > want16;
}

const struct workload wl_adv_atomics = {
	.name = "adv-atomics",
	.usage = adv_atomics_usage,
	.setup = adv_atomics_setup,
	.run = adv_atomics_run,
	.check = adv_atomics_check,
};
