/* hello: every CPU introduces itself. */
#include "console.h"
#include "workload.h"

static void hello_run(struct wctx *w, int cpu)
{
	kprintf("cpu %d of %d\n", cpu, w->ncpus);
}

const struct workload wl_hello = {
	.name = "hello",
	.usage = "",
	.run = hello_run,
};
