/* exec: processes in their own session, output streamed as produced, exit reported after the output. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pty.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "agent.h"

#define OUTPUT_CHUNK 16384
#define DRAIN_GRACE_MS 1000 /* output left open by background children after the command exited */
#define EXEC_STDIN 1u
#define EXEC_PTY 2u
#define EXEC_CPUS 4u
#define MAX_CPUS 1024

struct exec {
	int used;
	uint32_t id;
	uint32_t out_id;  /* the request whose host client gets output and exit: exec or attach; 0 = none */
	pid_t pid;
	int pty;          /* out[0] and out[1] are the terminal's master (stderr is the terminal too) */
	int out[3];       /* stdin (write end), stdout, stderr (read ends); -1 once closed */
	struct buf in;    /* stdin waiting for the pipe */
	int in_eof;       /* host closed stdin: close the pipe once `in` is written */
	int exited, status;
	struct timespec exit_time;
	char *cmd;
};

static struct exec execs[MAX_EXECS];

/* By the exec's own id, or by the attach request that now holds it (stdin, signal, resize, abort). */
static struct exec *find(uint32_t id)
{
	for (int i = 0; i < MAX_EXECS; i++)
		if (execs[i].used && (execs[i].id == id || (id && execs[i].out_id == id)))
			return &execs[i];
	return NULL;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/*
 * The user's ids and home from /etc/passwd, else from the guest's own `getent passwd` (LDAP, sssd).
 * Never through NSS in this process: a static glibc would dlopen the guest's NSS modules of another
 * glibc version.
 */
static int lookup_user(const char *name, struct passwd *out, char **home)
{
	memset(out, 0, sizeof(*out));
	struct passwd *pw = NULL;
	FILE *f = fopen("/etc/passwd", "re");
	while (f && (pw = fgetpwent(f)) && strcmp(pw->pw_name, name))
		;
	if (f)
		fclose(f);
	if (!pw && strchr(name, '\'') == NULL) {
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "getent passwd '%s' 2>/dev/null", name);
		f = popen(cmd, "re");
		pw = f ? fgetpwent(f) : NULL;
		if (pw && strcmp(pw->pw_name, name))
			pw = NULL;
		if (f)
			pclose(f);
	}
	if (!pw)
		return -1;
	*out = *pw;
	out->pw_name = strdup(pw->pw_name); /* the static passwd entry is reused by later lookups */
	*home = strdup(pw->pw_dir && pw->pw_dir[0] ? pw->pw_dir : "/");
	return 0;
}

/* Supplementary groups listing the user in /etc/group (in the child, before setgid). */
static int set_groups(const struct passwd *pw)
{
	gid_t gids[64];
	int n = 0;
	gids[n++] = pw->pw_gid;
	FILE *f = fopen("/etc/group", "re");
	struct group *g;
	while (f && n < 64 && (g = fgetgrent(f)))
		for (char **m = g->gr_mem; m && *m; m++)
			if (!strcmp(*m, pw->pw_name) && g->gr_gid != pw->pw_gid) {
				gids[n++] = g->gr_gid;
				break;
			}
	if (f)
		fclose(f);
	return setgroups(n, gids);
}

/* Takes ownership of `kv`; an entry replaces the one with the same name. Returns the new count. */
static int env_set(char **env, int n, int max, char *kv)
{
	char *eq = kv ? strchr(kv, '=') : NULL;
	if (!eq) {
		free(kv);
		return n;
	}
	for (int j = 0; j < n; j++)
		if (!strncmp(env[j], kv, eq - kv + 1)) {
			free(env[j]);
			env[j] = kv;
			return n;
		}
	if (n >= max - 1) {
		free(kv);
		return n;
	}
	env[n] = kv;
	return n + 1;
}

static char *kv(const char *k, const char *v)
{
	char *s = NULL;
	return asprintf(&s, "%s=%s", k, v) < 0 ? NULL : s;
}

static void build_env(char **env, int max, struct reader *r, uint32_t envc, const struct passwd *pw,
		      const char *home)
{
	int n = 0;
	n = env_set(env, n, max, strdup("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
	n = env_set(env, n, max, kv("HOME", home));
	n = env_set(env, n, max, kv("USER", pw->pw_name));
	n = env_set(env, n, max, kv("LOGNAME", pw->pw_name));
	for (uint32_t i = 0; i < envc && !r->err; i++)
		n = env_set(env, n, max, get_str(r));
	env[n] = NULL;
}

/* What a command gets besides its argv and env. */
struct launch {
	const struct passwd *pw;
	const char *cwd;
	int tty;         /* the terminal's slave, or -1: pipes */
	cpu_set_t *cpus; /* NULL: not pinned */
};

/* In the child: stdin/stdout/stderr from the pipes, or the terminal as controlling tty. */
static int child_stdio(int fds[3][2], int tty)
{
	if (tty < 0)
		return dup2(fds[0][0], 0) < 0 || dup2(fds[1][1], 1) < 0 || dup2(fds[2][1], 2) < 0 ? -1 : 0;
	if (ioctl(tty, TIOCSCTTY, 0) < 0)
		return -1;
	return dup2(tty, 0) < 0 || dup2(tty, 1) < 0 || dup2(tty, 2) < 0 ? -1 : 0;
}

/* In the child: never returns; a failure before execve is written to `errfd` for the parent. */
static void child(int fds[3][2], int errfd, const struct launch *l, char **argv, char **env)
{
	const struct passwd *pw = l->pw;
	const char *stage = "setsid";
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	if (setsid() < 0)
		goto fail;
	stage = l->tty < 0 ? "stdio" : "controlling terminal";
	if (child_stdio(fds, l->tty) < 0)
		goto fail;
	stage = "sched_setaffinity";
	if (l->cpus && sched_setaffinity(0, CPU_ALLOC_SIZE(MAX_CPUS), l->cpus) < 0)
		goto fail;
	stage = "groups";
	if (set_groups(pw) < 0)
		goto fail;
	stage = "setgid";
	if (setgid(pw->pw_gid) < 0)
		goto fail;
	stage = "setuid";
	if (setuid(pw->pw_uid) < 0)
		goto fail;
	stage = l->cwd;
	if (chdir(l->cwd) < 0)
		goto fail;
	stage = argv[0];
	execvpe(argv[0], argv, env);
fail:;
	char msg[512];
	int n = snprintf(msg, sizeof(msg), "%s: %s", stage, strerror(errno));
	if (write(errfd, msg, n) < 0)
		_exit(127);
	_exit(127);
}

static int make_pipes(int fds[3][2])
{
	for (int i = 0; i < 3; i++)
		fds[i][0] = fds[i][1] = -1;
	for (int i = 0; i < 3; i++)
		if (pipe2(fds[i], O_CLOEXEC) < 0)
			return -1;
	return 0;
}

static void close_pipes(int fds[3][2])
{
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 2; j++)
			close_fd(&fds[i][j]);
}

/* fork + exec; returns the pid, or -1 with `err` filled in. */
static pid_t spawn(int fds[3][2], const struct launch *l, char **argv, char **env, char *err, size_t errlen)
{
	int ep[2];
	if (pipe2(ep, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(ep[0]);
		child(fds, ep[1], l, argv, env);
	}
	close(ep[1]);
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(ep[0]);
		return -1;
	}
	ssize_t n;
	while ((n = read(ep[0], err, errlen - 1)) < 0 && errno == EINTR)
		;
	close(ep[0]);
	if (n > 0) { /* the child failed before execve: reap it here, it never ran the command */
		err[n] = 0;
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return -1;
	}
	return pid;
}

static struct exec *free_slot(void)
{
	for (int i = 0; i < MAX_EXECS; i++)
		if (!execs[i].used)
			return &execs[i];
	return NULL;
}

/* The terminal of a pty exec: the slave as fds[0][0] (the child's), the master as the stdin and stdout ends. */
static int make_pty(int fds[3][2], uint32_t rows, uint32_t cols)
{
	struct winsize ws = { .ws_row = rows, .ws_col = cols };
	int m, sl;
	for (int i = 0; i < 3; i++)
		fds[i][0] = fds[i][1] = -1;
	if (openpty(&m, &sl, NULL, NULL, rows && cols ? &ws : NULL) < 0)
		return -1;
	fcntl(m, F_SETFD, FD_CLOEXEC);
	fcntl(sl, F_SETFD, FD_CLOEXEC);
	fds[0][0] = sl, fds[0][1] = m;
	fds[1][0] = fcntl(m, F_DUPFD_CLOEXEC, 0);
	return fds[1][0] < 0 ? -1 : 0;
}

/* The optional fields after env (PROTOCOL.md): terminal size, then the CPUs to pin to. */
static const char *read_extras(struct reader *r, uint32_t flags, uint32_t ws[2], cpu_set_t *cpus)
{
	if (flags & ~(EXEC_STDIN | EXEC_PTY | EXEC_CPUS))
		return "exec: unsupported flags (a newer host?)";
	if (flags & EXEC_PTY)
		ws[0] = get_u32(r), ws[1] = get_u32(r);
	if (!(flags & EXEC_CPUS))
		return r->err ? "exec: bad request" : NULL;
	CPU_ZERO_S(CPU_ALLOC_SIZE(MAX_CPUS), cpus);
	uint32_t n = get_u32(r);
	for (uint32_t i = 0; i < n && !r->err; i++) {
		uint32_t c = get_u32(r);
		if (c >= MAX_CPUS)
			return "exec: CPU number out of range";
		CPU_SET_S(c, CPU_ALLOC_SIZE(MAX_CPUS), cpus);
	}
	return r->err || n == 0 ? "exec: bad request" : NULL;
}

/* Reads the extras, makes the command's stdio, starts it and fills in `e`; or fills in `err`. */
static void start(uint32_t id, struct exec *e, uint32_t flags, struct reader *r, const struct passwd *pw,
		  const char *cwd, char **argv, char **env, char *err, size_t errlen)
{
	uint32_t ws[2] = { 0, 0 };
	cpu_set_t *cpus = CPU_ALLOC(MAX_CPUS);
	int fds[3][2] = { { -1, -1 }, { -1, -1 }, { -1, -1 } };
	const char *bad = cpus ? read_extras(r, flags, ws, cpus) : "exec: out of memory";
	struct launch l = { .pw = pw, .cwd = cwd, .tty = -1, .cpus = (flags & EXEC_CPUS) ? cpus : NULL };
	pid_t pid = -1;
	if (bad)
		snprintf(err, errlen, "%s", bad);
	else if ((flags & EXEC_PTY) ? make_pty(fds, ws[0], ws[1]) : make_pipes(fds))
		snprintf(err, errlen, "%s: %s", (flags & EXEC_PTY) ? "openpty" : "pipe", strerror(errno));
	else {
		l.tty = (flags & EXEC_PTY) ? fds[0][0] : -1;
		pid = spawn(fds, &l, argv, env, err, errlen);
	}
	if (pid > 0) {
		*e = (struct exec){ .used = 1, .id = id, .out_id = id, .pid = pid, .pty = !!(flags & EXEC_PTY),
				    .cmd = strdup(argv[0]), .in = { .limit = STDIN_SOFT * 4 } };
		e->out[0] = fds[0][1], e->out[1] = fds[1][0], e->out[2] = fds[2][0];
		fds[0][1] = fds[1][0] = fds[2][0] = -1;
		for (int i = 0; i < 3; i++)
			if (e->out[i] >= 0)
				fcntl(e->out[i], F_SETFL, O_NONBLOCK);
		if (!(flags & (EXEC_STDIN | EXEC_PTY)))
			close_fd(&e->out[0]);
		send_ok_u32(id, pid);
	}
	close_pipes(fds);
	CPU_FREE(cpus);
}

void exec_start(uint32_t id, struct reader *r)
{
	uint32_t flags = get_u32(r);
	char *user = get_str(r), *cwd = get_str(r), *home = NULL;
	uint32_t argc = get_u32(r);
	char *argv[256] = { 0 }, *env[256] = { 0 }, err[512] = "";
	for (uint32_t i = 0; i < argc && i < 255; i++)
		argv[i] = get_str(r);
	uint32_t envc = get_u32(r);
	struct passwd pw = { 0 };
	struct exec *e = find(id) ? NULL : free_slot();
	if (r->err || argc == 0 || argc > 255 || !argv[0] || !argv[0][0])
		snprintf(err, sizeof(err), "exec: bad request");
	else if (!e)
		snprintf(err, sizeof(err), "exec: id %u in use or too many processes", id);
	else if (lookup_user(user[0] ? user : "root", &pw, &home) < 0)
		snprintf(err, sizeof(err), "exec: unknown user %s", user[0] ? user : "root");
	if (!err[0]) {
		build_env(env, 256, r, envc, &pw, home);
		start(id, e, flags, r, &pw, cwd[0] ? cwd : home, argv, env, err, sizeof(err));
		for (int i = 0; env[i]; i++)
			free(env[i]);
	}
	if (err[0])
		send_error(id, "%s", err);
	for (uint32_t i = 0; i < 255; i++)
		free(argv[i]);
	free(user);
	free(cwd);
	free(home);
	free(pw.pw_name);
}

/* Host stdin: queued, written as the pipe accepts it; an empty chunk closes stdin. */
void exec_stdin(uint32_t id, const uint8_t *p, size_t n)
{
	struct exec *e = find(id);
	if (!e || e->out[0] < 0)
		return; /* the command already closed or never had stdin: drop, like a closed pipe */
	if (n == 0 && e->pty)
		buf_put(&e->in, "\x04", 1); /* a terminal has no end of input: send its EOF character */
	else if (n == 0)
		e->in_eof = 1;
	else if (buf_put(&e->in, p, n) < 0)
		close_fd(&e->out[0]); /* over the hard limit: the host ignored back-pressure */
}

void exec_signal(uint32_t id, uint32_t sig)
{
	struct exec *e = find(id);
	if (!e)
		send_error(id, "signal: no process with id %u", id);
	else if (sig >= NSIG || (kill(-e->pid, sig) < 0 && errno != ESRCH))
		send_error(id, "signal %u: %s", sig, strerror(errno));
	else
		send_ok(id);
}

void exec_list(uint32_t id)
{
	struct frame f;
	uint32_t n = 0;
	for (int i = 0; i < MAX_EXECS; i++)
		n += execs[i].used;
	frame_begin(&f, &tx, T_EXECS, id);
	put_u32(&f, n);
	for (int i = 0; i < MAX_EXECS; i++) {
		if (!execs[i].used)
			continue;
		put_u32(&f, execs[i].id);
		put_u32(&f, execs[i].pid);
		put_u8(&f, execs[i].exited);
		put_str(&f, execs[i].cmd);
	}
	send_frame(&f);
}

void exec_reap(void)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		for (int i = 0; i < MAX_EXECS; i++)
			if (execs[i].used && execs[i].pid == pid) {
				execs[i].exited = 1;
				execs[i].status = status;
				clock_gettime(CLOCK_MONOTONIC, &execs[i].exit_time);
			}
}

static long ms_since(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

/* Exit is reported once stdout/stderr are drained (or the grace passed), so no output follows it. */
static void finish(struct exec *e)
{
	if (!e->exited || ((e->out[1] >= 0 || e->out[2] >= 0) && ms_since(&e->exit_time) < DRAIN_GRACE_MS))
		return;
	struct frame f;
	if (e->out_id) {
		frame_begin(&f, &tx, T_EXITED, e->out_id);
		put_u8(&f, WIFSIGNALED(e->status) ? 1 : 0);
		put_u32(&f, WIFSIGNALED(e->status) ? (uint32_t)WTERMSIG(e->status)
						  : (uint32_t)WEXITSTATUS(e->status));
		send_frame(&f);
	}
	for (int i = 0; i < 3; i++)
		close_fd(&e->out[i]);
	buf_reset(&e->in);
	free(e->cmd);
	memset(e, 0, sizeof(*e));
}

int exec_timeout_ms(void)
{
	int best = -1;
	for (int i = 0; i < MAX_EXECS; i++) {
		struct exec *e = &execs[i];
		if (!e->used)
			continue;
		finish(e);
		if (e->used && e->exited) {
			long left = DRAIN_GRACE_MS - ms_since(&e->exit_time);
			int ms = left < 0 ? 0 : (int)left;
			best = best < 0 || ms < best ? ms : best;
		}
	}
	return best;
}

int exec_stdin_backlog(void)
{
	for (int i = 0; i < MAX_EXECS; i++)
		if (execs[i].used && execs[i].in.len >= STDIN_SOFT)
			return 1;
	return 0;
}

int exec_poll_fds(struct pollfd *fds, void **owners, int max)
{
	int n = 0;
	for (int i = 0; i < MAX_EXECS && n + 3 <= max; i++) {
		struct exec *e = &execs[i];
		if (!e->used)
			continue;
		for (int k = 0; k < 3; k++) {
			if (e->out[k] < 0)
				continue;
			short ev = k == 0 ? ((e->in.len || e->in_eof) ? POLLOUT : 0) : (tx.len < TX_SOFT ? POLLIN : 0);
			if (!ev)
				continue;
			fds[n] = (struct pollfd){ .fd = e->out[k], .events = ev };
			owners[n++] = e;
		}
	}
	return n;
}

static void pump_out(struct exec *e, int k)
{
	uint8_t chunk[OUTPUT_CHUNK];
	ssize_t r = read(e->out[k], chunk, sizeof(chunk));
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		close_fd(&e->out[k]);
		return;
	}
	/* with no host client attached the output is dropped, never buffered without bound */
	if (!e->out_id)
		return;
	struct frame f;
	frame_begin(&f, &tx, T_OUTPUT, e->out_id);
	put_u8(&f, k);
	put_bytes(&f, chunk, r);
	send_frame(&f);
}

static void pump_in(struct exec *e)
{
	if (e->in.len) {
		ssize_t w = write(e->out[0], e->in.p, e->in.len);
		if (w > 0)
			buf_drop(&e->in, w);
		else if (w < 0 && errno != EAGAIN && errno != EINTR) {
			close_fd(&e->out[0]); /* EPIPE: the command closed its stdin */
			return;
		}
	}
	if (!e->in.len && e->in_eof)
		close_fd(&e->out[0]);
}

void exec_poll_done(struct pollfd *fds, void **owners, int n)
{
	for (int i = 0; i < n; i++) {
		struct exec *e = owners[i];
		if (!fds[i].revents)
			continue;
		int k = fds[i].fd == e->out[0] ? 0 : fds[i].fd == e->out[1] ? 1 : 2;
		if (k == 0)
			pump_in(e);
		else
			pump_out(e, k);
	}
}

/* Drops what the host queued for the command's stdin; a pipe is closed, a terminal stays. */
static void drop_stdin(struct exec *e)
{
	buf_reset(&e->in);
	if (!e->pty)
		close_fd(&e->out[0]);
}

/* The host went away: its commands keep running (listexec shows them), their stdin is closed. */
void exec_host_gone(void)
{
	for (int i = 0; i < MAX_EXECS; i++)
		if (execs[i].used)
			drop_stdin(&execs[i]);
}

/* attach: the request's client gets the command's output, exit, stdin and signals from now on. */
void exec_attach(uint32_t id, struct reader *r)
{
	uint32_t target = get_u32(r);
	struct exec *e = NULL;
	for (int i = 0; i < MAX_EXECS && !r->err; i++)
		if (execs[i].used && execs[i].id == target)
			e = &execs[i];
	if (r->err || !target)
		send_error(id, "attach: bad request");
	else if (!e)
		send_error(id, "attach: no command with id %u", target);
	else if (find(id) && find(id) != e)
		send_error(id, "attach: id %u in use", id);
	else {
		if (e->out_id && e->out_id != id) {
			struct frame f;
			frame_begin(&f, &tx, T_DETACHED, e->out_id);
			send_frame(&f);
		}
		e->out_id = id;
		send_ok_u32(id, e->pid);
	}
}

void exec_resize(uint32_t id, struct reader *r)
{
	struct winsize ws = { .ws_row = get_u32(r), .ws_col = get_u32(r) };
	struct exec *e = find(id);
	if (e && e->pty && !r->err && e->out[0] >= 0)
		ioctl(e->out[0], TIOCSWINSZ, &ws); /* the kernel sends SIGWINCH to the terminal's foreground */
}

/* abort: the client holding the command went away; it runs on, detached, its stdin closed. */
int exec_abort(uint32_t id)
{
	struct exec *e = find(id);
	if (!e || e->out_id != id)
		return 0;
	drop_stdin(e);
	e->out_id = 0;
	return 1;
}
