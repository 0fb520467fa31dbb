/*
 * The guest <-> VMM ABI. guest/ABI.md is the prose version; the Go side
 * (vmm/abi.go) mirrors these numbers and a test checks they agree.
 */
#ifndef CREWVM_ABI_H
#define CREWVM_ABI_H

/* Ports. */
#define ABI_PORT_SERIAL     0x3f8   /* 16550 data register: out writes a byte */
#define ABI_PORT_SERIAL_LSR 0x3fd   /* line status: reads 0x60 (transmitter empty) */
#define ABI_PORT_HYPERCALL  0x500   /* outl %eax: eax = hypercall number */

/* Hypercall numbers (eax); arguments in rdi, rsi, rcx, r8; result in rax. */
#define HC_EXIT         1   /* (status) ends the run; the VMM exits with status */
#define HC_TIME         2   /* () -> monotonic nanoseconds since boot */
#define HC_HALT         3   /* () -> 0 once woken (a wake sent earlier is kept) */
#define HC_WAKE         4   /* (cpu) -> 0; wakes a halted CPU */
#define HC_CONSOLE      5   /* (addr, len) -> len; writes bytes to the console */
#define HC_REGION_BEGIN 6   /* (id) -> 0; a test region starts on this CPU */
#define HC_REGION_END   7   /* (id) -> 0; the test region ends on this CPU */
#define HC_LABEL        8   /* (addr, len, name, namelen) -> 0; names memory */

#define ABI_MAX_CONSOLE 4096  /* longest HC_CONSOLE write */
#define ABI_MAX_LABEL   128   /* longest HC_LABEL name */

/* Fixed guest-physical layout built by the VMM before the first instruction. */
#define ABI_GDT_ADDR      0x1000
#define ABI_BOOTINFO_ADDR 0x2000
#define ABI_PML4_ADDR     0x3000
#define ABI_KERNEL_MIN    0x100000   /* lowest address a PT_LOAD segment may use */
#define ABI_STACK_SIZE    0x10000    /* per CPU, at the top of RAM */

#define ABI_BOOT_MAGIC    0x544f4f4257455243ULL  /* "CREWBOOT" */
#define ABI_BOOT_VERSION  1
#define ABI_MAX_ARGS      32
#define ABI_ARGS_SIZE     2048
#define ABI_INPUT_OFFSET  2352   /* offset of input_addr in struct bootinfo */

/* Boot information page at ABI_BOOTINFO_ADDR; read-only for the guest. */
struct bootinfo {
	unsigned long long magic;
	unsigned int version;
	unsigned int ncpus;
	unsigned long long mem_size;
	unsigned long long heap_start;       /* first free byte after the kernel */
	unsigned long long heap_end;         /* first byte of the CPU stacks */
	unsigned int argc;                   /* argv[0] is the workload name */
	unsigned int reserved;
	unsigned long long argv[ABI_MAX_ARGS]; /* guest addresses of NUL-terminated strings */
	char args[ABI_ARGS_SIZE];
	/* The input region: a file the VMM loaded at boot (vmm run --tests),
	 * read-only by contract, between heap_end and the stacks; 0 and 0
	 * when there is none. */
	unsigned long long input_addr;
	unsigned long long input_len;
};

/* The virtio-blk device (guest/ABI.md, "The disk"): virtio 1.x over the
 * virtio-mmio transport (version 2) at a fixed guest-physical address,
 * present when the VMM runs with --disk. RAM must end at or below it. */
#define ABI_VIRTIO_BLK_ADDR  0xd0000000  /* the register window */
#define ABI_VIRTIO_BLK_SIZE  0x1000      /* its length */
#define ABI_VIRTIO_QUEUE_MAX 256         /* QueueNumMax of queue 0, the only queue */
#define ABI_SECTOR_SIZE      512         /* capacity and request sectors */

/* `vmm disk make` fills sector i with 64 little-endian words from
 * xorshift64 seeded with (i + 1) * ABI_DISK_SEED_MUL: each word is
 * x ^= x >> 12; x ^= x << 25; x ^= x >> 27; word = x * ABI_DISK_OUT_MUL. */
#define ABI_DISK_SEED_MUL 0x9e3779b97f4a7c15ULL
#define ABI_DISK_OUT_MUL  0x2545f4914f6cdd1dULL

_Static_assert(__builtin_offsetof(struct bootinfo, input_addr) == ABI_INPUT_OFFSET,
	       "ABI_INPUT_OFFSET must match struct bootinfo");

#endif
