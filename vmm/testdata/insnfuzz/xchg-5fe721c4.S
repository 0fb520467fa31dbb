/*
 * crewvm instruction fuzzer reproducer: TestInsnFuzzReproducers (vmm/insnfuzz_test.go)
 * records and replays it on the vCPUs below and wants the replay to match.
 *
 * seed: 1
 * cpus: 2
 * iterations: 2427
 * revoke-deadline: 0s
 * templates: xchg
 * culprit: xchg
 * minimized: yes
 * signature: replay: replay diverged at log event #: vCPU # (rip=#): the log has a crew event at exit #, but the guest did not ask for it @ xchg
 * error: replay diverged at log event 18: vCPU 0 (rip=0x100142): the log has #18 vcpu=0 crew at=exit:7 page=0x102 access=write state=exclusive at exit 7, but the guest did not ask for it
 * at: xchg %r8,0xffa(%rbx) (insnfuzz_c0_g9)
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
	movabsq $0xaef8fc52ab960cb2, %rax
	movabsq $0x26b0f2f5c337080e, %rcx
	movabsq $0xe9f053f6524af940, %rdx
	movabsq $0x2ac9b0de70e3c6b6, %rsi
	movabsq $0xa4f9243384528c5a, %rdi
	movabsq $0xa811a8406aa6a684, %rbp
	movabsq $0xe7bfd85d58c4ada6, %r8
	movabsq $0x8350d5f9deb1bbf2, %r9
	movabsq $0x8cc51e54051844da, %r10
	movabsq $0x98513baaa5575c9a, %r11
	movabsq $0xb0e25b30eec276e0, %r12
	movabsq $0x26bcb1f1cf76435c, %r13
	movabsq $0xaeb40b82f6dfbb11, %r14
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
	movl $2427, %r15d
.Lloop0:
insnfuzz_c0_g0:
	/* xchg */
	xchgw %r8w, 0x2fff(%rbx)
insnfuzz_c0_g1:
	/* xchg */
	xchgq %r14, 0x2ffc(%rbx)
insnfuzz_c0_g2:
	/* xchg */
	xchgl %r13d, 0xffe(%rbx)
insnfuzz_c0_g3:
	/* xchg */
	xchgw %r10w, 0xf10(%rbx)
insnfuzz_c0_g4:
	/* xchg */
	xchgw %r13w, 0x3002(%rbx)
insnfuzz_c0_g5:
	/* xchg */
	xchgb %r10b, 0x300a(%rbx)
insnfuzz_c0_g6:
	/* xchg */
	xchgl %r11d, 0xeb8(%rbx)
insnfuzz_c0_g7:
	/* xchg */
	xchgl %r14d, 0xffd(%rbx)
insnfuzz_c0_g8:
	/* xchg */
	xchgw %ax, 0x2fff(%rbx)
insnfuzz_c0_g9:
	/* xchg */
	xchgq %r8, 0xffa(%rbx)
insnfuzz_c0_g10:
	/* xchg */
	xchgl %r10d, 0xfff(%rbx)
insnfuzz_c0_g11:
	/* xchg */
	xchgq %r13, 0x3015(%rbx)
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
	movabsq $0x1f1d2043a05b2f0d, %rax
	movabsq $0xae4f8cc6dcbeed72, %rcx
	movabsq $0x246bc25a239eb31c, %rdx
	movabsq $0xbcb00fc088f1f359, %rsi
	movabsq $0x2f210cfdd1d03c03, %rdi
	movabsq $0x42d62f3ce1b56380, %rbp
	movabsq $0x32274c787cd5aa25, %r8
	movabsq $0xd9663b00c4bdc086, %r9
	movabsq $0x708720a7ccef267d, %r10
	movabsq $0x103ba147cf35472b, %r11
	movabsq $0x684038806c6e439c, %r12
	movabsq $0xa328dd687ae9b479, %r13
	movabsq $0xa61f60a4bbac854c, %r14
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
	movl $2427, %r15d
.Lloop1:
insnfuzz_c1_g0:
	/* xchg */
	xchgq %r8, 0x2ffb(%rbx)
insnfuzz_c1_g1:
	/* xchg */
	xchgb %bpl, 0xf19(%rbx)
insnfuzz_c1_g2:
	/* xchg */
	xchgw %r11w, 0xfff(%rbx)
insnfuzz_c1_g3:
	/* xchg */
	xchgq %rdi, 0x3049(%rbx)
insnfuzz_c1_g4:
	/* xchg */
	xchgl %eax, 0x37(%rbx)
insnfuzz_c1_g5:
	/* xchg */
	xchgw %r13w, 0x2fff(%rbx)
insnfuzz_c1_g6:
	/* xchg */
	xchgw %r14w, 0x2ed4(%rbx)
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
