/* Shared state of the guest agent's single-threaded event loop. */
#ifndef PCOCC_AGENT_H
#define PCOCC_AGENT_H
#include <poll.h>
#include <stdint.h>
#include "proto.h"

#define TX_LIMIT (4u << 20)      /* queued frames to the host; child output waits above TX_SOFT */
#define TX_SOFT (1u << 20)
#define STDIN_SOFT (256u << 10)  /* queued stdin of one exec before the agent stops reading the port */
#define MAX_EXECS 64
#define MAX_FILES 8

extern struct buf tx;      /* frames waiting for the port */
extern int host_up;        /* a host is connected: frames are queued, else dropped */

/* Ends a frame begun on `tx`: queued when a host is connected and it fits, else discarded. */
void send_frame(struct frame *f);
void send_ok(uint32_t id);
void send_ok_u32(uint32_t id, uint32_t v);
void send_error(uint32_t id, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* exec.c */
void exec_start(uint32_t id, struct reader *r);
void exec_stdin(uint32_t id, const uint8_t *p, size_t n);
void exec_signal(uint32_t id, uint32_t sig);
void exec_list(uint32_t id);
void exec_reap(void);
int exec_poll_fds(struct pollfd *fds, void **owners, int max);
void exec_poll_done(struct pollfd *fds, void **owners, int n);
int exec_stdin_backlog(void);
int exec_timeout_ms(void);
void exec_host_gone(void);
void exec_attach(uint32_t id, struct reader *r);
void exec_resize(uint32_t id, struct reader *r);
int exec_abort(uint32_t id);

/* files.c */
void file_open(uint32_t id, struct reader *r);
void file_data(uint32_t id, const uint8_t *p, size_t n);
void file_close(uint32_t id);
void files_host_gone(void);
int file_abort(uint32_t id);

/* fsfreeze.c */
void fs_freeze(uint32_t id, uint32_t timeout_s);
void fs_thaw(uint32_t id);
void fs_thaw_all(void);
int fs_timeout_ms(void);

#endif
