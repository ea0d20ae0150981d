/* credentials.c - registry credentials from explicit values, DOCKER_AUTH_CONFIG,
 * config.json and docker credential helpers. No secret ever reaches a message. */
#include "tpgrade/credentials.h"
#include "tpgrade/buf.h"
#include "tpgrade/imageref.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define CONFIG_MAX (1024 * 1024)
#define HELPER_OUT_MAX (64 * 1024)
#define HELPER_DEFAULT_MS 10000

void tpg_cred_wipe_free(char *s)
{
	if (!s)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

void tpg_cred_free(tpg_cred *c)
{
	if (!c)
		return;
	tpg_cred_wipe_free(c->username);
	tpg_cred_wipe_free(c->password);
	tpg_cred_wipe_free(c->identity_token);
	free(c->source);
	memset(c, 0, sizeof(*c));
}

static const char b64chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *tpg_cred_base64_encode(const void *data, size_t len)
{
	const unsigned char *in = data;
	char *out = tpg_xmalloc((len + 2) / 3 * 4 + 1);
	size_t o = 0, i = 0;

	for (; i + 2 < len; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64chars[v >> 18 & 63];
		out[o++] = b64chars[v >> 12 & 63];
		out[o++] = b64chars[v >> 6 & 63];
		out[o++] = b64chars[v & 63];
	}
	if (i < len) {
		unsigned v = (unsigned)in[i] << 16 | (i + 1 < len ? (unsigned)in[i + 1] << 8 : 0);
		out[o++] = b64chars[v >> 18 & 63];
		out[o++] = b64chars[v >> 12 & 63];
		out[o++] = i + 1 < len ? b64chars[v >> 6 & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return out;
}

static int b64val(char c)
{
	const char *p = c ? strchr(b64chars, c) : NULL;
	return p ? (int)(p - b64chars) : -1;
}

char *tpg_cred_base64_decode(const char *s, size_t *len_out)
{
	size_t n = strlen(s), o = 0;
	unsigned acc = 0;
	int bits = 0;
	char *out;

	while (n > 0 && s[n - 1] == '=')
		n--;
	if (strlen(s) - n > 2)
		return NULL;
	out = tpg_xmalloc(n / 4 * 3 + 4);
	for (size_t i = 0; i < n; i++) {
		int v = b64val(s[i]);
		if (v < 0) {
			explicit_bzero(out, o);
			free(out);
			return NULL;
		}
		acc = (acc << 6 | (unsigned)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)(acc >> bits & 0xff);
		}
	}
	out[o] = '\0';
	if (len_out)
		*len_out = o;
	explicit_bzero(&acc, sizeof(acc));
	return out;
}

char *tpg_cred_basic_header(const char *user, const char *password)
{
	char *plain = tpg_xasprintf("%s:%s", user ? user : "", password ? password : "");
	char *enc = tpg_cred_base64_encode(plain, strlen(plain));
	char *hdr = tpg_xasprintf("Basic %s", enc);
	tpg_cred_wipe_free(plain);
	tpg_cred_wipe_free(enc);
	return hdr;
}

/* --- credential helpers ------------------------------------------------- */

static bool valid_helper_name(const char *h)
{
	if (!h || !*h || strlen(h) > 100)
		return false;
	for (; *h; h++)
		if (!(isalnum((unsigned char)*h) || *h == '-' || *h == '_' || *h == '.'))
			return false;
	return true;
}

/* Writes to a pipe whose reader may be gone, without dying of SIGPIPE. */
static ssize_t write_nosigpipe(int fd, const char *data, size_t len)
{
	sigset_t pipe_set, old_mask, pending;
	bool was_pending;
	ssize_t n;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);
	do
		n = write(fd, data, len);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EPIPE && !was_pending) {
		struct timespec zero = {0, 0};
		int saved = errno;
		while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
			;
		errno = saved;
	}
	pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
	return n;
}

static int parse_helper_output(const char *prog, const char *out, tpg_cred *cred,
			       tpg_err *err)
{
	json_t *root = json_loads(out, JSON_REJECT_DUPLICATES, NULL);
	const char *user, *secret;
	int rc = 0;

	if (!root || !json_is_object(root)) {
		json_decref(root);
		return tpg_err_set(err, TPG_EPROTO, "%s get: its output is not a JSON object", prog);
	}
	user = json_string_value(json_object_get(root, "Username"));
	secret = json_string_value(json_object_get(root, "Secret"));
	if (!secret || !*secret) {
		rc = tpg_err_set(err, TPG_ENOTFOUND, "%s has no credentials for this server", prog);
	} else if (user && strcmp(user, "<token>") == 0) {
		cred->identity_token = tpg_xstrdup(secret);
	} else {
		cred->username = tpg_xstrdup(user ? user : "");
		cred->password = tpg_xstrdup(secret);
	}
	tpg_cred_wipe_json(root);
	json_decref(root);
	return rc;
}

static int wait_child(pid_t pid, long long deadline, int *status)
{
	for (;;) {
		pid_t w = waitpid(pid, status, WNOHANG);
		if (w == pid)
			return 0;
		if (w < 0 && errno != EINTR)
			return -1;
		if (tpg_now_ms() >= deadline || tpg_interrupted()) {
			kill(pid, SIGKILL);
			while (waitpid(pid, status, 0) < 0 && errno == EINTR)
				;
			return 1;
		}
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

int tpg_cred_run_helper(const char *helper, const char *server_url, long long deadline,
			tpg_cred *out, tpg_err *err)
{
	int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1};
	posix_spawn_file_actions_t fa;
	char prog[128];
	char *argv[3];
	pid_t pid;
	tpg_buf outbuf;
	int rc, status = 0, devnull;
	bool killed = false, too_big = false;

	memset(out, 0, sizeof(*out));
	if (!valid_helper_name(helper))
		return tpg_err_set(err, TPG_EINVAL, "invalid credential helper name \"%.100s\"",
				   helper ? helper : "");
	if (deadline <= 0)
		deadline = tpg_now_ms() + HELPER_DEFAULT_MS;
	snprintf(prog, sizeof(prog), "docker-credential-%s", helper);
	if (pipe2(in_pipe, O_CLOEXEC) < 0 || pipe2(out_pipe, O_CLOEXEC) < 0) {
		rc = tpg_err_errno(err, errno, "cannot run %s: pipe", prog);
		goto close_fds;
	}
	devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in_pipe[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
	/* Its stderr could say anything, secrets included: not kept. */
	if (devnull >= 0)
		posix_spawn_file_actions_adddup2(&fa, devnull, 2);
	argv[0] = prog;
	argv[1] = (char *)"get";
	argv[2] = NULL;
	rc = posix_spawnp(&pid, prog, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (devnull >= 0)
		close(devnull);
	if (rc != 0) {
		if (rc == ENOENT)
			rc = tpg_err_set(err, TPG_ENOTFOUND, "credential helper %s not found in PATH",
					 prog);
		else
			rc = tpg_err_errno(err, rc, "cannot run credential helper %s", prog);
		goto close_fds;
	}
	close(in_pipe[0]);
	in_pipe[0] = -1;
	close(out_pipe[1]);
	out_pipe[1] = -1;

	/* A server URL is far smaller than a pipe buffer: one write. */
	/* A failed write shows in the helper's answer; nothing more to do. */
	(void)write_nosigpipe(in_pipe[1], server_url, strlen(server_url));
	close(in_pipe[1]);
	in_pipe[1] = -1;

	tpg_buf_init_capped(&outbuf, HELPER_OUT_MAX, false);
	for (;;) {
		long long left = deadline - tpg_now_ms();
		struct pollfd pfd = {out_pipe[0], POLLIN, 0};
		char chunk[4096];
		ssize_t n;

		if (left <= 0 || tpg_interrupted()) {
			killed = true;
			break;
		}
		int pr = poll(&pfd, 1, left < 100 ? (int)left : 100);
		if (pr < 0 && errno != EINTR)
			break;
		if (pr <= 0)
			continue;
		n = read(out_pipe[0], chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		tpg_buf_append(&outbuf, chunk, (size_t)n);
		explicit_bzero(chunk, sizeof(chunk));
		if (outbuf.truncated) {
			too_big = true;
			break;
		}
	}
	close(out_pipe[0]);
	out_pipe[0] = -1;
	if (killed || too_big) {
		kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	} else if (wait_child(pid, deadline, &status) != 0) {
		killed = true;
	}

	if (killed && tpg_interrupted())
		rc = tpg_err_set(err, TPG_ECANCELED, "%s get: interrupted", prog);
	else if (killed)
		rc = tpg_err_set(err, TPG_ETIMEOUT, "%s get: no answer in time (killed)", prog);
	else if (too_big)
		rc = tpg_err_set(err, TPG_ETOOBIG, "%s get: output larger than %d bytes", prog,
				 HELPER_OUT_MAX);
	else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		/* The protocol puts the error on stdout; only this one is safe to
		 * recognise, the rest is not repeated. */
		if (strstr(tpg_buf_cstr(&outbuf), "credentials not found"))
			rc = tpg_err_set(err, TPG_ENOTFOUND, "%s has no credentials for %s", prog,
					 server_url);
		else if (WIFEXITED(status))
			rc = tpg_err_set(err, TPG_EIO, "%s get failed (exit status %d)", prog,
					 WEXITSTATUS(status));
		else
			rc = tpg_err_set(err, TPG_EIO, "%s get died (signal %d)", prog,
					 WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	} else {
		rc = parse_helper_output(prog, tpg_buf_cstr(&outbuf), out, err);
		if (rc == 0)
			out->source = tpg_xstrdup(prog);
	}
	if (outbuf.data)
		explicit_bzero(outbuf.data, outbuf.len);
	tpg_buf_free(&outbuf);
	if (rc != 0)
		tpg_cred_free(out);
	return rc;

close_fds:
	for (int i = 0; i < 2; i++) {
		if (in_pipe[i] >= 0)
			close(in_pipe[i]);
		if (out_pipe[i] >= 0)
			close(out_pipe[i]);
	}
	return rc;
}

/* --- config.json ---------------------------------------------------------- */

/* docker's ConvertToHostname: drop the scheme, then everything from "/". */
static char *key_hostname(const char *k)
{
	if (strncmp(k, "http://", 7) == 0)
		k += 7;
	else if (strncmp(k, "https://", 8) == 0)
		k += 8;
	return tpg_xstrndup(k, strcspn(k, "/"));
}

static json_t *find_auth_entry(json_t *auths, const char *key)
{
	const char *k;
	json_t *v;
	json_t *e = json_object_get(auths, key);

	if (e)
		return e;
	json_object_foreach(auths, k, v) {
		char *h = key_hostname(k);
		bool match = strcmp(h, key) == 0;
		free(h);
		if (match)
			return v;
	}
	return NULL;
}

void tpg_cred_wipe_json(json_t *j)
{
	const char *k;
	json_t *v;
	size_t i;

	if (json_is_string(j))
		explicit_bzero((char *)json_string_value(j), json_string_length(j));
	else if (json_is_object(j))
		json_object_foreach(j, k, v)
			tpg_cred_wipe_json(v);
	else if (json_is_array(j))
		json_array_foreach(j, i, v)
			tpg_cred_wipe_json(v);
}

static int from_auth_entry(json_t *e, const char *label, tpg_cred *out, tpg_err *err)
{
	const char *auth = json_string_value(json_object_get(e, "auth"));
	const char *user = json_string_value(json_object_get(e, "username"));
	const char *pass = json_string_value(json_object_get(e, "password"));
	const char *idt = json_string_value(json_object_get(e, "identitytoken"));

	if (!json_is_object(e))
		return tpg_err_set(err, TPG_EPARSE, "%s: an auths entry is not an object", label);
	if (auth && *auth) {
		size_t n;
		char *plain = tpg_cred_base64_decode(auth, &n);
		char *colon = plain ? memchr(plain, ':', n) : NULL;
		if (!colon) {
			tpg_cred_wipe_free(plain);
			return tpg_err_set(err, TPG_EPARSE, "%s: the \"auth\" field is not base64 "
					   "of user:password", label);
		}
		out->username = tpg_xstrndup(plain, (size_t)(colon - plain));
		out->password = tpg_xstrdup(colon + 1);
		explicit_bzero(plain, n);
		free(plain);
	} else if (user && *user && pass && *pass) {
		out->username = tpg_xstrdup(user);
		out->password = tpg_xstrdup(pass);
	}
	if (idt && *idt)
		out->identity_token = tpg_xstrdup(idt);
	if (!out->password && !out->identity_token) {
		tpg_cred_free(out);
		return TPG_ENOTFOUND;
	}
	out->source = tpg_xasprintf("%s (auths)", label);
	return 0;
}

/*
 * One config (file or DOCKER_AUTH_CONFIG): 0 found, TPG_ENOTFOUND, or an
 * error (kept in *first_err while the lookup goes on).
 */
static int from_config(json_t *root, const char *label, const char *key, long long deadline,
		       tpg_cred *out, tpg_err *err)
{
	json_t *helpers = json_object_get(root, "credHelpers");
	const char *helper = NULL;
	int helper_rc = TPG_ENOTFOUND;
	tpg_err herr = {0};

	if (json_is_object(helpers))
		helper = json_string_value(json_object_get(helpers, key));
	if (!helper || !*helper)
		helper = json_string_value(json_object_get(root, "credsStore"));
	if (helper && *helper) {
		helper_rc = tpg_cred_run_helper(helper, key, deadline, out, &herr);
		if (helper_rc == 0) {
			char *src = tpg_xasprintf("%s (%s)", label, out->source);
			free(out->source);
			out->source = src;
			return 0;
		}
		if (helper_rc == TPG_ECANCELED)
			return tpg_err_set(err, helper_rc, "%s", herr.msg);
	}
	json_t *auths = json_object_get(root, "auths");
	if (json_is_object(auths)) {
		json_t *e = find_auth_entry(auths, key);
		if (e) {
			int rc = from_auth_entry(e, label, out, err);
			if (rc != TPG_ENOTFOUND)
				return rc;
		}
	}
	if (helper_rc != TPG_ENOTFOUND)
		return tpg_err_set(err, helper_rc, "%s: %s", label, herr.msg);
	return TPG_ENOTFOUND;
}

static int read_config_file(const char *path, char **text, tpg_err *err)
{
	struct stat st;
	FILE *f = fopen(path, "re");
	tpg_buf b;
	char chunk[4096];
	size_t n;

	*text = NULL;
	if (!f)
		return tpg_err_errno(err, errno, "cannot read %s", path);
	if (fstat(fileno(f), &st) == 0 && !S_ISREG(st.st_mode)) {
		fclose(f);
		return tpg_err_set(err, TPG_EINVAL, "%s is not a regular file", path);
	}
	tpg_buf_init_capped(&b, CONFIG_MAX, false);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		tpg_buf_append(&b, chunk, n);
	explicit_bzero(chunk, sizeof(chunk));
	bool bad = ferror(f);
	fclose(f);
	if (bad || b.truncated) {
		if (b.data)
			explicit_bzero(b.data, b.len);
		tpg_buf_free(&b);
		return bad ? tpg_err_set(err, TPG_EIO, "cannot read %s", path)
			   : tpg_err_set(err, TPG_ETOOBIG, "%s is larger than %d bytes", path,
					 CONFIG_MAX);
	}
	*text = tpg_buf_detach(&b);
	return 0;
}

static int lookup_in_text(const char *text, const char *label, const char *key,
			  long long deadline, tpg_cred *out, tpg_err *err)
{
	json_error_t jerr;
	json_t *root = json_loads(text, 0, &jerr);
	int rc;

	if (!root || !json_is_object(root)) {
		/* jerr.text may quote the text near the error, secrets included. */
		if (root)
			rc = tpg_err_set(err, TPG_EPARSE, "%s: not a JSON object", label);
		else
			rc = tpg_err_set(err, TPG_EPARSE, "%s: invalid JSON at line %d, column %d",
					 label, jerr.line, jerr.column);
		explicit_bzero(&jerr, sizeof(jerr));
		json_decref(root);
		return rc;
	}
	rc = from_config(root, label, key, deadline, out, err);
	tpg_cred_wipe_json(root);
	json_decref(root);
	return rc;
}

int tpg_cred_lookup(const char *domain, const tpg_cred_opts *opts, tpg_cred *out,
		    tpg_err *err)
{
	static const tpg_cred_opts no_opts;
	const char *key = tpg_imageref_config_key(domain);
	const char *dac, *dir;
	char *path = NULL;
	long long deadline;
	tpg_buf looked = TPG_BUF_INIT;
	tpg_err first = {0};
	int rc;

	memset(out, 0, sizeof(*out));
	if (!opts)
		opts = &no_opts;
	if (!domain || !*domain)
		return tpg_err_set(err, TPG_EINVAL, "no registry given for the credential lookup");
	deadline = opts->deadline > 0 ? opts->deadline : tpg_now_ms() + HELPER_DEFAULT_MS;

	if (opts->username && *opts->username && opts->password && *opts->password) {
		out->username = tpg_xstrdup(opts->username);
		out->password = tpg_xstrdup(opts->password);
		out->source = tpg_xstrdup("explicit credentials");
		return 0;
	}
	tpg_buf_puts(&looked, "explicit values");

	dac = opts->docker_auth_config;
	if (!dac && !opts->no_env)
		dac = getenv("DOCKER_AUTH_CONFIG");
	if (dac && *dac) {
		tpg_buf_puts(&looked, ", DOCKER_AUTH_CONFIG");
		rc = lookup_in_text(dac, "DOCKER_AUTH_CONFIG", key, deadline, out, &first);
		if (rc == 0 || rc == TPG_ECANCELED)
			goto done;
	}

	dir = opts->config_dir;
	if (!dir && !opts->no_env) {
		dir = getenv("DOCKER_CONFIG");
		if (dir && *dir) {
			path = tpg_xasprintf("%s/config.json", dir);
		} else {
			const char *home = getenv("HOME");
			if (home && *home)
				path = tpg_xasprintf("%s/.docker/config.json", home);
		}
	} else if (dir) {
		path = tpg_xasprintf("%s/config.json", dir);
	}
	if (path) {
		char *text = NULL;
		tpg_err ferr = {0};
		tpg_buf_printf(&looked, ", %s", path);
		rc = read_config_file(path, &text, &ferr);
		if (rc == TPG_ENOTFOUND) {
			tpg_buf_puts(&looked, " (absent)");
		} else if (rc != 0) {
			if (!first.code)
				first = ferr;
		} else {
			tpg_err cerr = {0};
			rc = lookup_in_text(text, path, key, deadline, out, &cerr);
			tpg_cred_wipe_free(text);
			if (rc == 0 || rc == TPG_ECANCELED) {
				first = cerr;
				goto done;
			}
			if (rc != TPG_ENOTFOUND && !first.code)
				first = cerr;
		}
	}
	if (first.code && first.code != TPG_ENOTFOUND)
		rc = tpg_err_set(err, first.code, "credentials for %s: %s", domain, first.msg);
	else
		rc = tpg_err_set(err, TPG_ENOTFOUND, "no credentials for %s (looked at: %s)",
				 domain, tpg_buf_cstr(&looked));
	free(path);
	tpg_buf_free(&looked);
	return rc;
done:
	if (rc != 0)
		tpg_err_set(err, rc, "%s", first.msg);
	free(path);
	tpg_buf_free(&looked);
	return rc;
}
