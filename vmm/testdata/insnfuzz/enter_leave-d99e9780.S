/*
 * crewvm instruction fuzzer reproducer: TestInsnFuzzReproducers (vmm/insnfuzz_test.go)
 * records and replays it on the vCPUs below and wants the replay to match.
 *
 * seed: 4
 * cpus: 2
 * iterations: 455
 * revoke-deadline: 0s
 * templates: enter_leave
 * culprit: enter_leave
 * minimized: yes
 * signature: record: vCPU #: KVM_RUN failed with EFAULT: instruction at #: ENTER #, # is not modelled @ enter_leave
 * error: vCPU 0: KVM_RUN failed with EFAULT: instruction at 0x100100: ENTER 0x10, 0x0 is not modelled [rip=0x100100 rsp=0x1000000 rflags=0x10046 rax=0x5f8bd237af1d7dae rbx=0x101000 rcx=0x42517ad5e675d61b rdx=0xef589751b295ec54 rsi=0xb68619f8d3fe68cf rdi=0x5d49c0ce68464fa6 rbp=0xc179bff0a84ecb83 r8=0x3046a2111dc11860 r9=0x1940426b2b871ee7 r10=0x87fe3433e5b1d3d5 r11=0x2f23339d965b045d r12=0x4071cc8c55f3d019 r13=0xecf341c96382e0e8 r14=0x1c3448ac3daa2d3a r15=0x1c7]
 * at: enterq $0x10,$0x0 (insnfuzz_c0_g0)
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
	movabsq $0x5f8bd237af1d7dae, %rax
	movabsq $0x42517ad5e675d61b, %rcx
	movabsq $0xef589751b295ec54, %rdx
	movabsq $0xb68619f8d3fe68cf, %rsi
	movabsq $0x5d49c0ce68464fa6, %rdi
	movabsq $0xc179bff0a84ecb83, %rbp
	movabsq $0x3046a2111dc11860, %r8
	movabsq $0x1940426b2b871ee7, %r9
	movabsq $0x87fe3433e5b1d3d5, %r10
	movabsq $0x2f23339d965b045d, %r11
	movabsq $0x4071cc8c55f3d019, %r12
	movabsq $0xecf341c96382e0e8, %r13
	movabsq $0x1c3448ac3daa2d3a, %r14
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
	movl $455, %r15d
.Lloop0:
insnfuzz_c0_g0:
	/* enter_leave */
	enter $16, $0
	movq %rbp, (%rsp)
	leave
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
	movabsq $0xacf08142bbdf5b75, %rax
	movabsq $0xae9d4dd91fb0540f, %rcx
	movabsq $0xd11d78a74ca48bf8, %rdx
	movabsq $0xaea7d48bd6421975, %rsi
	movabsq $0xf29ec9b8622f15bc, %rdi
	movabsq $0x2a2a1600bc1397d4, %rbp
	movabsq $0xf53693b92d60647d, %r8
	movabsq $0x1b02e099e007cf19, %r9
	movabsq $0xb782956ea72ed25a, %r10
	movabsq $0xfd9ecb825bd3ba74, %r11
	movabsq $0xfee321e0bf876af4, %r12
	movabsq $0x11e34ef53d61940c, %r13
	movabsq $0x1baa7873ed97aac, %r14
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
