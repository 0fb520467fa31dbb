/* Console output: printf-style, one hypercall per line. */
#ifndef CONSOLE_H
#define CONSOLE_H

#include <stdarg.h>
#include "types.h"

/* kprintf supports %d %u %x %s %c %p and the l modifier. */
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void kvprintf(const char *fmt, va_list ap);

#endif
