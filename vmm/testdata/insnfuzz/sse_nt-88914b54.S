/*
 * crewvm instruction fuzzer reproducer: TestInsnFuzzReproducers (vmm/insnfuzz_test.go)
 * records and replays it on the vCPUs below and wants the replay to match.
 *
 * seed: 1
 * cpus: 2
 * iterations: 5173
 * revoke-deadline: 0s
 * templates: sse_nt
 * culprit: sse_nt
 * minimized: yes
 * signature: record: vCPU #: KVM_RUN failed with EFAULT: no operand of the instruction lies in a page the VMM revoked @ sse_nt
 * error: vCPU 1: KVM_RUN failed with EFAULT: no operand of the instruction lies in a page the VMM revoked [rip=0x100218 rsp=0xff0000 rflags=0x10046 rax=0xc41e12f5865fd020 rbx=0x101000 rcx=0xc8e84d49a6606322 rdx=0x9f26715543c2463a rsi=0x9d4c74c16478f4cc rdi=0x10209d rbp=0x727815059855f5f4 r8=0x8223a5d2ad7e92cd r9=0x6e3265fb7a4ff388 r10=0xc94c495d740d4cc4 r11=0x7874197c7845eec8 r12=0x77706345e83770b r13=0x5e5b9259a873717e r14=0x3848b386fd3b3983 r15=0x1435]
 * at: maskmovdqu %xmm9,%xmm8 (insnfuzz_c1_g0)
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
	movabsq $0xc41e12f5865fd020, %rax
	movabsq $0xc8e84d49a6606322, %rcx
	movabsq $0x9f26715543c2463a, %rdx
	movabsq $0x9d4c74c16478f4cc, %rsi
	movabsq $0xc0203c421d735193, %rdi
	movabsq $0x727815059855f5f4, %rbp
	movabsq $0x8223a5d2ad7e92cd, %r8
	movabsq $0x6e3265fb7a4ff388, %r9
	movabsq $0xc94c495d740d4cc4, %r10
	movabsq $0x7874197c7845eec8, %r11
	movabsq $0x77706345e83770b, %r12
	movabsq $0x5e5b9259a873717e, %r13
	movabsq $0x3848b386fd3b3983, %r14
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
	movl $5173, %r15d
.Lloop1:
insnfuzz_c1_g0:
	/* sse_nt */
	leaq 0x109d(%rbx), %rdi
	maskmovdqu %xmm9, %xmm8
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
