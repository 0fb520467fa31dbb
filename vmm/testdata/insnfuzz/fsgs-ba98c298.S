/*
 * crewvm instruction fuzzer reproducer: TestInsnFuzzReproducers (vmm/insnfuzz_test.go)
 * records and replays it on the vCPUs below and wants the replay to match.
 *
 * seed: 1
 * cpus: 2
 * iterations: 303
 * revoke-deadline: 0s
 * templates: fsgs
 * culprit: fsgs
 * minimized: yes
 * signature: record: vCPU #: KVM_RUN failed with EFAULT: instruction at # (instruction): FS-relative operand @ fsgs
 * error: vCPU 1: KVM_RUN failed with EFAULT: instruction at 0x100211 (LOCK ADD [RBX+0xfff], AX): FS-relative operand [rip=0x100211 rsp=0xff0000 rflags=0x10046 rax=0xab2ad3bb671c89eb rbx=0x101000 rcx=0x9a00b3255f2f124e rdx=0xc7e274ebc2af55a8 rsi=0x81d7a246c828bd4e rdi=0xcfcd98ebce5001d rbp=0xc400d82c13347be6 r8=0x6fd6f9773943d424 r9=0xcd5db0bf7a359e0 r10=0x2afee43767330b51 r11=0xc0474d9ae00dca94 r12=0xf4d47d3bd317d309 r13=0xd9062479e08d37db r14=0xa969f8b64487065 r15=0x12f]
 * at: lock add %ax,%fs:0xfff(%rbx) (insnfuzz_c1_g0)
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
	movabsq $0xab2ad3bb671c89eb, %rax
	movabsq $0x9a00b3255f2f124e, %rcx
	movabsq $0xc7e274ebc2af55a8, %rdx
	movabsq $0x81d7a246c828bd4e, %rsi
	movabsq $0xcfcd98ebce5001d, %rdi
	movabsq $0xc400d82c13347be6, %rbp
	movabsq $0x6fd6f9773943d424, %r8
	movabsq $0xcd5db0bf7a359e0, %r9
	movabsq $0x2afee43767330b51, %r10
	movabsq $0xc0474d9ae00dca94, %r11
	movabsq $0xf4d47d3bd317d309, %r12
	movabsq $0xd9062479e08d37db, %r13
	movabsq $0xa969f8b64487065, %r14
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
	movl $303, %r15d
.Lloop1:
insnfuzz_c1_g0:
	/* fsgs */
	lock addw %ax, %fs:0xfff(%rbx)
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
