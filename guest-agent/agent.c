/*
 * pcocc guest agent: serves PROTOCOL.md on a virtio-serial port. One thread, one poll loop; memory is
 * bounded by TX_LIMIT, FRAME_MAX and the fixed exec/file tables.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include "agent.h"

#define DEFAULT_PORT "org.pcocc.agent.0"
#define RECONNECT_CHECK_MS 1000 /* fallback when no SIGIO tells us the host came back */

struct buf tx = { .limit = TX_LIMIT };
int host_up;
static struct buf rx = { .limit = FRAME_MAX + 4 };
static int port = -1;

void logmsg(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("pcocc-agent: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

void send_frame(struct frame *f)
{
	if (!host_up || frame_end(f) < 0)
		f->b->len = f->start;
}

void send_ok(uint32_t id)
{
	struct frame f;
	frame_begin(&f, &tx, T_OK, id);
	send_frame(&f);
}

void send_ok_u32(uint32_t id, uint32_t v)
{
	struct frame f;
	frame_begin(&f, &tx, T_OK, id);
	put_u32(&f, v);
	send_frame(&f);
}

void send_error(uint32_t id, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	struct frame f;
	frame_begin(&f, &tx, T_ERROR, id);
	put_str(&f, msg);
	send_frame(&f);
}

static void pong(uint32_t id)
{
	char host[256] = "";
	gethostname(host, sizeof(host) - 1);
	struct frame f;
	frame_begin(&f, &tx, T_PONG, id);
	put_str(&f, PROTO_VERSION);
	put_str(&f, host);
	put_u32(&f, (uint32_t)sysconf(_SC_NPROCESSORS_ONLN));
	send_frame(&f);
}

static void dispatch(uint8_t type, uint32_t id, const uint8_t *p, size_t n)
{
	struct reader r = { .p = p, .len = n };
	switch (type) {
	case T_PING: pong(id); break;
	case T_EXEC: exec_start(id, &r); break;
	case T_STDIN: exec_stdin(id, p, n); break;
	case T_SIGNAL: {
		uint32_t sig = get_u32(&r);
		if (r.err)
			send_error(id, "signal: bad request");
		else
			exec_signal(id, sig);
		break;
	}
	case T_FILE_OPEN: file_open(id, &r); break;
	case T_FILE_DATA: file_data(id, p, n); break;
	case T_FILE_CLOSE: file_close(id); break;
	case T_FREEZE: fs_freeze(id, n >= 4 ? get_u32(&r) : 0); break;
	case T_THAW: fs_thaw(id); break;
	case T_LISTEXEC: exec_list(id); break;
	case T_ABORT:
		if (!file_abort(id))
			exec_abort(id);
		break;
	case T_ATTACH: exec_attach(id, &r); break;
	case T_RESIZE: exec_resize(id, &r); break;
	default: send_error(id, "unknown request type %u", type);
	}
}

/* Finds /dev/virtio-ports/NAME, or the vportNpM whose sysfs name is NAME (a guest without udev). */
static int open_port(const char *name)
{
	char path[300];
	snprintf(path, sizeof(path), "/dev/virtio-ports/%s", name);
	int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	DIR *d = fd < 0 ? opendir("/sys/class/virtio-ports") : NULL;
	struct dirent *de;
	while (d && fd < 0 && (de = readdir(d))) {
		char file[300], got[128] = "";
		snprintf(file, sizeof(file), "/sys/class/virtio-ports/%s/name", de->d_name);
		FILE *f = fopen(file, "re");
		if (!f)
			continue;
		if (fgets(got, sizeof(got), f))
			got[strcspn(got, "\n")] = 0;
		fclose(f);
		if (!strcmp(got, name)) {
			snprintf(path, sizeof(path), "/dev/%s", de->d_name);
			fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		}
	}
	if (d)
		closedir(d);
	if (fd >= 0) {
		/* virtio_console raises SIGIO when the host side connects or disconnects */
		fcntl(fd, F_SETOWN, getpid());
		fcntl(fd, F_SETFL, O_RDWR | O_NONBLOCK | O_ASYNC);
	}
	return fd;
}

/* The host hung up: forget its half-read frames and queued replies, never leave the guest frozen. */
static void host_gone(void)
{
	if (host_up)
		logmsg("host disconnected");
	host_up = 0;
	rx.len = 0;
	tx.len = 0;
	fs_thaw_all();
	exec_host_gone();
	files_host_gone();
}

static void read_port(void)
{
	uint8_t chunk[65536];
	for (;;) {
		size_t room = rx.limit - rx.len < sizeof(chunk) ? rx.limit - rx.len : sizeof(chunk);
		ssize_t r = room ? read(port, chunk, room) : 0;
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (r <= 0) {
			host_gone();
			return;
		}
		buf_put(&rx, chunk, r);
		while (rx.len >= FRAME_HEADER) {
			uint32_t len = be32(rx.p);
			if (len < FRAME_HEADER - 4 || len > FRAME_MAX) {
				logmsg("bad frame length %u: dropping the connection state", len);
				host_gone();
				return;
			}
			if (rx.len < len + 4)
				break;
			dispatch(rx.p[4], be32(rx.p + 5), rx.p + FRAME_HEADER, len + 4 - FRAME_HEADER);
			buf_drop(&rx, len + 4);
		}
		if (exec_stdin_backlog())
			break; /* back-pressure: leave the rest in the port until the commands read their stdin */
	}
}

static void write_port(void)
{
	while (tx.len) {
		ssize_t w = write(port, tx.p, tx.len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			return;
		if (w < 0) {
			host_gone();
			return;
		}
		buf_drop(&tx, w);
	}
}

static int min_timeout(int a, int b)
{
	return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

static int signals(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGIO);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

/* Returns 0 to go on, 1 when the agent was asked to stop. */
static int handle_signals(int sfd)
{
	struct signalfd_siginfo si;
	while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGCHLD)
			exec_reap();
		else if (si.ssi_signo != SIGIO)
			return 1;
	}
	return 0;
}

static void loop(int sfd)
{
	struct pollfd fds[2 + MAX_EXECS * 3];
	void *owners[MAX_EXECS * 3];
	for (;;) {
		int timeout = min_timeout(exec_timeout_ms(), fs_timeout_ms());
		fds[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		fds[1] = (struct pollfd){ .fd = port, .events = POLLIN };
		if (tx.len)
			fds[1].events |= POLLOUT;
		if (!host_up || exec_stdin_backlog())
			fds[1].events &= ~POLLIN;
		if (!host_up) /* a closed port polls as HUP: wait for SIGIO, with a slow fallback */
			fds[1].fd = -1, timeout = min_timeout(timeout, RECONNECT_CHECK_MS);
		int n = exec_poll_fds(fds + 2, owners, MAX_EXECS * 3);
		if (poll(fds, 2 + n, timeout) < 0 && errno != EINTR)
			return;
		if (fds[0].revents && handle_signals(sfd))
			return;
		if (!host_up) {
			struct pollfd p = { .fd = port, .events = POLLIN };
			if (poll(&p, 1, 0) >= 0 && !(p.revents & POLLHUP)) {
				host_up = 1;
				logmsg("host connected");
				pong(0); /* hello: what the host sent before the port was open was discarded */
			}
		} else if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			read_port();
		}
		if (host_up && tx.len)
			write_port();
		exec_poll_done(fds + 2, owners, n);
	}
}

int main(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : DEFAULT_PORT;
	if (argc > 2 || name[0] == '-') {
		fprintf(stderr, "usage: pcocc-agent [PORT-NAME]  (default %s)\n", DEFAULT_PORT);
		return 2;
	}
	int sfd = signals();
	port = open_port(name);
	if (port < 0 || sfd < 0) {
		logmsg("no virtio-serial port named %s: %s", name, strerror(errno));
		return 1;
	}
	logmsg("serving %s", name);
	loop(sfd);
	fs_thaw_all();
	logmsg("stopped");
	return 0;
}
