/*
 * msgpass: flag-based message passing between CPU pairs, CPU 2k producing
 * for CPU 2k+1 (with an odd CPU count the last CPU passes messages to
 * itself). Each pair has a ring of slots, one cache line each: the
 * producer fills a free slot's payload, then publishes it by storing the
 * message's sequence number in the slot's flag (release); the consumer
 * waits for the flag (acquire), checks the sequence number and every
 * payload word, and frees the slot. A CPU that waits long halts until
 * the other wakes it (see sleeper_wait). check requires every message of
 * every pair to have arrived whole and in order.
 */
#include "alloc.h"
#include "helpers.h"
#include "sync.h"

#define MSG_SLOTS 8
#define MSG_WORDS 7

struct msg_slot {
	volatile u64 flag;	/* 0: free; m + 1: holds message m */
	u64 payload[MSG_WORDS];
} __attribute__((aligned(CACHE_LINE)));

/* What the consumer saw, on a line of its own. */
struct msg_result {
	u64 received;
	u64 errors;
} __attribute__((aligned(CACHE_LINE)));

struct msg_channel {
	struct msg_slot slot[MSG_SLOTS];
	struct msg_result result;
	struct sleeper producer, consumer;
	int producer_cpu, consumer_cpu;
};

static const char msgpass_usage[] = "[messages per pair (default 100000)]";
static u64 messages;
static int nchannels;
static struct msg_channel *channels;

static u64 msg_word(int channel, u64 m, int k)
{
	return random_at(((u64)channel << 40 | m) * MSG_WORDS + (u64)k);
}

static int msgpass_setup(struct wctx *w)
{
	args_at_most(w, 1, msgpass_usage);
	messages = arg_range(w, 1, 100000, 0, 1UL << 40, msgpass_usage);
	nchannels = (w->ncpus + 1) / 2;
	channels = kalloc_or_die((u64)nchannels * sizeof(*channels), CACHE_LINE);
	for (int c = 0; c < nchannels; c++) {
		channels[c].producer_cpu = 2 * c;
		channels[c].consumer_cpu = 2 * c + 1 < w->ncpus ? 2 * c + 1 : 2 * c;
	}
	return 0;
}

static void msg_send(struct msg_channel *ch, int channel, u64 m)
{
	struct msg_slot *s = &ch->slot[m % MSG_SLOTS];
	u64 flag, spins = 0;

	while ((flag = __atomic_load_n(&s->flag, __ATOMIC_ACQUIRE)) != 0)
		sleeper_wait(&ch->producer, &s->flag, flag, &spins);
	for (int k = 0; k < MSG_WORDS; k++)
		s->payload[k] = msg_word(channel, m, k);
	__atomic_store_n(&s->flag, m + 1, __ATOMIC_SEQ_CST);
	sleeper_wake(&ch->consumer, ch->consumer_cpu);
}

static void msg_receive(struct msg_channel *ch, int channel, u64 m)
{
	struct msg_slot *s = &ch->slot[m % MSG_SLOTS];
	u64 flag, spins = 0;

	while ((flag = __atomic_load_n(&s->flag, __ATOMIC_ACQUIRE)) == 0)
		sleeper_wait(&ch->consumer, &s->flag, 0, &spins);
	if (flag != m + 1)
		ch->result.errors++;
	for (int k = 0; k < MSG_WORDS; k++)
		if (s->payload[k] != msg_word(channel, m, k))
			ch->result.errors++;
	ch->result.received++;
	__atomic_store_n(&s->flag, 0, __ATOMIC_SEQ_CST);
	sleeper_wake(&ch->producer, ch->producer_cpu);
}

static void msgpass_run(struct wctx *w, int cpu)
{
	int channel = cpu / 2;
	struct msg_channel *ch = &channels[channel];

	if (cpu % 2 == 0 && cpu + 1 == w->ncpus) {
		/* No partner: send each message to ourselves. */
		for (u64 m = 0; m < messages; m++) {
			msg_send(ch, channel, m);
			msg_receive(ch, channel, m);
		}
	} else if (cpu % 2 == 0) {
		for (u64 m = 0; m < messages; m++)
			msg_send(ch, channel, m);
	} else {
		for (u64 m = 0; m < messages; m++)
			msg_receive(ch, channel, m);
	}
}

static int msgpass_check(struct wctx *w)
{
	u64 received = 0, errors = 0;
	int short_channels = 0;

	(void)w;
	for (int c = 0; c < nchannels; c++) {
		received += channels[c].result.received;
		errors += channels[c].result.errors;
		if (channels[c].result.received != messages)
			short_channels++;
	}
	kprintf("msgpass: %d channels, %lu of %lu messages received, %lu errors\n",
		nchannels, received, messages * (u64)nchannels, errors);
	return errors != 0 || short_channels != 0;
}

const struct workload wl_msgpass = {
	.name = "msgpass",
	.usage = msgpass_usage,
	.setup = msgpass_setup,
	.run = msgpass_run,
	.check = msgpass_check,
};
