/*
 * crewvm instruction fuzzer reproducer: TestInsnFuzzReproducers (vmm/insnfuzz_test.go)
 * records and replays it on the vCPUs below and wants the replay to match.
 *
 * seed: 7
 * cpus: 2
 * iterations: 3449
 * revoke-deadline: 20µs
 * templates: indexed
 * culprit: indexed
 * minimized: yes
 * signature: record: vCPU #: KVM_RUN failed with EFAULT: read of #+# is outside RAM @ indexed
 * error: vCPU 1: KVM_RUN failed with EFAULT: read of 0x100101047+1 is outside RAM [rip=0x100244 rsp=0xff0000 rflags=0x10046 rax=0x8122e36b4bbd6208 rbx=0x101000 rcx=0x4ced55e7d74975ff rdx=0xd59782f8d7acb04 rsi=0x1c9 rdi=0x23ec47b352d1c212 rbp=0x1714f3e2188fba33 r8=0xa57eab8d4dc177fa r9=0x74460854b39ff39d r10=0xbb5fc1b2de4dd86c r11=0x2d4b779f96310ab r12=0xa200beb7440db77c r13=0x761e98320e94e832 r14=0x2ddb1a9e68c5d163 r15=0xd79]
 * at: mov 0xfffff1ff(%rbx,%rsi,8),%r11b (insnfuzz_c1_g0)
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
	movl $3449, %r15d
.Lloop0:
insnfuzz_c0_g0:
	/* indexed */
	movq $343, %rsi
	movw %r13w, 1350(%rbx,%rsi,8)
insnfuzz_c0_g1:
	/* indexed */
	movq $-149, %r13
	lock addw %dx, 12585(%rbx,%r13,2)
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
	movabsq $0x8122e36b4bbd6208, %rax
	movabsq $0x4ced55e7d74975ff, %rcx
	movabsq $0xd59782f8d7acb04, %rdx
	movabsq $0x835b8e1918b6934, %rsi
	movabsq $0x23ec47b352d1c212, %rdi
	movabsq $0x1714f3e2188fba33, %rbp
	movabsq $0xa57eab8d4dc177fa, %r8
	movabsq $0x74460854b39ff39d, %r9
	movabsq $0xbb5fc1b2de4dd86c, %r10
	movabsq $0x2d4b779f96310ab, %r11
	movabsq $0xa200beb7440db77c, %r12
	movabsq $0x761e98320e94e832, %r13
	movabsq $0x2ddb1a9e68c5d163, %r14
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
	movl $3449, %r15d
.Lloop1:
insnfuzz_c1_g0:
	/* indexed */
	movq $457, %rsi
	movb -3585(%rbx,%rsi,8), %r11b
insnfuzz_c1_g1:
	/* indexed */
	movq $-31, %r10
	addw %dx, 4157(%rbx,%r10,2)
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
