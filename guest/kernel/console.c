#include "console.h"
#include "hypercall.h"
#include "string.h"
#include "sync.h"

/* One line buffer guarded by a lock keeps lines of different CPUs whole. */
static struct spinlock console_lock;
static char line[256];
static size_t line_len;

static void flush(void)
{
	if (line_len)
		hc_console(line, line_len);
	line_len = 0;
}

static void put(char c)
{
	line[line_len++] = c;
	if (c == '\n' || line_len == sizeof(line))
		flush();
}

static void put_str(const char *s)
{
	if (!s)
		s = "(null)";
	while (*s)
		put(*s++);
}

static void put_num(u64 v, unsigned base, int negative)
{
	char buf[24];
	int i = 0;
	if (negative)
		put('-');
	do {
		buf[i++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (i)
		put(buf[--i]);
}

static void format(const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			put(*fmt);
			continue;
		}
		int is_long = 0;
		fmt++;
		while (*fmt == 'l') {
			is_long = 1;
			fmt++;
		}
		switch (*fmt) {
		case 'd': {
			s64 v = is_long ? va_arg(ap, s64) : va_arg(ap, int);
			put_num(v < 0 ? (u64)-v : (u64)v, 10, v < 0);
			break;
		}
		case 'u':
			put_num(is_long ? va_arg(ap, u64) : va_arg(ap, unsigned), 10, 0);
			break;
		case 'x':
			put_num(is_long ? va_arg(ap, u64) : va_arg(ap, unsigned), 16, 0);
			break;
		case 'p':
			put_str("0x");
			put_num((u64)va_arg(ap, void *), 16, 0);
			break;
		case 's':
			put_str(va_arg(ap, const char *));
			break;
		case 'c':
			put((char)va_arg(ap, int));
			break;
		case '%':
			put('%');
			break;
		case '\0':
			return;
		default:
			put('%');
			put(*fmt);
		}
	}
}

void kvprintf(const char *fmt, va_list ap)
{
	spin_lock(&console_lock);
	format(fmt, ap);
	flush();
	spin_unlock(&console_lock);
}

void kprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	kvprintf(fmt, ap);
	va_end(ap);
}
