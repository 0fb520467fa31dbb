/*
 * crewvm instruction fuzzer reproducer: TestInsnFuzzReproducers (vmm/insnfuzz_test.go)
 * records and replays it on the vCPUs below and wants the replay to match.
 *
 * seed: 5
 * cpus: 2
 * iterations: 356
 * revoke-deadline: 1µs
 * templates: fsgs
 * culprit: fsgs
 * minimized: yes
 * signature: record: vCPU #: KVM_RUN failed with EFAULT: instruction at # (instruction): GS-relative operand @ fsgs
 * error: vCPU 1: KVM_RUN failed with EFAULT: instruction at 0x100211 (MOV [RBX+0xec7], RDX): GS-relative operand [rip=0x100211 rsp=0xff0000 rflags=0x10046 rax=0x2e9e1863065db4ea rbx=0x101000 rcx=0x89bd53a2bc2947a6 rdx=0xb3d9e1d57978b90f rsi=0xbf45f62308be70a4 rdi=0x8c466b3798f81fc6 rbp=0xcdd21a886e05f2e r8=0x9c89a2a7b97b60b4 r9=0x94b42ec1dae31a9b r10=0xaf2ec011bfa420f r11=0xc13c565accec40d1 r12=0x4595c8056ef50999 r13=0xd3b7e5ce62fc2dae r14=0x81fdbae83ecd2552 r15=0x164]
 * at: mov %rdx,%gs:0xec7(%rbx) (insnfuzz_c1_g0)
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
	movabsq $0x2e9e1863065db4ea, %rax
	movabsq $0x89bd53a2bc2947a6, %rcx
	movabsq $0xb3d9e1d57978b90f, %rdx
	movabsq $0xbf45f62308be70a4, %rsi
	movabsq $0x8c466b3798f81fc6, %rdi
	movabsq $0xcdd21a886e05f2e, %rbp
	movabsq $0x9c89a2a7b97b60b4, %r8
	movabsq $0x94b42ec1dae31a9b, %r9
	movabsq $0xaf2ec011bfa420f, %r10
	movabsq $0xc13c565accec40d1, %r11
	movabsq $0x4595c8056ef50999, %r12
	movabsq $0xd3b7e5ce62fc2dae, %r13
	movabsq $0x81fdbae83ecd2552, %r14
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
	movl $356, %r15d
.Lloop1:
insnfuzz_c1_g0:
	/* fsgs */
	movq %rdx, %gs:0xec7(%rbx)
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
