/* The few libc string routines the kernel and gcc need. */
#ifndef STRING_H
#define STRING_H

#include "types.h"

void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
/* parse_u64 parses a decimal number; it returns 0 on success. */
int parse_u64(const char *s, u64 *out);

#endif
