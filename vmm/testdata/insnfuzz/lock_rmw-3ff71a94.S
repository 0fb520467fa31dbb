/*
 * crewvm instruction fuzzer reproducer: TestInsnFuzzReproducers (vmm/insnfuzz_test.go)
 * records and replays it on the vCPUs below and wants the replay to match.
 *
 * seed: 5
 * cpus: 2
 * iterations: 20164
 * revoke-deadline: 1µs
 * templates: lock_rmw
 * culprit: lock_rmw
 * minimized: no
 * signature: replay: replay diverged at log event #: vCPU # (rip=#): the guest faulted on a write of page #, but the log has a crew event @ lock_rmw
 * error: replay diverged at log event 22: vCPU 1 (rip=0x10023c): the guest faulted on a write of page 260, but the log has #22 vcpu=1 crew at=exit:10 page=0x103 access=write state=exclusive after=[vcpu0@state:9.1/rip=0x100108,rflags=0x12,mem=0xe26ee389ac0e7129]
 * at: lock add %rdi,0x2ff9(%rbx) (insnfuzz_c1_g2)
 */
	.text
	.globl _start
_start:
	leaq insnfuzz_shared(%rip), %rbx
	cmpl $1, %edi
	je .Lcpu1
.Lcpu0:
	lock incl 0x2080(%rbx)
.Lstart0:
	pause
	movl 0x2080(%rbx), %eax
	cmpl 0x200c, %eax
	jne .Lstart0
	movabsq $0x4078077571cf3eee, %rax
	movabsq $0xf084152442b5d11a, %rcx
	movabsq $0xdff4a0399d88879c, %rdx
	movabsq $0xafe9ee3c0c2bc094, %rsi
	movabsq $0x352535673f86e7d2, %rdi
	movabsq $0xcc1a15a32c713be2, %rbp
	movabsq $0x3a165aa11a4ca33b, %r8
	movabsq $0x21ce35cbe966725e, %r9
	movabsq $0x407a4e76e224c9bc, %r10
	movabsq $0x628961df37edf65d, %r11
	movabsq $0x3b80677d1b990921, %r12
	movabsq $0x910149c9f8bcc9b4, %r13
	movabsq $0xe695a1e2507f767f, %r14
	movq %rax, %xmm0
	movq %rcx, %xmm1
	movq %rdx, %xmm2
	movq %rsi, %xmm3
	movq %rdi, %xmm4
	movq %rbp, %xmm5
	movq %r8, %xmm6
	movq %r9, %xmm7
	movq %r10, %xmm8
	movq %r11, %xmm9
	movq %r12, %xmm10
	movq %r13, %xmm11
	movq %r14, %xmm12
	movq %rax, %xmm13
	movq %rcx, %xmm14
	movq %rdx, %xmm15
	movl $20164, %r15d
.Lloop0:
insnfuzz_c0_g0:
	/* lock_rmw */
	lock addq %r11, 0x3001(%rbx)
insnfuzz_c0_g1:
	/* lock_rmw */
	lock addl $-3, 0x2ffe(%rbx)
insnfuzz_c0_tail:
	decl %r15d
	jnz .Lloop0
	lock incl 0x2040(%rbx)
.Lwait:
	pause
	movl 0x2040(%rbx), %eax
	cmpl 0x200c, %eax
	jne .Lwait
	xorl %edi, %edi
	movl $1, %eax
	movl $0x500, %edx
	outl %eax, (%dx)
	jmp .Lwait
.Lcpu1:
	lock incl 0x2080(%rbx)
.Lstart1:
	pause
	movl 0x2080(%rbx), %eax
	cmpl 0x200c, %eax
	jne .Lstart1
	movabsq $0x7e4e3261c901c314, %rax
	movabsq $0x2b06b6512449e74b, %rcx
	movabsq $0xdc118505cf9c88a8, %rdx
	movabsq $0xeaa64c66077d40bc, %rsi
	movabsq $0x9b2c0c6c37923347, %rdi
	movabsq $0xc6fe33bc4166057, %rbp
	movabsq $0x292336a20a1b8daf, %r8
	movabsq $0xe24b848131cd8201, %r9
	movabsq $0x98776ce4f580bc77, %r10
	movabsq $0xbfce3dc038161f2b, %r11
	movabsq $0x12414c01b9f95ad1, %r12
	movabsq $0x51763615eaba857a, %r13
	movabsq $0xc8aeebe037f415d9, %r14
	movq %rax, %xmm0
	movq %rcx, %xmm1
	movq %rdx, %xmm2
	movq %rsi, %xmm3
	movq %rdi, %xmm4
	movq %rbp, %xmm5
	movq %r8, %xmm6
	movq %r9, %xmm7
	movq %r10, %xmm8
	movq %r11, %xmm9
	movq %r12, %xmm10
	movq %r13, %xmm11
	movq %r14, %xmm12
	movq %rax, %xmm13
	movq %rcx, %xmm14
	movq %rdx, %xmm15
	movl $20164, %r15d
.Lloop1:
insnfuzz_c1_g0:
	/* lock_rmw */
	lock addw $2, 0xfff(%rbx)
insnfuzz_c1_g1:
	/* lock_rmw */
	lock notb 0x3008(%rbx)
insnfuzz_c1_g2:
	/* lock_rmw */
	lock addq %rdi, 0x2ff9(%rbx)
insnfuzz_c1_g3:
	/* lock_rmw */
	lock incl 0x10a3(%rbx)
insnfuzz_c1_g4:
	/* lock_rmw */
	lock addw $20673, 0xff3(%rbx)
insnfuzz_c1_g5:
	/* lock_rmw */
	lock notq 0x1006(%rbx)
insnfuzz_c1_g6:
	/* lock_rmw */
	lock addq $1, 0xbf(%rbx)
insnfuzz_c1_g7:
	/* lock_rmw */
	lock xaddl %ebp, 0x2fff(%rbx)
insnfuzz_c1_tail:
	decl %r15d
	jnz .Lloop1
	lock incl 0x2040(%rbx)
.Lhalt1:
	hlt
	jmp .Lhalt1
insnfuzz_stub:
	ret
	.bss
	.balign 4096
insnfuzz_shared:
	.skip 0x4000
