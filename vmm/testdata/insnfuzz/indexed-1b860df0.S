/*
 * crewvm instruction fuzzer reproducer: TestInsnFuzzReproducers (vmm/insnfuzz_test.go)
 * records and replays it on the vCPUs below and wants the replay to match.
 *
 * seed: 6
 * cpus: 2
 * iterations: 303
 * revoke-deadline: 1µs
 * templates: indexed
 * culprit: indexed
 * minimized: yes
 * signature: record: vCPU #: KVM_RUN failed with EFAULT: write of #+# is outside RAM @ indexed
 * error: vCPU 0: KVM_RUN failed with EFAULT: write of 0x1001010e6+8 is outside RAM [rip=0x100107 rsp=0x1000000 rflags=0x10046 rax=0x62c34055c4b5e1ed rbx=0x101000 rcx=0x6dfd60382c558dc1 rdx=0xc44b5d9023a53a3a rsi=0xb31422506f6b3ce9 rdi=0x319502e907d21773 rbp=0x2e6398baa2a686b5 r8=0x70 r9=0x2e6a366d83ebc345 r10=0xf676a80e86c7d7cd r11=0x1a4635f55f9f8daf r12=0x8b2d0e2a74b2774 r13=0x6bc0794619f9fe89 r14=0x34d72000eed33994 r15=0x12f]
 * at: add %r14,0xfffffd66(%rbx,%r8,8) (insnfuzz_c0_g0)
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
	movabsq $0x62c34055c4b5e1ed, %rax
	movabsq $0x6dfd60382c558dc1, %rcx
	movabsq $0xc44b5d9023a53a3a, %rdx
	movabsq $0xb31422506f6b3ce9, %rsi
	movabsq $0x319502e907d21773, %rdi
	movabsq $0x2e6398baa2a686b5, %rbp
	movabsq $0x97754a3d2023f64c, %r8
	movabsq $0x2e6a366d83ebc345, %r9
	movabsq $0xf676a80e86c7d7cd, %r10
	movabsq $0x1a4635f55f9f8daf, %r11
	movabsq $0x8b2d0e2a74b2774, %r12
	movabsq $0x6bc0794619f9fe89, %r13
	movabsq $0x34d72000eed33994, %r14
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
.Lloop0:
insnfuzz_c0_g0:
	/* indexed */
	movq $112, %r8
	addq %r14, -666(%rbx,%r8,8)
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
	movabsq $0x3c55149438667b08, %rax
	movabsq $0x40950f6b9f58bc91, %rcx
	movabsq $0x8fc5b47454603c10, %rdx
	movabsq $0xffe2471a00e7ec08, %rsi
	movabsq $0x59ee21f24b168897, %rdi
	movabsq $0xbe2b095205f0a046, %rbp
	movabsq $0x401f49665a32a6cf, %r8
	movabsq $0x4b7a17728a03243b, %r9
	movabsq $0x8145a825f2553c8a, %r10
	movabsq $0xee7edf43543e992f, %r11
	movabsq $0x669e89b2bde8b5e2, %r12
	movabsq $0xc3f5ed0d00139226, %r13
	movabsq $0x29f828ac807cf4a, %r14
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
