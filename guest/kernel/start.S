	.section .note.GNU-stack, "", @progbits
/* Entry of every CPU: rdi = cpu number, rsi = boot info, rsp = own stack. */
	.section .text.entry, "ax"
	.globl _start
	.type _start, @function
_start:
	andq $-16, %rsp
	call kmain
1:	hlt
	jmp 1b
	.size _start, . - _start
