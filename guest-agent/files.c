#define _GNU_SOURCE
/* writefile: content in chunks into a temporary file next to the target, renamed into place on close. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "agent.h"

struct wfile {
	int used;
	uint32_t id;
	int fd;
	int err; /* first errno of a write, reported on close */
	char *path, *tmp;
};

static struct wfile files[MAX_FILES];

static struct wfile *find(uint32_t id)
{
	for (int i = 0; i < MAX_FILES; i++)
		if (files[i].used && files[i].id == id)
			return &files[i];
	return NULL;
}

static void release(struct wfile *f, int unlink_tmp)
{
	if (f->fd >= 0)
		close(f->fd);
	if (unlink_tmp)
		unlink(f->tmp);
	free(f->path);
	free(f->tmp);
	memset(f, 0, sizeof(*f));
}

void file_open(uint32_t id, struct reader *r)
{
	char *path = get_str(r);
	uint32_t mode = get_u32(r);
	if (r->err || !path || path[0] != '/') {
		send_error(id, "writefile: bad request (the path must be absolute)");
		free(path);
		return;
	}
	struct wfile *f = NULL;
	for (int i = 0; i < MAX_FILES && !f && !find(id); i++)
		if (!files[i].used)
			f = &files[i];
	if (!f) {
		send_error(id, "writefile %s: too many files open or id in use", path);
		free(path);
		return;
	}
	char *copy = strdup(path);
	size_t n = strlen(path) + 32;
	char *tmp = malloc(n);
	snprintf(tmp, n, "%s/.pcocc-agent-XXXXXX", dirname(copy));
	free(copy);
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		send_error(id, "writefile %s: %s", path, strerror(errno));
		free(path);
		free(tmp);
		return;
	}
	*f = (struct wfile){ .used = 1, .id = id, .fd = fd, .path = path, .tmp = tmp };
	if (fchmod(fd, mode & 07777) < 0)
		f->err = errno;
}

void file_data(uint32_t id, const uint8_t *p, size_t n)
{
	struct wfile *f = find(id);
	if (!f || f->err)
		return;
	while (n > 0) {
		ssize_t w = write(f->fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			f->err = errno;
			return;
		}
		p += w;
		n -= w;
	}
}

void file_close(uint32_t id)
{
	struct wfile *f = find(id);
	if (!f) {
		send_error(id, "writefile: no file open with this id");
		return;
	}
	if (!f->err && fsync(f->fd) < 0)
		f->err = errno;
	if (!f->err && rename(f->tmp, f->path) < 0)
		f->err = errno;
	if (f->err)
		send_error(id, "writefile %s: %s", f->path, strerror(f->err));
	else
		send_ok(id);
	release(f, f->err != 0);
}

void files_host_gone(void)
{
	for (int i = 0; i < MAX_FILES; i++)
		if (files[i].used)
			release(&files[i], 1);
}

/* The host gave up on a writefile (its client went away): the temporary file goes, the target is untouched. */
int file_abort(uint32_t id)
{
	struct wfile *f = find(id);
	if (f)
		release(f, 1);
	return f != NULL;
}
