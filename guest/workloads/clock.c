/*
 * clock: reads the paravirtual clock while computing; the readings must
 * never go backwards. Its output depends on time, so record/replay tests
 * use it to show that replay feeds the recorded readings back.
 */
#include "console.h"
#include "hypercall.h"
#include "workload.h"

static u64 readings[16];

static void clock_run(struct wctx *w, int cpu)
{
	(void)w;
	if (cpu != 0)
		return;
	volatile u64 sink = 0;
	for (int i = 0; i < 16; i++) {
		readings[i] = hc_time();
		for (u64 j = 0; j < 100000; j++)
			sink += j;
	}
}

static int clock_check(struct wctx *w)
{
	(void)w;
	for (int i = 1; i < 16; i++)
		if (readings[i] < readings[i - 1])
			return 1;
	kprintf("clock: 16 readings over %lu ns\n", readings[15] - readings[0]);
	return 0;
}

const struct workload wl_clock = {
	.name = "clock",
	.usage = "",
	.run = clock_run,
	.check = clock_check,
};
