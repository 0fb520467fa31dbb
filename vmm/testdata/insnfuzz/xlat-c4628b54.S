/*
 * crewvm instruction fuzzer reproducer: TestInsnFuzzReproducers (vmm/insnfuzz_test.go)
 * records and replays it on the vCPUs below and wants the replay to match.
 *
 * seed: 1
 * cpus: 2
 * iterations: 3574
 * revoke-deadline: 0s
 * templates: xlat
 * culprit: xlat
 * minimized: yes
 * signature: record: vCPU #: KVM_RUN failed with EFAULT: instruction at #: XLATB [RBX] is not modelled @ xlat
 * error: vCPU 0: KVM_RUN failed with EFAULT: instruction at 0x100102: XLATB [RBX] is not modelled [rip=0x100102 rsp=0x1000000 rflags=0x10046 rax=0xaef8fc52ab960ced rbx=0x101000 rcx=0x26b0f2f5c337080e rdx=0xe9f053f6524af940 rsi=0x2ac9b0de70e3c6b6 rdi=0xa4f9243384528c5a rbp=0xa811a8406aa6a684 r8=0xe7bfd85d58c4ada6 r9=0x8350d5f9deb1bbf2 r10=0x8cc51e54051844da r11=0x98513baaa5575c9a r12=0xb0e25b30eec276e0 r13=0x26bcb1f1cf76435c r14=0xaeb40b82f6dfbb11 r15=0xdf6]
 * at: xlat %ds:(%rbx) (insnfuzz_c0_g0)
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
	movl $3574, %r15d
.Lloop0:
insnfuzz_c0_g0:
	/* xlat */
	movb $237, %al
	xlatb
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
	movabsq $0xdd4511e27b6b1c4e, %rax
	movabsq $0x2a488eaccff08b87, %rcx
	movabsq $0x61d846e03f53c6bf, %rdx
	movabsq $0x94b2db119307883f, %rsi
	movabsq $0xa7f5aec24bb3ce80, %rdi
	movabsq $0xbf942dd57d8aa1cc, %rbp
	movabsq $0xa0b05b486679f4b3, %r8
	movabsq $0x4b617c220d1a171b, %r9
	movabsq $0xfde48340473bdf09, %r10
	movabsq $0xcc24c0b210315e8c, %r11
	movabsq $0x865eebb0b5991975, %r12
	movabsq $0x688b7bd58355d146, %r13
	movabsq $0xbbe0e3503622b2ca, %r14
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
	movl $3574, %r15d
.Lloop1:
insnfuzz_c1_g0:
	/* xlat */
	movb %al, 0x4c(%rbx)
	movb $11, %al
	xlatb
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
