/*
 * crewvm instruction fuzzer reproducer: TestInsnFuzzReproducers (vmm/insnfuzz_test.go)
 * records and replays it on the vCPUs below and wants the replay to match.
 *
 * seed: 3
 * cpus: 2
 * iterations: 1820
 * revoke-deadline: 0s
 * templates: rep_down
 * culprit: rep_down
 * minimized: yes
 * signature: replay: replay diverged at log event #: vCPU # (rip=#): the guest faulted on a write of page #, but the log has a crew event @ rep_down
 * error: replay diverged at log event 6: vCPU 0 (rip=0x100142): the guest faulted on a write of page 260, but the log has #6 vcpu=0 crew at=exit:2 page=0x104 access=read state=shared after=[vcpu1@exit:6]
 * at: rep movsq %ds:(%rsi),%es:(%rdi) (insnfuzz_c0_g2)
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
	movabsq $0x526d2cbcbcb0de46, %rax
	movabsq $0xc324ea04be7a722c, %rcx
	movabsq $0x412dc6b3e91bf994, %rdx
	movabsq $0x8d0797fdb7b11e94, %rsi
	movabsq $0x1b8b0d4d00bf678, %rdi
	movabsq $0x3609baf9131025a5, %rbp
	movabsq $0xe68acf9016146629, %r8
	movabsq $0xc4af27a17a027179, %r9
	movabsq $0x266f06802c9d3b5c, %r10
	movabsq $0xb5b567225d54aeaa, %r11
	movabsq $0x445c8daa5311ad2, %r12
	movabsq $0x3bf47b32952ebb69, %r13
	movabsq $0x67baee7bbf52ceca, %r14
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
	movl $1820, %r15d
.Lloop0:
insnfuzz_c0_g0:
	/* rep_down */
	leaq 0x3009(%rbx), %rsi
	leaq 0xf5(%rbx), %rdi
	movl $1, %ecx
	std
	repe cmpsb
	cld
insnfuzz_c0_g1:
	/* rep_down */
	leaq 0x2f09(%rbx), %rsi
	leaq 0x3001(%rbx), %rdi
	movl $7, %ecx
	std
	rep lodsb
	cld
insnfuzz_c0_g2:
	/* rep_down */
	leaq 0x3096(%rbx), %rsi
	leaq 0x3020(%rbx), %rdi
	movl $10, %ecx
	std
	rep movsq
	cld
insnfuzz_c0_g3:
	/* rep_down */
	leaq 0x55(%rbx), %rsi
	leaq 0x2fa9(%rbx), %rdi
	movl $3, %ecx
	std
	repe scasb
	cld
insnfuzz_c0_g4:
	/* rep_down */
	leaq 0x1000(%rbx), %rsi
	leaq 0x3006(%rbx), %rdi
	movl $9, %ecx
	std
	repne cmpsb
	cld
insnfuzz_c0_g5:
	/* rep_down */
	leaq 0x2fff(%rbx), %rsi
	leaq 0x3010(%rbx), %rdi
	movl $18, %ecx
	std
	rep stosb
	cld
insnfuzz_c0_g6:
	/* rep_down */
	leaq 0x2fff(%rbx), %rsi
	leaq 0xd5(%rbx), %rdi
	movl $5, %ecx
	std
	rep stosb
	cld
insnfuzz_c0_g7:
	/* rep_down */
	leaq 0x100f(%rbx), %rsi
	leaq 0x3000(%rbx), %rdi
	movl $22, %ecx
	std
	rep movsb
	cld
insnfuzz_c0_g8:
	/* rep_down */
	leaq 0x3030(%rbx), %rsi
	leaq 0x3007(%rbx), %rdi
	movl $11, %ecx
	std
	rep movsq
	cld
insnfuzz_c0_g9:
	/* rep_down */
	leaq 0x1013(%rbx), %rsi
	leaq 0x1005(%rbx), %rdi
	movl $23, %ecx
	std
	rep lodsb
	cld
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
	movabsq $0x7d3376280a100971, %rax
	movabsq $0x42d4800e59e8efc4, %rcx
	movabsq $0xa63a76ba0d9a68d0, %rdx
	movabsq $0x7d65fb2e3df8f65e, %rsi
	movabsq $0xf55299dfe67a8f12, %rdi
	movabsq $0xee7c3a44ecef87b4, %rbp
	movabsq $0x1ae259e3f604a6e0, %r8
	movabsq $0xab44dec7b6ceb7e6, %r9
	movabsq $0xfeed8176c577ee6d, %r10
	movabsq $0xdfcc165fdfe9b8fc, %r11
	movabsq $0xb4490034cefee18f, %r12
	movabsq $0x67ca9ff6b672511a, %r13
	movabsq $0xeb63ce4a67cd7df5, %r14
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
	movl $1820, %r15d
.Lloop1:
insnfuzz_c1_g0:
	/* rep_down */
	leaq 0x1002(%rbx), %rsi
	leaq 0x2fff(%rbx), %rdi
	movl $8, %ecx
	std
	rep lodsb
	cld
insnfuzz_c1_g1:
	/* rep_down */
	leaq 0x10fb(%rbx), %rsi
	leaq 0x1002(%rbx), %rdi
	movl $5, %ecx
	std
	repe cmpsb
	cld
insnfuzz_c1_g2:
	/* rep_down */
	leaq 0x3009(%rbx), %rsi
	leaq 0x1109(%rbx), %rdi
	movl $13, %ecx
	std
	repe cmpsb
	cld
insnfuzz_c1_g3:
	/* rep_down */
	leaq 0x3005(%rbx), %rsi
	leaq 0x3000(%rbx), %rdi
	movl $7, %ecx
	std
	rep stosb
	cld
insnfuzz_c1_g4:
	/* rep_down */
	leaq 0xfff(%rbx), %rsi
	leaq 0xfff(%rbx), %rdi
	movl $2, %ecx
	std
	rep lodsb
	cld
insnfuzz_c1_g5:
	/* rep_down */
	leaq 0xcd(%rbx), %rsi
	leaq 0x1005(%rbx), %rdi
	movl $22, %ecx
	std
	rep movsb
	cld
insnfuzz_c1_g6:
	/* rep_down */
	leaq 0x3000(%rbx), %rsi
	leaq 0x3006(%rbx), %rdi
	movl $8, %ecx
	std
	rep movsb
	cld
insnfuzz_c1_g7:
	/* rep_down */
	leaq 0x1008(%rbx), %rsi
	leaq 0x1006(%rbx), %rdi
	movl $11, %ecx
	std
	repne scasb
	cld
insnfuzz_c1_g8:
	/* rep_down */
	leaq 0x300c(%rbx), %rsi
	leaq 0x10ab(%rbx), %rdi
	movl $8, %ecx
	std
	rep stosq
	cld
insnfuzz_c1_g9:
	/* rep_down */
	leaq 0x1000(%rbx), %rsi
	leaq 0x6e(%rbx), %rdi
	movl $7, %ecx
	std
	repne cmpsb
	cld
insnfuzz_c1_g10:
	/* rep_down */
	leaq 0x100a(%rbx), %rsi
	leaq 0x30d5(%rbx), %rdi
	movl $18, %ecx
	std
	rep movsb
	cld
insnfuzz_c1_g11:
	/* rep_down */
	leaq 0x303f(%rbx), %rsi
	leaq 0x1039(%rbx), %rdi
	movl $20, %ecx
	std
	rep stosq
	cld
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
