/*
 * crewvm instruction fuzzer reproducer: TestInsnFuzzReproducers (vmm/insnfuzz_test.go)
 * records and replays it on the vCPUs below and wants the replay to match.
 *
 * seed: 8
 * cpus: 2
 * iterations: 6779
 * revoke-deadline: 1µs
 * templates: addr32
 * culprit: addr32
 * minimized: yes
 * signature: replay: replay diverged at log event #: vCPU # (rip=#): the log has a crew event at exit #, but the guest did not ask for it @ addr32
 * error: replay diverged at log event 9: vCPU 0 (rip=0x100109): the log has #9 vcpu=0 crew at=exit:3 page=0x104 access=write state=exclusive at exit 3, but the guest did not ask for it
 * at: lock add %rdi,0x2ffb(%ebx) (insnfuzz_c0_g1)
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
	movabsq $0xaa5e5ec1ff408eb5, %rax
	movabsq $0x925fad9718c05b50, %rcx
	movabsq $0xed27fc608ed36a05, %rdx
	movabsq $0x5e4daf3b57ada703, %rsi
	movabsq $0xfb91d25806aa5463, %rdi
	movabsq $0x25cd1289de5f8e97, %rbp
	movabsq $0x55271228021d0862, %r8
	movabsq $0xba087e81e7328300, %r9
	movabsq $0x2030c6b73a6ab9f3, %r10
	movabsq $0x71364fef43894d85, %r11
	movabsq $0x73dfba5dfe2e61fb, %r12
	movabsq $0x5337cbca45b0505f, %r13
	movabsq $0x69a8acf1c4798973, %r14
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
	movl $6779, %r15d
.Lloop0:
insnfuzz_c0_g0:
	/* addr32 */
	movw %r11w, 0x3103(%ebx)
insnfuzz_c0_g1:
	/* addr32 */
	lock addq %rdi, 0x2ffb(%ebx)
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
	movabsq $0x1a1af142f05b7e35, %rax
	movabsq $0xf6ee5093c0051a3, %rcx
	movabsq $0x2e84cd1dd9a40829, %rdx
	movabsq $0x523f5fb779237040, %rsi
	movabsq $0x5426896bf28802cb, %rdi
	movabsq $0x54f6933d00031e01, %rbp
	movabsq $0xac4cb42724c37521, %r8
	movabsq $0xb9769c9ac423f10d, %r9
	movabsq $0xbf5f0be272431105, %r10
	movabsq $0xc36ecf7a21f5179a, %r11
	movabsq $0x35dc53c9ceeefc4d, %r12
	movabsq $0x794f240cbaf03592, %r13
	movabsq $0xd3307594d207c4c8, %r14
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
	movl $6779, %r15d
.Lloop1:
insnfuzz_c1_g0:
	/* addr32 */
	movb %bpl, 0xf8d(%ebx)
insnfuzz_c1_g1:
	/* addr32 */
	lock addl %ebp, 0xfff(%ebx)
insnfuzz_c1_g2:
	/* addr32 */
	movw 0x100b(%ebx), %r14w
insnfuzz_c1_g3:
	/* addr32 */
	movb 0x100f(%ebx), %dil
insnfuzz_c1_g4:
	/* addr32 */
	lock addw %di, 0x2ff3(%ebx)
insnfuzz_c1_g5:
	/* addr32 */
	movl %r10d, 0xfff(%ebx)
insnfuzz_c1_g6:
	/* addr32 */
	movl %r13d, 0x1011(%ebx)
insnfuzz_c1_g7:
	/* addr32 */
	movb 0x100f(%ebx), %cl
insnfuzz_c1_g8:
	/* addr32 */
	lock addb %r9b, 0x1000(%ebx)
insnfuzz_c1_g9:
	/* addr32 */
	movw %di, 0x300f(%ebx)
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
