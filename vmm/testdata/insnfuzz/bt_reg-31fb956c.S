/*
 * crewvm instruction fuzzer reproducer: TestInsnFuzzReproducers (vmm/insnfuzz_test.go)
 * records and replays it on the vCPUs below and wants the replay to match.
 *
 * seed: 1
 * cpus: 2
 * iterations: 5698
 * revoke-deadline: 0s
 * templates: bt_reg
 * culprit: bt_reg
 * minimized: yes
 * signature: record: vCPU #: KVM_RUN failed with EFAULT: write of #+# is outside RAM @ bt_reg
 * error: vCPU 0: KVM_RUN failed with EFAULT: write of 0x100100bae+2 is outside RAM [rip=0x100104 rsp=0x1000000 rflags=0x10046 rax=0xaef8fc52ab960cb2 rbx=0x101000 rcx=0x26b0f2f5c337080e rdx=0xe9f053f6524af940 rsi=0x2ac9b0de70e3c6b6 rdi=0xa4f9243384528c5a rbp=0xa811a8406aa62953 r8=0xe7bfd85d58c4ada6 r9=0x8350d5f9deb1bbf2 r10=0x8cc51e54051844da r11=0x98513baaa5575c9a r12=0xb0e25b30eec276e0 r13=0x26bcb1f1cf76435c r14=0xaeb40b82f6dfbb11 r15=0x1642]
 * at: btr %bp,0xfffffbae(%rbx) (insnfuzz_c0_g0)
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
	movl $5698, %r15d
.Lloop0:
insnfuzz_c0_g0:
	/* bt_reg */
	movw $10579, %bp
	btrw %bp, -0x452(%rbx)
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
	movabsq $0xd9663b00c4bdc086, %rax
	movabsq $0x708720a7ccef267d, %rcx
	movabsq $0x103ba147cf35472b, %rdx
	movabsq $0x684038806c6e439c, %rsi
	movabsq $0xa328dd687ae9b479, %rdi
	movabsq $0xa61f60a4bbac854c, %rbp
	movabsq $0x672e3dbc34e36d6e, %r8
	movabsq $0xd09cc24baa584c6e, %r9
	movabsq $0x3a1f457c754d6009, %r10
	movabsq $0x4ef99393ed373979, %r11
	movabsq $0x4e50a0a89bec567b, %r12
	movabsq $0x8c811dfd59149487, %r13
	movabsq $0x34573c62a2ae746f, %r14
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
