/* FIFREEZE/FITHAW of the guest's block file systems, always undone by a deadline or the agent's exit. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <mntent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include "agent.h"

#define MAX_FROZEN 64
#define DEFAULT_TIMEOUT_S 60
#define MAX_TIMEOUT_S 600

static int frozen[MAX_FROZEN];
static int nfrozen;
static struct timespec deadline;

/* File systems backed by a block device; virtual and read-only ones are never frozen. */
static int freezable(const struct mntent *m)
{
	static const char *const types[] = { "ext2", "ext3", "ext4", "xfs", "btrfs", "f2fs", "vfat", NULL };
	if (hasmntopt(m, "ro"))
		return 0;
	for (int i = 0; types[i]; i++)
		if (!strcmp(m->mnt_type, types[i]))
			return 1;
	return 0;
}

static long ms_until(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long ms = (t->tv_sec - now.tv_sec) * 1000 + (t->tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : ms;
}

int fs_timeout_ms(void)
{
	if (!nfrozen)
		return -1;
	long ms = ms_until(&deadline);
	if (ms == 0) {
		logmsg("freeze deadline passed: thawing");
		fs_thaw_all();
	}
	return (int)ms;
}

void fs_thaw_all(void)
{
	/* reverse of freeze order: parents thaw after the file systems mounted on them */
	while (nfrozen > 0) {
		int fd = frozen[--nfrozen];
		if (ioctl(fd, FITHAW, 0) < 0 && errno != EINVAL)
			logmsg("FITHAW: %s", strerror(errno));
		close(fd);
	}
}

void fs_freeze(uint32_t id, uint32_t timeout_s)
{
	if (nfrozen) {
		send_error(id, "file systems are already frozen");
		return;
	}
	FILE *mounts = setmntent("/proc/self/mounts", "r");
	if (!mounts) {
		send_error(id, "/proc/self/mounts: %s", strerror(errno));
		return;
	}
	char *paths[MAX_FROZEN];
	int n = 0;
	struct mntent *m;
	while ((m = getmntent(mounts)) && n < MAX_FROZEN)
		if (freezable(m))
			paths[n++] = strdup(m->mnt_dir);
	endmntent(mounts);
	/* children first (reverse mount order), so no freeze blocks on a frozen parent */
	int failed = 0;
	for (int i = n - 1; i >= 0; i--) {
		if (!failed && paths[i]) {
			int fd = open(paths[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (fd < 0 || ioctl(fd, FIFREEZE, 0) < 0) {
				if (errno != EOPNOTSUPP) {
					send_error(id, "freeze %s: %s", paths[i], strerror(errno));
					failed = 1;
				}
				if (fd >= 0)
					close(fd);
			} else {
				frozen[nfrozen++] = fd;
			}
		}
		free(paths[i]);
	}
	if (failed) {
		fs_thaw_all();
		return;
	}
	if (timeout_s == 0)
		timeout_s = DEFAULT_TIMEOUT_S;
	if (timeout_s > MAX_TIMEOUT_S)
		timeout_s = MAX_TIMEOUT_S;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_s;
	send_ok_u32(id, nfrozen);
}

void fs_thaw(uint32_t id)
{
	uint32_t n = nfrozen;
	fs_thaw_all();
	send_ok_u32(id, n);
}
