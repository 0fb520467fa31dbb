/*
 * adv-twomem: instructions with two memory operands, or a memory operand
 * besides the stack, on pages another CPU writes. CPU 0 keeps changing
 * a source word (page 0), a comparison word (page 2) and two code
 * pointers (page 4) until the other CPUs have done their iterations;
 * they, each iteration:
 *  - movsq and movsb from the source word into their slot of page 1, and
 *    load the slot back (it must hold a value CPU 0 wrote);
 *  - cmpsq of page 2's word against their own word of page 3 (racy:
 *    equal or not);
 *  - pushq from the source word, popq into a register (a value CPU 0
 *    wrote); pushq a register, popq into their slot of page 5 (exact);
 *  - call through the code pointer in page 4 and jmp through the other:
 *    each lands on one of two stubs, returning 1 or 2 (which is racy).
 * Readers go on until they have seen CPU 0's stores change a few times.
 * The optional second argument, a bit mask, picks the parts (1 movs, 2
 * cmps, 4 push/pop, 8 call, 16 jmp; default all).
 */
#include "adv.h"

static const char adv_twomem_usage[] = "[iterations (default 20000)] [parts mask (default 31: all)]";

#define P_MOVS 1
#define P_CMPS 2
#define P_PUSHPOP 4
#define P_CALL 8
#define P_JMP 16

#define TWO_K 0x10001UL	/* CPU 0 writes multiples of TWO_K */

static u64 iterations, parts;
static u8 *region;
static volatile u64 twomem_arrived;	/* CPUs at the start line */
static volatile u64 readers_left, writer_started;
static u64 writes;	/* CPU 0's last step */
/* v[0] impossible values or stub results, v[1] wrong pops, v[2] equal
 * cmps, v[3] calls to stub 2, v[4] jumps to stub 2, v[5] largest value. */
static struct adv_slot results[ADV_MAX_CPUS];

/* Two stubs to call (they return) and two to jump to (they jump back
 * through rcx); each leaves 1 or 2 in eax. */
void adv_call1(void);
void adv_call2(void);
void adv_jump1(void);
void adv_jump2(void);
asm(".text\n"
    "adv_call1: movl $1, %eax\n\tret\n"
    "adv_call2: movl $2, %eax\n\tret\n"
    "adv_jump1: movl $1, %eax\n\tjmp *%rcx\n"
    "adv_jump2: movl $2, %eax\n\tjmp *%rcx\n");

static u64 *src_word(void) { return (u64 *)(region + 0x100); }
static u64 *slot1(int cpu) { return (u64 *)(region + ADV_PAGE + 64 * (u64)cpu); }
static u64 *cmp_word(void) { return (u64 *)(region + 2 * ADV_PAGE + 0x80); }
static u64 *own_cmp(int cpu) { return (u64 *)(region + 3 * ADV_PAGE + 64 * (u64)cpu); }
static void **call_ptr(void) { return (void **)(region + 4 * ADV_PAGE + 0x40); }
static void **jump_ptr(void) { return (void **)(region + 4 * ADV_PAGE + 0x800); }
static u64 *slot5(int cpu) { return (u64 *)(region + 5 * ADV_PAGE + 64 * (u64)cpu); }

static void movsq(const void *src, void *dst)
{
	asm volatile("movsq" : "+S"(src), "+D"(dst) : : "memory");
}

static void movsb(const void *src, void *dst)
{
	asm volatile("movsb" : "+S"(src), "+D"(dst) : : "memory");
}

/* cmpsq: 1 when *a == *b. */
static int cmpsq(const void *a, const void *b)
{
	u8 eq;
	asm volatile("cmpsq\n\tsete %[eq]" : [eq] "=q"(eq), "+S"(a), "+D"(b) : : "memory", "cc");
	return eq;
}

static u64 push_mem_pop_reg(const u64 *p)
{
	u64 v;
	asm volatile("pushq (%[p])\n\tpopq %[v]" : [v] "=r"(v) : [p] "r"(p) : "memory");
	return v;
}

static void push_reg_pop_mem(u64 v, u64 *p)
{
	asm volatile("pushq %[v]\n\tpopq (%[p])" : : [v] "r"(v), [p] "r"(p) : "memory");
}

static u32 call_through(void **fp)
{
	u32 r;
	asm volatile("call *(%[fp])" : "=a"(r) : [fp] "r"(fp) : "memory", "cc");
	return r;
}

static u32 jump_through(void **fp)
{
	u32 r;
	asm volatile("leaq 1f(%%rip), %%rcx\n\t"
		     "jmp *(%[fp])\n"
		     "1:"
		     : "=a"(r) : [fp] "r"(fp) : "rcx", "memory", "cc");
	return r;
}

static int adv_twomem_setup(struct wctx *w)
{
	args_at_most(w, 2, adv_twomem_usage);
	iterations = arg_range(w, 1, 20000, 0, 1UL << 40, adv_twomem_usage);
	parts = arg_range(w, 2, 31, 0, 31, adv_twomem_usage);
	if (adv_cpus(w))
		return 1;
	region = adv_pages(6);
	*call_ptr() = (void *)adv_call1;
	*jump_ptr() = (void *)adv_jump1;
	readers_left = (u64)w->ncpus - 1;
	return 0;
}

static void writer(void)
{
	u64 i;

	for (i = 1; adv_writer_more(i, 1, &readers_left); i++) {
		__atomic_store_n(src_word(), i * TWO_K, __ATOMIC_RELAXED);
		__atomic_store_n(cmp_word(), i % 7, __ATOMIC_RELAXED);
		__atomic_store_n(call_ptr(), (void *)((i & 1) ? adv_call2 : adv_call1), __ATOMIC_RELAXED);
		__atomic_store_n(jump_ptr(), (void *)((i & 2) ? adv_jump2 : adv_jump1), __ATOMIC_RELAXED);
		if (i == 1)
			adv_writer_started(&writer_started);
	}
	writes = i - 1;
}

static void reader(int cpu)
{
	u64 max = 0, bad = 0, wrong_pops = 0, equal = 0, calls2 = 0, jumps2 = 0, changes = 0, last = 0;

	adv_wait_writer(&writer_started);
	for (u64 i = 1; i <= iterations || changes < ADV_MIN_CHANGES; i++) {
		u64 seen = 0;	/* what this iteration read of CPU 0's stores */
		if (parts & P_MOVS) {
			movsq(src_word(), slot1(cpu));
			u64 v = *(volatile u64 *)slot1(cpu);
			seen += v;
			bad += v % TWO_K != 0;
			max = v > max ? v : max;
			movsb(src_word(), slot1(cpu));	/* low byte of a newer value: not checked */
		}
		if (parts & P_CMPS) {
			*own_cmp(cpu) = i % 7;
			int eq = cmpsq(cmp_word(), own_cmp(cpu));
			equal += (u64)eq;
			seen += (u64)eq << 1;
		}
		if (parts & P_PUSHPOP) {
			u64 v = push_mem_pop_reg(src_word());
			seen += v << 2;
			bad += v % TWO_K != 0;
			max = v > max ? v : max;
			push_reg_pop_mem(i * 3 + (u64)cpu, slot5(cpu));
			wrong_pops += *(volatile u64 *)slot5(cpu) != i * 3 + (u64)cpu;
		}
		if (parts & P_CALL) {
			u32 c = call_through(call_ptr());
			calls2 += c == 2;
			seen += (u64)c << 5;
			bad += c != 1 && c != 2;
		}
		if (parts & P_JMP) {
			u32 j = jump_through(jump_ptr());
			jumps2 += j == 2;
			seen += (u64)j << 8;
			bad += j != 1 && j != 2;
		}
		changes += seen != last;
		last = seen;
	}
	u64 *r = results[cpu].v;
	r[0] = bad;
	r[1] = wrong_pops;
	r[2] = equal;
	r[3] = calls2;
	r[4] = jumps2;
	r[5] = max;
	adv_reader_done(&readers_left);
}

static void adv_twomem_run(struct wctx *w, int cpu)
{
	(void)w;
	adv_touch(region, 6 * ADV_PAGE);
	adv_gate(&twomem_arrived, (u64)w->ncpus);
	if (cpu == 0)
		writer();
	else
		reader(cpu);
}

static int adv_twomem_check(struct wctx *w)
{
	u64 t[5] = {0}, max = 0;

	for (int c = 1; c < w->ncpus; c++) {
		for (int k = 0; k < 5; k++)
			t[k] += results[c].v[k];
		max = results[c].v[5] > max ? results[c].v[5] : max;
	}
	int final_ok = *src_word() == writes * TWO_K;
	kprintf("adv-twomem: parts %lx, %lu iterations per reader, final source %s, largest value read %s, %lu "
		"impossible values or stub results, %lu wrong pops\n",
		parts, iterations, final_ok ? "right" : "WRONG", max <= writes * TWO_K ? "possible" : "IMPOSSIBLE",
		t[0], t[1]);
	kprintf("adv-twomem: race: writer took %lu steps; %lu equal cmps, %lu calls and %lu jumps reached stub 2\n",
		writes, t[2], t[3], t[4]);
	return !final_ok || max > writes * TWO_K || t[0] || t[1];
}

const struct workload wl_adv_twomem = {
	.name = "adv-twomem",
	.usage = adv_twomem_usage,
	.setup = adv_twomem_setup,
	.run = adv_twomem_run,
	.check = adv_twomem_check,
};
