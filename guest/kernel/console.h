/* Console output: printf-style, one hypercall per line. */
#ifndef CONSOLE_H
#define CONSOLE_H

#include <stdarg.h>
#include "types.h"

/* kprintf supports %d %u %x %s %c %p and the l modifier. */
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void kvprintf(const char *fmt, va_list ap);
/* ksnprintf formats into buf, keeping at most cap-1 bytes and a NUL (when
 * cap > 0); it returns the length kept. */
size_t ksnprintf(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
