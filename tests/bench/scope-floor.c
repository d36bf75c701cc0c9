/* Benchmark instrument (not a test, not part of jail): the least a launcher can do to run a
 * command under limits from the systemd user manager. No sandbox, no parsing, no checks: one
 * write on the manager's own socket (authentication and StartTransientUnit pipelined, as jail
 * sends them), then wait for the scope's job to end and exec the command in the scope.
 * tests/bench/vm.sh builds it (static) and times it in the test VM beside jail and
 * systemd-run --user --scope, with the same limits: what it takes is what any launcher that
 * runs the command inside the manager's scope cannot go below.
 *
 * Usage: scope-floor MEMORY_BYTES CPU_PERCENT TASKS COMMAND [ARG...]
 * (memory without swap; CPU_PERCENT 0 sets no quota). Exit 125 when the scope is not made. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void die(const char *what) {
	fprintf(stderr, "scope-floor: %s\n", what);
	exit(125);
}

/* A message under construction; offsets count from its start (the body starts 8-aligned). */
struct buf { unsigned char b[4096]; size_t n; };

static void pad(struct buf *w, size_t a) { while (w->n % a) w->b[w->n++] = 0; }
static void put(struct buf *w, const void *p, size_t len) {
	if (w->n + len > sizeof w->b) die("message too long");
	memcpy(w->b + w->n, p, len);
	w->n += len;
}
static void u8(struct buf *w, uint8_t v) { put(w, &v, 1); }
static void u32(struct buf *w, uint32_t v) { pad(w, 4); put(w, &v, 4); }
static void u64(struct buf *w, uint64_t v) { pad(w, 8); put(w, &v, 8); }
static void str(struct buf *w, const char *s) { u32(w, strlen(s)); put(w, s, strlen(s) + 1); }
static void sig(struct buf *w, const char *s) { u8(w, strlen(s)); put(w, s, strlen(s) + 1); }
/* An array: its length is patched in by array_end. */
static size_t array_begin(struct buf *w, size_t align) {
	u32(w, 0);
	size_t at = w->n - 4;
	pad(w, align);
	return at;
}
static void array_end(struct buf *w, size_t at, size_t start) {
	uint32_t len = w->n - start;
	memcpy(w->b + at, &len, 4);
}
static void prop_t(struct buf *w, const char *name, uint64_t v) {
	pad(w, 8);
	str(w, name);
	sig(w, "t");
	u64(w, v);
}
static void header_field(struct buf *w, uint8_t code, const char *type, const char *v) {
	pad(w, 8);
	u8(w, code);
	sig(w, type);
	if (type[0] == 'g') sig(w, v); else str(w, v);
}

/* Reads a string (o, s) at *at of a message, 4-aligned from its start. */
static const char *get_str(const unsigned char *m, size_t end, size_t *at) {
	uint32_t len;
	*at = (*at + 3) & ~(size_t)3;
	if (*at + 4 > end) return NULL;
	memcpy(&len, m + *at, 4);
	if (*at + 4 + len + 1 > end) return NULL;
	const char *s = (const char *)m + *at + 4;
	*at += 4 + len + 1;
	return s;
}

int main(int argc, char **argv) {
	if (argc < 5) die("usage: scope-floor MEMORY_BYTES CPU_PERCENT TASKS COMMAND [ARG...]");
	uint64_t mem = strtoull(argv[1], NULL, 10), cpu = strtoull(argv[2], NULL, 10), tasks = strtoull(argv[3], NULL, 10);
	char unit[64];
	snprintf(unit, sizeof unit, "scope-floor-%d.scope", (int)getpid());

	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *rt = getenv("XDG_RUNTIME_DIR");
	if (!rt) die("XDG_RUNTIME_DIR is not set");
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s/systemd/private", rt);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) die("cannot connect to the manager's socket");

	/* StartTransientUnit(unit, "fail", [PIDs, limits], []) */
	struct buf body = {.n = 0};
	str(&body, unit);
	str(&body, "fail");
	size_t at = array_begin(&body, 8), start = body.n;
	pad(&body, 8);
	str(&body, "PIDs");
	sig(&body, "au");
	size_t pat = array_begin(&body, 4), pstart = body.n;
	u32(&body, (uint32_t)getpid());
	array_end(&body, pat, pstart);
	prop_t(&body, "MemoryMax", mem);
	prop_t(&body, "MemorySwapMax", 0);
	if (cpu) prop_t(&body, "CPUQuotaPerSecUSec", cpu * 10000);
	prop_t(&body, "TasksMax", tasks);
	array_end(&body, at, start);
	at = array_begin(&body, 8);
	array_end(&body, at, body.n);

	struct buf msg = {.n = 0};
	u8(&msg, 'l'); u8(&msg, 1); u8(&msg, 0); u8(&msg, 1);
	u32(&msg, body.n);
	u32(&msg, 1); /* serial */
	size_t fat = array_begin(&msg, 8), fstart = msg.n;
	header_field(&msg, 1, "o", "/org/freedesktop/systemd1");
	header_field(&msg, 2, "s", "org.freedesktop.systemd1.Manager");
	header_field(&msg, 3, "s", "StartTransientUnit");
	header_field(&msg, 6, "s", "org.freedesktop.systemd1");
	header_field(&msg, 8, "g", "ssa(sv)a(sa(sv))");
	array_end(&msg, fat, fstart);
	pad(&msg, 8);
	put(&msg, body.b, body.n);

	char auth[64];
	int alen = snprintf(auth, sizeof auth, "%cAUTH EXTERNAL ", 0);
	char uid[16];
	int ulen = snprintf(uid, sizeof uid, "%u", (unsigned)getuid());
	for (int i = 0; i < ulen; i++) alen += snprintf(auth + alen, sizeof auth - alen, "%02x", uid[i]);
	alen += snprintf(auth + alen, sizeof auth - alen, "\r\nBEGIN\r\n");
	struct buf out = {.n = 0};
	put(&out, auth, alen);
	put(&out, msg.b, msg.n);
	if (write(fd, out.b, out.n) != (ssize_t)out.n) die("cannot write the request");

	/* Read the "OK <guid>" line, then messages, until our unit's JobRemoved. */
	static unsigned char in[1 << 16];
	size_t have = 0, used = 0;
	int authed = 0;
	for (;;) {
		if (!authed) {
			unsigned char *nl = memmem(in, have, "\r\n", 2);
			if (nl) {
				if (have < 2 || memcmp(in, "OK", 2) != 0) die("the manager refused the authentication");
				used = nl + 2 - in;
				authed = 1;
			}
		}
		while (authed && have - used >= 16) {
			unsigned char *m = in + used;
			uint32_t blen, flen;
			memcpy(&blen, m + 4, 4);
			memcpy(&flen, m + 12, 4);
			size_t hend = 16 + flen, bstart = (hend + 7) & ~(size_t)7, total = bstart + blen;
			if (total > sizeof in) die("message too long");
			if (have - used < total) break;
			const char *member = NULL, *error = NULL;
			for (size_t f = 16; f < hend;) {
				f = (f + 7) & ~(size_t)7;
				if (f >= hend) break;
				uint8_t code = m[f], slen = m[f + 1];
				char type = (char)m[f + 2];
				f += 2 + slen + 1;
				if (type == 'g') f += 1 + m[f] + 1;
				else if (type == 'u') f = ((f + 3) & ~(size_t)3) + 4;
				else {
					const char *s = get_str(m, hend, &f);
					if (!s) die("bad header");
					if (code == 3) member = s;
					if (code == 4) error = s;
				}
			}
			if (m[1] == 3) { /* an error: the only call is ours */
				size_t b = bstart;
				const char *text = blen ? get_str(m, total, &b) : NULL;
				fprintf(stderr, "scope-floor: %s: %s\n", error ? error : "error", text ? text : "");
				exit(125);
			}
			if (m[1] == 4 && member && strcmp(member, "JobRemoved") == 0) {
				size_t b = bstart + 4; /* u id, o job, s unit, s result */
				const char *job = get_str(m, total, &b), *u = get_str(m, total, &b), *result = get_str(m, total, &b);
				if (job && u && result && strcmp(u, unit) == 0) {
					if (strcmp(result, "done") != 0) die("the manager's job did not end done");
					close(fd);
					execvp(argv[4], argv + 4);
					die("exec failed");
				}
			}
			used += total;
		}
		memmove(in, in + used, have - used);
		have -= used;
		used = 0;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 30000) <= 0) die("no answer from the manager within 30 s");
		if (have == sizeof in) die("message too long");
		ssize_t r = read(fd, in + have, sizeof in - have);
		if (r <= 0) die("the manager closed the connection");
		have += r;
	}
}
