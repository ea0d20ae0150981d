/* fakedocker.c - see fakedocker.h. */
#include "fakedocker.h"

#include "tpgrade/buf.h"
#include "tpgrade/common.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define BODY_KEEP (1u << 20)

struct tpgt_fakedocker {
	tpgt_fakedocker_config cfg;
	const tpgt_fakedocker_route *routes;
	size_t n_routes;
	char dir[64];
	char path[128];
	char host[160];
	int lfd;
	int stop_pipe[2];
	pthread_t thread;
	pthread_mutex_t lock;
	tpg_buf log;
	tpg_buf body;
	size_t body_full;
};

static void nap(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
	}
}

static bool stopping(tpgt_fakedocker *f, int fd, int timeout_ms)
{
	struct pollfd p[2] = {{f->stop_pipe[0], POLLIN, 0}, {fd, POLLIN, 0}};
	int n = poll(p, 2, timeout_ms);
	return n > 0 && (p[0].revents & POLLIN);
}

static void send_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		p += n;
		len -= (size_t)n;
	}
}

/* Reads more bytes into b; false at EOF, error or stop. */
static bool read_more(tpgt_fakedocker *f, int fd, tpg_buf *b)
{
	for (;;) {
		if (stopping(f, fd, 100))
			return false;
		char chunk[65536];
		ssize_t n = recv(fd, chunk, sizeof(chunk), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			return false;
		tpg_buf_append(b, chunk, (size_t)n);
		return true;
	}
}

static const char *header_of(const char *head, const char *name)
{
	size_t nl = strlen(name);
	for (const char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
		if (strncasecmp(p + 2, name, nl) == 0 && p[2 + nl] == ':') {
			const char *v = p + 3 + nl;
			while (*v == ' ')
				v++;
			return v;
		}
	}
	return NULL;
}

static void keep_body(tpgt_fakedocker *f, const char *data, size_t n)
{
	pthread_mutex_lock(&f->lock);
	size_t room = f->body.len < BODY_KEEP ? BODY_KEEP - f->body.len : 0;
	tpg_buf_append(&f->body, data, n < room ? n : room);
	f->body_full += n;
	pthread_mutex_unlock(&f->lock);
}

/* Consumes the request body from `in` (which holds what follows the
 * headers); false when the connection ended. */
static bool read_body(tpgt_fakedocker *f, int fd, tpg_buf *in, const char *head)
{
	const char *cl = header_of(head, "Content-Length");
	const char *te = header_of(head, "Transfer-Encoding");
	pthread_mutex_lock(&f->lock);
	bool has_body = cl || te;
	if (has_body) {
		tpg_buf_clear(&f->body);
		f->body_full = 0;
	}
	pthread_mutex_unlock(&f->lock);
	if (cl) {
		size_t want = (size_t)strtoull(cl, NULL, 10);
		while (in->len < want && want - in->len > 0) {
			/* Keep memory flat: hand over what we have. */
			if (in->len > 65536) {
				keep_body(f, in->data, in->len);
				want -= in->len;
				tpg_buf_clear(in);
			}
			if (!read_more(f, fd, in))
				return false;
		}
		if (!in->data)
			return true;
		keep_body(f, in->data, want);
		size_t rest = in->len - want;
		memmove(in->data, in->data + want, rest);
		in->len = rest;
		in->data[rest] = '\0';
		return true;
	}
	if (te && strncasecmp(te, "chunked", 7) == 0) {
		for (;;) {
			char *crlf;
			while (!in->data || !(crlf = strstr(in->data, "\r\n")))
				if (!read_more(f, fd, in))
					return false;
			size_t size = (size_t)strtoull(in->data, NULL, 16);
			size_t hdr = (size_t)(crlf - in->data) + 2;
			while (in->len < hdr + size + 2)
				if (!read_more(f, fd, in))
					return false;
			keep_body(f, in->data + hdr, size);
			size_t used = hdr + size + 2;
			memmove(in->data, in->data + used, in->len - used);
			in->len -= used;
			in->data[in->len] = '\0';
			if (size == 0)
				return true;
		}
	}
	return true;
}

static int vcmp(const char *a, const char *b)
{
	int a1 = 0, a2 = 0, b1 = 0, b2 = 0;
	sscanf(a, "%d.%d", &a1, &a2);
	sscanf(b, "%d.%d", &b1, &b2);
	return a1 != b1 ? (a1 < b1 ? -1 : 1) : (a2 != b2 ? (a2 < b2 ? -1 : 1) : 0);
}

static void answer_simple(int fd, int status, const char *extra, const char *body)
{
	char head[1024];
	int n = snprintf(head, sizeof(head),
	                 "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n%s"
	                 "Content-Length: %zu\r\n\r\n", status, status < 300 ? "OK" : "Error",
	                 extra ? extra : "", strlen(body));
	send_all(fd, head, (size_t)n);
	send_all(fd, body, strlen(body));
}

/* Plays a route; false when the connection is to be closed. */
static bool play(int fd, const tpgt_fakedocker_route *r)
{
	if (r->delay_ms)
		nap(r->delay_ms);
	if (r->garbage) {
		send_all(fd, "SSH-2.0-OpenSSH\r\n\x01\x02\x03", 20);
		return false;
	}
	const char *body = r->body ? r->body : "";
	size_t blen = r->body_len ? r->body_len : strlen(body);
	size_t times = r->repeat ? r->repeat : 1;
	unsigned long long total = (unsigned long long)blen * times;
	int status = r->status ? r->status : 200;
	tpg_buf h = TPG_BUF_INIT;
	tpg_buf_printf(&h, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n%s",
	               status, status < 300 ? "OK" : "Error",
	               r->content_type ? r->content_type : "application/json",
	               r->headers ? r->headers : "");
	if (r->chunked)
		tpg_buf_puts(&h, "Transfer-Encoding: chunked\r\n");
	else if (!r->no_length)
		tpg_buf_printf(&h, "Content-Length: %llu\r\n", total);
	else
		tpg_buf_puts(&h, "Connection: close\r\n");
	tpg_buf_puts(&h, "\r\n");
	send_all(fd, h.data, h.len);
	tpg_buf_free(&h);
	if (r->stall_ms)
		nap(r->stall_ms);

	size_t csize = r->chunk_size ? r->chunk_size : 7;
	long long sent = 0;
	for (size_t t = 0; t < times; t++) {
		size_t off = 0;
		while (off < blen) {
			size_t n = r->chunked ? (blen - off < csize ? blen - off : csize) : blen - off;
			if (r->cut_after > 0 && sent + (long long)n > r->cut_after)
				n = (size_t)(r->cut_after - sent);
			if (r->chunked) {
				char ch[32];
				int k = snprintf(ch, sizeof(ch), "%zx\r\n", n);
				if (n)
					send_all(fd, ch, (size_t)k);
			}
			send_all(fd, body + off, n);
			if (r->chunked && n)
				send_all(fd, "\r\n", 2);
			off += n;
			sent += (long long)n;
			if (r->cut_after > 0 && sent >= r->cut_after)
				return false;
		}
	}
	if (r->chunked)
		send_all(fd, "0\r\n\r\n", 5);
	return !r->no_length;
}

static bool route_matches(const tpgt_fakedocker_route *r, const char *method, const char *path)
{
	if (r->method && strcmp(r->method, method) != 0)
		return false;
	if (!r->path)
		return true;
	size_t n = strlen(r->path);
	if (n && r->path[n - 1] == '*')
		return strncmp(path, r->path, n - 1) == 0;
	return strcmp(path, r->path) == 0;
}

/* Answers one request; false when the connection is to be closed. */
static bool handle(tpgt_fakedocker *f, int fd, const char *method, const char *target)
{
	const char *api_max = f->cfg.api_max ? f->cfg.api_max : "1.41";
	const char *api_min = f->cfg.api_min ? f->cfg.api_min : "1.12";
	char *path = tpg_xstrndup(target, strcspn(target, "?"));
	char *bare = path;
	bool ok = true;

	if (strncmp(path, "/v", 2) == 0 && path[2] >= '0' && path[2] <= '9') {
		const char *slash = strchr(path + 1, '/');
		char *ver = tpg_xstrndup(path + 2, slash ? (size_t)(slash - path - 2) : strlen(path + 2));
		bare = slash ? (char *)slash : path + strlen(path);
		char msg[512];
		if (vcmp(ver, api_min) < 0) {
			snprintf(msg, sizeof(msg),
			         "{\"message\":\"client version %s is too old. Minimum supported API "
			         "version is %s, please upgrade your client to a newer version\"}\n",
			         ver, api_min);
			answer_simple(fd, 400, NULL, msg);
			free(ver);
			goto out;
		}
		if (vcmp(ver, api_max) > 0) {
			snprintf(msg, sizeof(msg),
			         "{\"message\":\"client version %s is too new. Maximum supported API "
			         "version is %s\"}\n", ver, api_max);
			answer_simple(fd, 400, NULL, msg);
			free(ver);
			goto out;
		}
		free(ver);
	}
	for (size_t i = 0; i < f->n_routes; i++) {
		if (route_matches(&f->routes[i], method, bare)) {
			ok = play(fd, &f->routes[i]);
			goto out;
		}
	}
	if (strcmp(bare, "/_ping") == 0) {
		char extra[256] = "";
		if (f->cfg.ping_404) {
			answer_simple(fd, 404, NULL, "{\"message\":\"page not found\"}");
			goto out;
		}
		int k = 0;
		if (!f->cfg.no_api_header)
			k += snprintf(extra + k, sizeof(extra) - (size_t)k, "Api-Version: %s\r\n", api_max);
		if (f->cfg.builder)
			snprintf(extra + k, sizeof(extra) - (size_t)k, "Builder-Version: %s\r\n",
			         f->cfg.builder);
		char head[512];
		int n = snprintf(head, sizeof(head),
		                 "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
		                 "OSType: linux\r\n%sContent-Length: 2\r\n\r\nOK", extra);
		send_all(fd, head, (size_t)n);
		goto out;
	}
	if (strcmp(bare, "/version") == 0) {
		char body[512];
		snprintf(body, sizeof(body),
		         "{\"Version\":\"%s\",\"ApiVersion\":\"%s\",\"MinAPIVersion\":\"%s\","
		         "\"Os\":\"linux\"}\n", f->cfg.version ? f->cfg.version : "20.10.24",
		         api_max, api_min);
		answer_simple(fd, 200, NULL, body);
		goto out;
	}
	answer_simple(fd, 404, NULL, "{\"message\":\"page not found\"}\n");
out:
	free(path);
	return ok;
}

static void serve_conn(tpgt_fakedocker *f, int fd)
{
	tpg_buf in = TPG_BUF_INIT;
	for (;;) {
		char *end;
		while (!in.data || !(end = strstr(in.data, "\r\n\r\n"))) {
			if (in.len > 65536 || !read_more(f, fd, &in))
				goto done;
		}
		size_t hlen = (size_t)(end - in.data) + 4;
		char *head = tpg_xstrndup(in.data, hlen);
		memmove(in.data, in.data + hlen, in.len - hlen);
		in.len -= hlen;
		in.data[in.len] = '\0';
		char method[16] = "", target[4096] = "";
		sscanf(head, "%15s %4095s", method, target);
		pthread_mutex_lock(&f->lock);
		tpg_buf_printf(&f->log, "%s %s\n", method, target);
		pthread_mutex_unlock(&f->lock);
		bool ok = read_body(f, fd, &in, head);
		free(head);
		if (!ok || !handle(f, fd, method, target))
			break;
	}
done:
	tpg_buf_free(&in);
	close(fd);
}

static void *server(void *arg)
{
	tpgt_fakedocker *f = arg;
	for (;;) {
		struct pollfd p[2] = {{f->stop_pipe[0], POLLIN, 0}, {f->lfd, POLLIN, 0}};
		if (poll(p, 2, 200) < 0 && errno != EINTR)
			break;
		if (p[0].revents & POLLIN)
			break;
		if (p[1].revents & POLLIN) {
			int fd = accept(f->lfd, NULL, NULL);
			if (fd >= 0)
				serve_conn(f, fd);
		}
	}
	return NULL;
}

tpgt_fakedocker *tpgt_fakedocker_start(const tpgt_fakedocker_config *cfg,
                                       const tpgt_fakedocker_route *routes, size_t n)
{
	tpgt_fakedocker *f = tpg_xcalloc(1, sizeof(*f));
	if (cfg)
		f->cfg = *cfg;
	f->routes = routes;
	f->n_routes = n;
	snprintf(f->dir, sizeof(f->dir), "/tmp/tpgt-fakedocker-XXXXXX");
	if (!mkdtemp(f->dir))
		abort();
	snprintf(f->path, sizeof(f->path), "%s/docker.sock", f->dir);
	snprintf(f->host, sizeof(f->host), "unix://%s", f->path);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, f->path);
	f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (f->lfd < 0 || bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(f->lfd, 16) < 0 || pipe(f->stop_pipe) < 0)
		abort();
	pthread_mutex_init(&f->lock, NULL);
	if (pthread_create(&f->thread, NULL, server, f) != 0)
		abort();
	return f;
}

const char *tpgt_fakedocker_host(const tpgt_fakedocker *f)
{
	return f->host;
}

char *tpgt_fakedocker_log(tpgt_fakedocker *f)
{
	pthread_mutex_lock(&f->lock);
	char *s = tpg_xstrdup(tpg_buf_cstr(&f->log));
	pthread_mutex_unlock(&f->lock);
	return s;
}

char *tpgt_fakedocker_last_body(tpgt_fakedocker *f, size_t *full_len)
{
	pthread_mutex_lock(&f->lock);
	char *s = tpg_xstrndup(tpg_buf_cstr(&f->body), f->body.len);
	if (full_len)
		*full_len = f->body_full;
	pthread_mutex_unlock(&f->lock);
	return s;
}

void tpgt_fakedocker_stop(tpgt_fakedocker *f)
{
	if (!f)
		return;
	if (write(f->stop_pipe[1], "x", 1) < 0)
		abort();
	pthread_join(f->thread, NULL);
	close(f->lfd);
	close(f->stop_pipe[0]);
	close(f->stop_pipe[1]);
	unlink(f->path);
	rmdir(f->dir);
	pthread_mutex_destroy(&f->lock);
	tpg_buf_free(&f->log);
	tpg_buf_free(&f->body);
	free(f);
}
