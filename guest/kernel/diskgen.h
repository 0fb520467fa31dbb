/*
 * The test image's content (guest/ABI.md, "The test image"): what
 * `vmm disk make` writes, so the disk workloads can check any sector
 * they read, and write it back.
 */
#ifndef DISKGEN_H
#define DISKGEN_H

#include "abi.h"
#include "types.h"

#define DISKGEN_WORDS (ABI_SECTOR_SIZE / 8)	/* u64 words in a sector */

/*
 * The buffers hold whole sectors and are 8-byte aligned. mix is XORed
 * into every word: 0 gives the image itself, anything else a pattern
 * that differs from the image in every word.
 */
void diskgen_fill(u64 first, u64 count, void *buf, u64 mix);
/* diskgen_check returns -1 when count sectors at buf match, else the
 * first sector (as a disk sector number) that does not. */
s64 diskgen_check(u64 first, u64 count, const void *buf, u64 mix);

#endif
