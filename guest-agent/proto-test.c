/* Checks proto.c against vectors.txt, the byte vectors the host's unit test checks too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "proto.h"

static char vec[32][2][512];
static int nvec, failures;

static const char *want(const char *name)
{
	for (int i = 0; i < nvec; i++)
		if (!strcmp(vec[i][0], name))
			return vec[i][1];
	return "";
}

static void check_frame(const char *name, struct buf *b)
{
	char hex[1024] = "";
	for (size_t i = 0; i < b->len && i < 500; i++)
		sprintf(hex + 2 * i, "%02x", b->p[i]);
	if (strcmp(hex, want(name))) {
		printf("FAIL %s: got %s want %s\n", name, hex, want(name));
		failures++;
	}
	buf_reset(b);
}

static struct reader read_vector(const char *name, uint8_t *bytes, uint8_t *type, uint32_t *id)
{
	const char *h = want(name);
	size_t n = strlen(h) / 2;
	for (size_t i = 0; i < n; i++)
		sscanf(h + 2 * i, "%2hhx", &bytes[i]);
	*type = bytes[4];
	*id = be32(bytes + 5);
	return (struct reader){ .p = bytes + FRAME_HEADER, .len = n - FRAME_HEADER };
}

static void expect(int ok, const char *what)
{
	if (!ok) {
		printf("FAIL %s\n", what);
		failures++;
	}
}

static void guest_frames(void)
{
	struct buf b = { .limit = 4096 };
	struct frame f;
	frame_begin(&f, &b, T_PONG, 0), put_str(&f, PROTO_VERSION), put_str(&f, "vm0"), put_u32(&f, 2);
	frame_end(&f);
	check_frame("pong", &b);
	frame_begin(&f, &b, T_OUTPUT, 7), put_u8(&f, 1), put_bytes(&f, "one\n", 4), frame_end(&f);
	check_frame("output", &b);
	frame_begin(&f, &b, T_EXITED, 7), put_u8(&f, 0), put_u32(&f, 3), frame_end(&f);
	check_frame("exited-code", &b);
	frame_begin(&f, &b, T_EXITED, 8), put_u8(&f, 1), put_u32(&f, 9), frame_end(&f);
	check_frame("exited-signal", &b);
	frame_begin(&f, &b, T_OK, 7), put_u32(&f, 1234), frame_end(&f);
	check_frame("ok-value", &b);
	frame_begin(&f, &b, T_ERROR, 3), put_str(&f, "no"), frame_end(&f);
	check_frame("error", &b);
	frame_begin(&f, &b, T_EXECS, 5), put_u32(&f, 1), put_u32(&f, 7), put_u32(&f, 42), put_u8(&f, 0);
	put_str(&f, "sleep"), frame_end(&f);
	check_frame("execs", &b);
	frame_begin(&f, &b, T_DETACHED, 7), frame_end(&f);
	check_frame("detached", &b);
}

static void host_frames(void)
{
	uint8_t bytes[512], type;
	uint32_t id;
	struct reader r = read_vector("exec", bytes, &type, &id);
	expect(type == T_EXEC && id == 7 && get_u32(&r) == 1, "exec header and flags");
	char *user = get_str(&r), *cwd = get_str(&r);
	expect(user && !strcmp(user, "root") && cwd && !strcmp(cwd, "/"), "exec user and cwd");
	expect(get_u32(&r) == 3, "exec argc");
	const char *argv[] = { "sh", "-c", "echo hi", "A=1" };
	for (int i = 0; i < 4; i++) {
		if (i == 3)
			expect(get_u32(&r) == 1, "exec envc");
		char *s = get_str(&r);
		expect(s && !strcmp(s, argv[i]), "exec argv/env string");
		free(s);
	}
	expect(!r.err && r.off == r.len, "exec payload fully read");
	free(user), free(cwd);
	r = read_vector("signal", bytes, &type, &id);
	expect(type == T_SIGNAL && id == 7 && get_u32(&r) == 2 && !r.err, "signal");
	r = read_vector("file-open", bytes, &type, &id);
	char *path = get_str(&r);
	expect(type == T_FILE_OPEN && id == 9 && path && !strcmp(path, "/tmp/f") && get_u32(&r) == 0640, "file-open");
	free(path);
	r = read_vector("exec-pty-cpus", bytes, &type, &id);
	expect(type == T_EXEC && get_u32(&r) == 6, "exec pty and CPU flags");
	for (int i = 0; i < 2; i++)
		free(get_str(&r));
	for (int n = get_u32(&r); n > 0; n--)
		free(get_str(&r));
	expect(get_u32(&r) == 0, "exec-pty-cpus envc");
	expect(get_u32(&r) == 24 && get_u32(&r) == 80, "exec terminal size");
	expect(get_u32(&r) == 2 && get_u32(&r) == 0 && get_u32(&r) == 3 && r.off == r.len && !r.err, "exec CPUs");
	r = read_vector("attach", bytes, &type, &id);
	expect(type == T_ATTACH && id == 9 && get_u32(&r) == 0x1000007 && !r.err, "attach");
	r = read_vector("resize", bytes, &type, &id);
	expect(type == T_RESIZE && get_u32(&r) == 50 && get_u32(&r) == 132 && !r.err, "resize");
	read_vector("abort", bytes, &type, &id);
	expect(type == T_ABORT && id == 9, "abort");
	struct reader bad = { .p = (const uint8_t *)"\0\0\0\x09zz", .len = 6 };
	expect(get_str(&bad) == NULL && bad.err, "a string longer than its payload is refused");
}

int main(int argc, char **argv)
{
	FILE *f = fopen(argc > 1 ? argv[1] : "vectors.txt", "r");
	char line[1200];
	while (f && fgets(line, sizeof(line), f) && nvec < 32)
		if (line[0] != '#' && sscanf(line, "%511s %511s", vec[nvec][0], vec[nvec][1]) == 2)
			nvec++;
	if (!f || nvec < 10) {
		printf("FAIL cannot read the vectors\n");
		return 1;
	}
	fclose(f);
	guest_frames();
	host_frames();
	printf("%s: %d vectors\n", failures ? "FAILED" : "ok", nvec);
	return failures != 0;
}
