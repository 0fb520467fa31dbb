/*
 * crewvm instruction fuzzer reproducer: TestInsnFuzzReproducers (vmm/insnfuzz_test.go)
 * records and replays it on the vCPUs below and wants the replay to match.
 *
 * seed: 2
 * cpus: 2
 * iterations: 496
 * revoke-deadline: 0s
 * templates: bt_reg
 * culprit: bt_reg
 * minimized: yes
 * signature: record: vCPU #: KVM_RUN failed with EFAULT: no operand of the instruction lies in a page the VMM revoked @ bt_reg
 * error: vCPU 1: KVM_RUN failed with EFAULT: no operand of the instruction lies in a page the VMM revoked [rip=0x100218 rsp=0xff0000 rflags=0x10046 rax=0xc306383e34bf1ef7 rbx=0x101000 rcx=0xcd34503e04000167 rdx=0x57260e65a32701a7 rsi=0xffffffffff9b58ec rdi=0x59a438a9d27dcfba rbp=0xc5789d69b85c5b30 r8=0xfaa592cba77326ac r9=0xa87aa58111304114 r10=0xfa2e3900418a60fb r11=0xd1957ec9e71acbf5 r12=0x3244173f0eca7184 r13=0x35ccd7145efe444c r14=0xec6a1b766ad564fc r15=0x1f0]
 * at: btr %rsi,0xca4e6(%rbx) (insnfuzz_c1_g0)
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
	movabsq $0x4d524b12d8a40892, %rax
	movabsq $0x48234f52e9c82952, %rcx
	movabsq $0x4610976759bd426c, %rdx
	movabsq $0xcb28079ed1251f9e, %rsi
	movabsq $0x67f6f4d58320f724, %rdi
	movabsq $0x13a9218b46647f0d, %rbp
	movabsq $0x3a5cd827c6301e9a, %r8
	movabsq $0x3621fa85deef9646, %r9
	movabsq $0xbf6a54923e805b55, %r10
	movabsq $0x5d0c6e71f1592661, %r11
	movabsq $0x1e17c4114e85a816, %r12
	movabsq $0x6dea9e4d94a90181, %r13
	movabsq $0xff8d5b32c7e5a269, %r14
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
	movabsq $0xc306383e34bf1ef7, %rax
	movabsq $0xcd34503e04000167, %rcx
	movabsq $0x57260e65a32701a7, %rdx
	movabsq $0xe4ba024cca06ae8, %rsi
	movabsq $0x59a438a9d27dcfba, %rdi
	movabsq $0xc5789d69b85c5b30, %rbp
	movabsq $0xfaa592cba77326ac, %r8
	movabsq $0xa87aa58111304114, %r9
	movabsq $0xfa2e3900418a60fb, %r10
	movabsq $0xd1957ec9e71acbf5, %r11
	movabsq $0x3244173f0eca7184, %r12
	movabsq $0x35ccd7145efe444c, %r13
	movabsq $0xec6a1b766ad564fc, %r14
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
	movl $496, %r15d
.Lloop1:
insnfuzz_c1_g0:
	/* bt_reg */
	movq $-6596372, %rsi
	btrq %rsi, 0xca4e6(%rbx)
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
