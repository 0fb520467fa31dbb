/*
 * crewvm instruction fuzzer reproducer: TestInsnFuzzReproducers (vmm/insnfuzz_test.go)
 * records and replays it on the vCPUs below and wants the replay to match.
 *
 * seed: 13
 * cpus: 2
 * iterations: 10485
 * revoke-deadline: 1µs
 * templates: pushpop
 * culprit: pushpop
 * minimized: yes
 * signature: record: vCPU #: KVM_RUN failed with EFAULT: no operand of the instruction lies in a page the VMM revoked @ pushpop
 * error: vCPU 0: KVM_RUN failed with EFAULT: no operand of the instruction lies in a page the VMM revoked [rip=0x100106 rsp=0xfffff8 rflags=0x10046 rax=0xb698ecb478d17338 rbx=0x101000 rcx=0x3d1eb538444514 rdx=0xb083937464eee0e rsi=0x3cb64829baf48b87 rdi=0x8fd797eb1ccf6425 rbp=0x68d19bdd934a9b49 r8=0x5c8e7b217125ad17 r9=0x5925671696d4bdb9 r10=0x3b7c36f4406bf57f r11=0x954b99c1742c7a9e r12=0x5a399baf327c1833 r13=0xc45e91e41b1d46c9 r14=0x6fa54ae983c17b8c r15=0x28f5]
 * at: popq 0x2ffc(%rbx) (insnfuzz_c0_g0)
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
	movabsq $0xb698ecb478d17338, %rax
	movabsq $0x3d1eb538444514, %rcx
	movabsq $0xb083937464eee0e, %rdx
	movabsq $0x3cb64829baf48b87, %rsi
	movabsq $0x8fd797eb1ccf6425, %rdi
	movabsq $0x68d19bdd934a9b49, %rbp
	movabsq $0x5c8e7b217125ad17, %r8
	movabsq $0x5925671696d4bdb9, %r9
	movabsq $0x3b7c36f4406bf57f, %r10
	movabsq $0x954b99c1742c7a9e, %r11
	movabsq $0x5a399baf327c1833, %r12
	movabsq $0xc45e91e41b1d46c9, %r13
	movabsq $0x6fa54ae983c17b8c, %r14
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
	movl $10485, %r15d
.Lloop0:
insnfuzz_c0_g0:
	/* pushpop */
	pushq 0x2f9a(%rbx)
	popq 0x2ffc(%rbx)
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
	movabsq $0xfd4d744f6cd26ce1, %rax
	movabsq $0x4c09b53116de3ebd, %rcx
	movabsq $0x9d62b54314d9e4d0, %rdx
	movabsq $0x7d60a503070908ae, %rsi
	movabsq $0x79baa290f924a269, %rdi
	movabsq $0xe0dae8fee9e6fa11, %rbp
	movabsq $0x2c86e46b716d0440, %r8
	movabsq $0x962c012342ba4932, %r9
	movabsq $0x12c33ddd3a189289, %r10
	movabsq $0x10801c837738ac66, %r11
	movabsq $0xc089aa9639f317eb, %r12
	movabsq $0x2cabff963414d541, %r13
	movabsq $0x455d0013381b283b, %r14
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
.Lhalt1:
	hlt
	jmp .Lhalt1
insnfuzz_stub:
	ret
	.bss
	.balign 4096
insnfuzz_shared:
	.skip 0x4000
