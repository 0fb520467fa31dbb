/*
 * Sector i of the test image is 64 words of xorshift64 seeded with
 * (i + 1) * ABI_DISK_SEED_MUL. The guest is little-endian, as the image
 * is, so a word in memory is the word on disk.
 */
#include "diskgen.h"

static void sector_words(u64 sector, u64 *w, u64 mix)
{
	u64 x = (sector + 1) * ABI_DISK_SEED_MUL;

	for (int k = 0; k < DISKGEN_WORDS; k++) {
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		w[k] = (x * ABI_DISK_OUT_MUL) ^ mix;
	}
}

void diskgen_fill(u64 first, u64 count, void *buf, u64 mix)
{
	u64 *w = buf;

	for (u64 s = 0; s < count; s++)
		sector_words(first + s, w + s * DISKGEN_WORDS, mix);
}

s64 diskgen_check(u64 first, u64 count, const void *buf, u64 mix)
{
	const u64 *got = buf;
	u64 want[DISKGEN_WORDS];

	for (u64 s = 0; s < count; s++) {
		sector_words(first + s, want, mix);
		for (int k = 0; k < DISKGEN_WORDS; k++)
			if (got[s * DISKGEN_WORDS + k] != want[k])
				return (s64)(first + s);
	}
	return -1;
}
