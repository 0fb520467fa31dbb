/*
 * crewvm instruction fuzzer reproducer: TestInsnFuzzReproducers (vmm/insnfuzz_test.go)
 * records and replays it on the vCPUs below and wants the replay to match.
 *
 * seed: 3
 * cpus: 2
 * iterations: 402
 * revoke-deadline: 0s
 * templates: fxsave
 * culprit: fxsave
 * minimized: yes
 * signature: record: vCPU #: KVM_RUN failed with EFAULT: no operand of the instruction lies in a page the VMM revoked @ fxsave
 * error: vCPU 1: KVM_RUN failed with EFAULT: no operand of the instruction lies in a page the VMM revoked [rip=0x100211 rsp=0xff0000 rflags=0x10046 rax=0xc63232ba11adf64c rbx=0x101000 rcx=0xe77dcba49633caa rdx=0x6099b4d07f180df3 rsi=0x354ab37a8ffc11db rdi=0x156625e022bdf8a7 rbp=0x2b1ab777268dd898 r8=0xba2f994716b916e2 r9=0xf49acdc391addb55 r10=0x930f8f72d4a20bcf r11=0x94b89039bf4a673b r12=0x1a0a3979714df281 r13=0xa43a65953effdb2b r14=0x52070951d6fd88d3 r15=0x192]
 * at: fxsave 0x2f20(%rbx) (insnfuzz_c1_g0)
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
	movabsq $0x526d2cbcbcb0de46, %rax
	movabsq $0xc324ea04be7a722c, %rcx
	movabsq $0x412dc6b3e91bf994, %rdx
	movabsq $0x8d0797fdb7b11e94, %rsi
	movabsq $0x1b8b0d4d00bf678, %rdi
	movabsq $0x3609baf9131025a5, %rbp
	movabsq $0xe68acf9016146629, %r8
	movabsq $0xc4af27a17a027179, %r9
	movabsq $0x266f06802c9d3b5c, %r10
	movabsq $0xb5b567225d54aeaa, %r11
	movabsq $0x445c8daa5311ad2, %r12
	movabsq $0x3bf47b32952ebb69, %r13
	movabsq $0x67baee7bbf52ceca, %r14
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
	movabsq $0xc63232ba11adf64c, %rax
	movabsq $0xe77dcba49633caa, %rcx
	movabsq $0x6099b4d07f180df3, %rdx
	movabsq $0x354ab37a8ffc11db, %rsi
	movabsq $0x156625e022bdf8a7, %rdi
	movabsq $0x2b1ab777268dd898, %rbp
	movabsq $0xba2f994716b916e2, %r8
	movabsq $0xf49acdc391addb55, %r9
	movabsq $0x930f8f72d4a20bcf, %r10
	movabsq $0x94b89039bf4a673b, %r11
	movabsq $0x1a0a3979714df281, %r12
	movabsq $0xa43a65953effdb2b, %r13
	movabsq $0x52070951d6fd88d3, %r14
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
	movl $402, %r15d
.Lloop1:
insnfuzz_c1_g0:
	/* fxsave */
	fxsave 0x2f20(%rbx)
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
