/*
 * adv-fsgs: FS- and GS-relative memory operands, whose linear address is
 * the segment base plus the offset: a decoder that ignores the segment
 * names the wrong page. Every CPU sets its FS base (wrfsbase) to the same
 * shared region and its GS base (wrgsbase) to a slot of its own in a
 * shared page, then:
 *  - CPU 0 stores step after step to %fs:0x100 (page 0) until the others
 *    have loaded it their number of times with a base+index FS operand
 *    (each must be a step CPU 0 stored);
 *  - then, by every CPU, lock incq %fs:0x1008 (page 1): exact; and a
 *    store and load of %gs:8 and addq to %gs:16 (its slot, page 2, which
 *    neighbouring CPUs' slots share): exact.
 * FS and GS bases go back to 0 at the end. wrfsbase needs CR4.FSGSBASE
 * (the VMM sets it where the host CPU has FSGSBASE); CPUID.7:EBX bit 0
 * says the CPU has the instructions, and the workload skips, saying so,
 * where it does not. The optional argument 0 skips the FS/GS part
 * anyway, for hosts where CPUID says yes but wrfsbase faults.
 */
#include "adv.h"

static const char adv_fsgs_usage[] = "[iterations (default 20000)] [use fs/gs: 1 (default) or 0]";

static u64 iterations;
static int enabled;
static u8 *region;
static volatile u64 fsgs_arrived;	/* CPUs at the start line */
static volatile u64 readers_left, writer_started;
static u64 writes;	/* CPU 0's last step */
/* v[0] bad gs round trips, v[1] value changes seen, v[2] base read back
 * wrong, v[3] largest step read. */
static struct adv_slot results[ADV_MAX_CPUS];

static void wrfsbase(u64 v) { asm volatile("wrfsbase %0" : : "r"(v) : "memory"); }
static void wrgsbase(u64 v) { asm volatile("wrgsbase %0" : : "r"(v) : "memory"); }

static u64 rdfsbase(void)
{
	u64 v;
	asm volatile("rdfsbase %0" : "=r"(v));
	return v;
}

static u64 rdgsbase(void)
{
	u64 v;
	asm volatile("rdgsbase %0" : "=r"(v));
	return v;
}

static void fs_store_step(u64 v) { asm volatile("movq %0, %%fs:0x100" : : "r"(v) : "memory"); }

/* A base+index FS operand: %fs:0x80(%base,%index,8) = %fs:0x100 for
 * base 0x78, index 1. */
static u64 fs_load_step(void)
{
	u64 v, base = 0x78, index = 1;
	asm volatile("movq %%fs:0x80(%[b],%[i],8), %[v]" : [v] "=r"(v) : [b] "r"(base), [i] "r"(index) : "memory");
	return v;
}

static void fs_lock_inc(void) { asm volatile("lock incq %%fs:0x1008" : : : "memory", "cc"); }

static u64 gs_roundtrip(u64 v)
{
	u64 out;
	asm volatile("movq %[v], %%gs:8\n\t"
		     "addq $1, %%gs:16\n\t"
		     "movq %%gs:8, %[out]"
		     : [out] "=r"(out) : [v] "r"(v) : "memory", "cc");
	return out;
}

static u8 *gs_slot(int cpu) { return region + 2 * ADV_PAGE + 64 * (u64)cpu; }

static int adv_fsgs_setup(struct wctx *w)
{
	args_at_most(w, 2, adv_fsgs_usage);
	iterations = arg_range(w, 1, 20000, 0, 1UL << 40, adv_fsgs_usage);
	int want = (int)arg_range(w, 2, 1, 0, 1, adv_fsgs_usage);
	if (adv_cpus(w))
		return 1;
	int cpu_has = adv_cpuid_bit(7, 0, 1, 0);
	enabled = want && cpu_has;
	if (!enabled)
		kprintf("adv-fsgs: skipped (cpuid fsgsbase %d, asked %d): no FS/GS-relative accesses\n", cpu_has,
			want);
	region = adv_pages(3);
	readers_left = (u64)w->ncpus - 1;
	return 0;
}

static void adv_fsgs_run(struct wctx *w, int cpu)
{
	u64 bad = 0, max = 0, changes = 0, last = 0, i;

	if (!enabled)
		return;
	wrfsbase((u64)region);
	wrgsbase((u64)gs_slot(cpu));
	results[cpu].v[2] = rdfsbase() != (u64)region || rdgsbase() != (u64)gs_slot(cpu);
	adv_touch(region, 3 * ADV_PAGE);
	adv_gate(&fsgs_arrived, (u64)w->ncpus);
	if (cpu == 0) {
		for (i = 1; adv_writer_more(i, 1, &readers_left); i++) {
			fs_store_step(i);
			if (i == 1)
				adv_writer_started(&writer_started);
		}
		writes = i - 1;
	} else {
		adv_wait_writer(&writer_started);
		for (i = 1; i <= iterations || changes < ADV_MIN_CHANGES; i++) {
			u64 v = fs_load_step();
			max = v > max ? v : max;
			changes += v != last;
			last = v;
		}
		adv_reader_done(&readers_left);
	}
	for (i = 1; i <= iterations; i++) {
		fs_lock_inc();
		bad += gs_roundtrip(i * 5) != i * 5;
	}
	results[cpu].v[0] = bad;
	results[cpu].v[1] = changes;
	results[cpu].v[3] = max;
	wrfsbase(0);
	wrgsbase(0);
}

static int adv_fsgs_check(struct wctx *w)
{
	u64 bad = 0, changes = 0, wrongbase = 0, gsbad = 0, max = 0;

	if (!enabled)
		return 0;
	for (int c = 0; c < w->ncpus; c++) {
		bad += results[c].v[0];
		changes += results[c].v[1];
		wrongbase += results[c].v[2];
		max = results[c].v[3] > max ? results[c].v[3] : max;
		gsbad += *(u64 *)(gs_slot(c) + 16) != iterations;
		gsbad += *(u64 *)(gs_slot(c) + 8) != iterations * 5;
	}
	u64 step = *(u64 *)(region + 0x100), count = *(u64 *)(region + 0x1008);
	u64 want = iterations * (u64)w->ncpus;
	kprintf("adv-fsgs: %lu iterations, last step %s, largest step read %s, fs counter %lu of %lu, %lu bad gs "
		"round trips, %lu wrong gs slots, %lu bases read back wrong\n",
		iterations, step == writes ? "right" : "WRONG", max <= writes ? "possible" : "IMPOSSIBLE", count, want,
		bad, gsbad, wrongbase);
	kprintf("adv-fsgs: race: writer took %lu steps, readers saw %lu changes\n", writes, changes);
	return bad || gsbad || wrongbase || step != writes || max > writes || count != want;
}

const struct workload wl_adv_fsgs = {
	.name = "adv-fsgs",
	.usage = adv_fsgs_usage,
	.setup = adv_fsgs_setup,
	.run = adv_fsgs_run,
	.check = adv_fsgs_check,
};
