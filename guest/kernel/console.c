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

/*
 * A sink is where formatted text goes: the console line (buf NULL), or a
 * caller's buffer, which keeps the first cap-1 bytes and a NUL.
 */
struct sink {
	char *buf;
	size_t len, cap;
};

static void put(struct sink *o, char c)
{
	if (o->buf) {
		if (o->len + 1 < o->cap)
			o->buf[o->len++] = c;
		return;
	}
	line[line_len++] = c;
	if (c == '\n' || line_len == sizeof(line))
		flush();
}

static void put_str(struct sink *o, const char *s)
{
	if (!s)
		s = "(null)";
	while (*s)
		put(o, *s++);
}

static void put_num(struct sink *o, u64 v, unsigned base, int negative)
{
	char buf[24];
	int i = 0;
	if (negative)
		put(o, '-');
	do {
		buf[i++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (i)
		put(o, buf[--i]);
}

static void format(struct sink *o, const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			put(o, *fmt);
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
			put_num(o, v < 0 ? (u64)-v : (u64)v, 10, v < 0);
			break;
		}
		case 'u':
			put_num(o, is_long ? va_arg(ap, u64) : va_arg(ap, unsigned), 10, 0);
			break;
		case 'x':
			put_num(o, is_long ? va_arg(ap, u64) : va_arg(ap, unsigned), 16, 0);
			break;
		case 'p':
			put_str(o, "0x");
			put_num(o, (u64)va_arg(ap, void *), 16, 0);
			break;
		case 's':
			put_str(o, va_arg(ap, const char *));
			break;
		case 'c':
			put(o, (char)va_arg(ap, int));
			break;
		case '%':
			put(o, '%');
			break;
		case '\0':
			return;
		default:
			put(o, '%');
			put(o, *fmt);
		}
	}
}

void kvprintf(const char *fmt, va_list ap)
{
	struct sink console = {0};
	spin_lock(&console_lock);
	format(&console, fmt, ap);
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

size_t ksnprintf(char *buf, size_t cap, const char *fmt, ...)
{
	struct sink o = {.buf = buf, .cap = cap};
	va_list ap;
	va_start(ap, fmt);
	format(&o, fmt, ap);
	va_end(ap);
	if (cap > 0)
		buf[o.len] = 0;
	return o.len;
}
