#include "string.h"

/* aligned8 says whether p, q and n are all multiples of 8 bytes: then
 * memset and memcpy move words, an eighth of the instructions (and of
 * the steps of a trace-mode replay, which steps each one). */
static int aligned8(const void *p, const void *q, size_t n)
{
	return (((u64)p | (u64)q | n) & 7) == 0;
}

void *memset(void *dst, int c, size_t n)
{
	u8 *d = dst;
	if (aligned8(dst, dst, n)) {
		u64 w = (u8)c * 0x0101010101010101UL;
		for (u64 *q = dst; n; n -= 8)
			*q++ = w;
		return dst;
	}
	while (n--)
		*d++ = (u8)c;
	return dst;
}

void *memcpy(void *dst, const void *src, size_t n)
{
	u8 *d = dst;
	const u8 *s = src;
	if (aligned8(dst, src, n)) {
		u64 *dq = dst;
		const u64 *sq = src;
		for (; n; n -= 8)
			*dq++ = *sq++;
		return dst;
	}
	while (n--)
		*d++ = *s++;
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	u8 *d = dst;
	const u8 *s = src;
	if (d < s)
		return memcpy(dst, src, n);
	while (n--)
		d[n] = s[n];
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const u8 *x = a, *y = b;
	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x < *y ? -1 : 1;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

int strcmp(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return (u8)*a - (u8)*b;
}

int parse_u64(const char *s, u64 *out)
{
	u64 v = 0;
	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (v > (~0UL - 9) / 10)
			return -1;
		v = v * 10 + (u64)(*s - '0');
	}
	*out = v;
	return 0;
}
