/* Frame encoding of the pcocc guest agent protocol (see PROTOCOL.md). */
#ifndef PCOCC_AGENT_PROTO_H
#define PCOCC_AGENT_PROTO_H
#include <stddef.h>
#include <stdint.h>

#define PROTO_VERSION "pcocc-agent 2"
#define FRAME_HEADER 9            /* u32 length, u8 type, u32 id */
#define FRAME_MAX (1u << 20)      /* largest length field accepted */

enum msg_type {
	/* host -> guest */
	T_PING = 1, T_EXEC = 2, T_STDIN = 3, T_SIGNAL = 4, T_FILE_OPEN = 5, T_FILE_DATA = 6,
	T_FILE_CLOSE = 7, T_FREEZE = 8, T_THAW = 9, T_LISTEXEC = 10, T_ABORT = 11, T_ATTACH = 12,
	T_RESIZE = 13,
	/* guest -> host */
	T_OK = 0x80, T_ERROR = 0x81, T_PONG = 0x82, T_STARTED = 0x83, T_OUTPUT = 0x84,
	T_EXITED = 0x85, T_EXECS = 0x86, T_DETACHED = 0x87,
};

/* A growable byte buffer with a hard limit (bounded memory). */
struct buf {
	uint8_t *p;
	size_t len, cap, limit;
};

int buf_put(struct buf *b, const void *data, size_t n);
void buf_drop(struct buf *b, size_t n);
void buf_reset(struct buf *b);

/* Frame writer: frame_begin, put_*, frame_end (fills in the length). Returns -1 when over the limit. */
struct frame {
	struct buf *b;
	size_t start;
	int err;
};
void frame_begin(struct frame *f, struct buf *b, uint8_t type, uint32_t id);
void put_u8(struct frame *f, uint8_t v);
void put_u32(struct frame *f, uint32_t v);
void put_bytes(struct frame *f, const void *p, size_t n);
void put_str(struct frame *f, const char *s);
int frame_end(struct frame *f);

/* Reader over one frame's payload; errors are sticky (r->err) so callers check once at the end. */
struct reader {
	const uint8_t *p;
	size_t len, off;
	int err;
};
uint8_t get_u8(struct reader *r);
uint32_t get_u32(struct reader *r);
/* A NUL-terminated copy (malloc'd) of a string field; NULL with r->err set on a bad field. */
char *get_str(struct reader *r);
uint32_t be32(const uint8_t *p);

#endif
