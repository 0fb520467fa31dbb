/*
 * crewvm instruction fuzzer reproducer: TestInsnFuzzReproducers (vmm/insnfuzz_test.go)
 * records and replays it on the vCPUs below and wants the replay to match.
 *
 * seed: 7
 * cpus: 2
 * iterations: 30247
 * revoke-deadline: 20µs
 * templates: cmpxchg
 * culprit: cmpxchg
 * minimized: yes
 * signature: replay: replay diverged at log event #: vCPU # (rip=#): the log has a crew event at exit #, but the guest did not ask for it @ cmpxchg
 * error: replay diverged at log event 67: vCPU 0 (rip=0x100100): the log has #67 vcpu=0 crew at=exit:32 page=0x104 access=write state=exclusive at exit 32, but the guest did not ask for it
 * at: lock cmpxchg %r9d,0x2ffe(%rbx) (insnfuzz_c0_g0)
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
	movabsq $0x5dec1dde0c844b16, %rax
	movabsq $0xb150b9891a9e2297, %rcx
	movabsq $0xcf5412c69ac4d8fd, %rdx
	movabsq $0xce04a23aa0a1cb73, %rsi
	movabsq $0x7a5eefb48d711260, %rdi
	movabsq $0x6681f0bdca53bdd0, %rbp
	movabsq $0xbdf8a6d3cca204b3, %r8
	movabsq $0x9fa5a689ee6c5da6, %r9
	movabsq $0xac664add6a2917ec, %r10
	movabsq $0x3e6631046493c7f, %r11
	movabsq $0x7034c3fba4ffacf7, %r12
	movabsq $0xe4e56caa4d20236d, %r13
	movabsq $0xccbe61526d9e56cd, %r14
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
	movl $30247, %r15d
.Lloop0:
insnfuzz_c0_g0:
	/* cmpxchg */
	lock cmpxchgl %r9d, 0x2ffe(%rbx)
insnfuzz_c0_g1:
	/* cmpxchg */
	lock cmpxchgw %r10w, 0xfff(%rbx)
insnfuzz_c0_g2:
	/* cmpxchg */
	cmpxchgb %dil, 0x300b(%rbx)
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
	movabsq $0x1ed9160595aa3022, %rax
	movabsq $0x882b7251bc92a0a1, %rcx
	movabsq $0x2ba594c219ada669, %rdx
	movabsq $0xa20c23309a313b9b, %rsi
	movabsq $0x9a9d8d6f8c2e8b48, %rdi
	movabsq $0xa1c304de93045bc2, %rbp
	movabsq $0xf7948b7c99c8a24c, %r8
	movabsq $0x6b775c4e0a0b600b, %r9
	movabsq $0x4235b9e124ee160, %r10
	movabsq $0x5426179acc3b5533, %r11
	movabsq $0xd19775eaf08307d3, %r12
	movabsq $0x5d21e40be476041a, %r13
	movabsq $0x422f9b5f730e427e, %r14
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
	movl $30247, %r15d
.Lloop1:
insnfuzz_c1_g0:
	/* cmpxchg */
	lock cmpxchgq %rdi, 0x2ffc(%rbx)
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
