#include "proto.h"

#include <stdlib.h>
#include <string.h>

int buf_put(struct buf *b, const void *data, size_t n)
{
	if (b->len + n > b->limit)
		return -1;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n)
			cap *= 2;
		uint8_t *p = realloc(b->p, cap);
		if (!p)
			return -1;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	return 0;
}

void buf_drop(struct buf *b, size_t n)
{
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
}

void buf_reset(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void put_bytes(struct frame *f, const void *p, size_t n)
{
	if (!f->err && buf_put(f->b, p, n) < 0)
		f->err = 1;
}

void put_u8(struct frame *f, uint8_t v)
{
	put_bytes(f, &v, 1);
}

void put_u32(struct frame *f, uint32_t v)
{
	uint8_t b[4] = { v >> 24, v >> 16, v >> 8, v };
	put_bytes(f, b, 4);
}

void put_str(struct frame *f, const char *s)
{
	size_t n = strlen(s);
	put_u32(f, n);
	put_bytes(f, s, n);
}

void frame_begin(struct frame *f, struct buf *b, uint8_t type, uint32_t id)
{
	f->b = b;
	f->start = b->len;
	f->err = 0;
	put_u32(f, 0);
	put_u8(f, type);
	put_u32(f, id);
}

int frame_end(struct frame *f)
{
	size_t n = f->b->len - f->start - 4;
	if (f->err || n > FRAME_MAX) {
		f->b->len = f->start; /* never leave half a frame in the queue */
		return -1;
	}
	uint8_t *p = f->b->p + f->start;
	p[0] = n >> 24;
	p[1] = n >> 16;
	p[2] = n >> 8;
	p[3] = n;
	return 0;
}

uint8_t get_u8(struct reader *r)
{
	if (r->err || r->off + 1 > r->len) {
		r->err = 1;
		return 0;
	}
	return r->p[r->off++];
}

uint32_t get_u32(struct reader *r)
{
	if (r->err || r->off + 4 > r->len) {
		r->err = 1;
		return 0;
	}
	uint32_t v = be32(r->p + r->off);
	r->off += 4;
	return v;
}

char *get_str(struct reader *r)
{
	uint32_t n = get_u32(r);
	if (r->err || n > r->len - r->off || memchr(r->p + r->off, 0, n)) {
		r->err = 1;
		return NULL;
	}
	char *s = malloc(n + 1);
	if (!s) {
		r->err = 1;
		return NULL;
	}
	memcpy(s, r->p + r->off, n);
	s[n] = 0;
	r->off += n;
	return s;
}
