/* Fixed-width integer types for the freestanding kernel. */
#ifndef TYPES_H
#define TYPES_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long u64;
typedef signed int s32;
typedef signed long s64;
typedef unsigned long size_t;

#define NULL ((void *)0)
#define CACHE_LINE 64

#endif
