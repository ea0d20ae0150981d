/*
 * docker_stream.c - incremental readers for what the Engine API streams:
 * the stdout/stderr multiplexing of logs/attach/exec, and lines (the JSON
 * messages of a build). They take bytes in whatever pieces libcurl hands
 * over and keep at most one line or one header in memory.
 */
#include "tpgrade/docker.h"

#include <string.h>

void tpg_demux_init(tpg_demux *d, int mode, tpg_demux_cb cb, void *ctx)
{
	memset(d, 0, sizeof(*d));
	d->mode = mode;
	d->cb = cb;
	d->ctx = ctx;
}

static bool header_valid(const unsigned char *h)
{
	return h[0] <= 2 && h[1] == 0 && h[2] == 0 && h[3] == 0;
}

int tpg_demux_feed(tpg_demux *d, const char *data, size_t len)
{
	while (len > 0) {
		if (d->bad)
			return TPG_EPROTO;
		if (d->mode == 2) {
			d->cb(d->ctx, 1, data, len);
			return 0;
		}
		if (d->left > 0) {
			size_t n = len < d->left ? len : d->left;
			/* stdin (0) echoes only with a TTY; count it as stdout */
			d->cb(d->ctx, d->stream == 2 ? 2 : 1, data, n);
			d->left -= n;
			data += n;
			len -= n;
			continue;
		}
		size_t n = 8 - d->hdr_len;
		if (n > len)
			n = len;
		memcpy(d->hdr + d->hdr_len, data, n);
		d->hdr_len += n;
		data += n;
		len -= n;
		if (d->mode == 0 && d->hdr_len > 0 &&
		    !header_valid(d->hdr) && (d->hdr_len >= 4 || d->hdr[0] > 2)) {
			/* Not a header: a TTY's raw stream. Replay what we held. */
			d->mode = 2;
			d->cb(d->ctx, 1, (const char *)d->hdr, d->hdr_len);
			d->hdr_len = 0;
			continue;
		}
		if (d->hdr_len < 8)
			continue;
		if (!header_valid(d->hdr)) {
			d->bad = true;
			return TPG_EPROTO;
		}
		d->mode = 1;
		d->stream = d->hdr[0];
		d->left = ((size_t)d->hdr[4] << 24) | ((size_t)d->hdr[5] << 16) |
		          ((size_t)d->hdr[6] << 8) | (size_t)d->hdr[7];
		d->hdr_len = 0;
	}
	return d->bad ? TPG_EPROTO : 0;
}

int tpg_demux_finish(const tpg_demux *d, tpg_err *err)
{
	if (d->bad)
		return tpg_err_set(err, TPG_EPROTO,
		                   "the daemon's output stream has a malformed frame header");
	if (d->mode == 0 && d->hdr_len > 0 && d->hdr_len < 8) {
		/* Too short to tell: it was raw after all. */
		return 0;
	}
	if (d->hdr_len > 0)
		return tpg_err_set(err, TPG_EPROTO,
		                   "the daemon's output stream stopped inside a frame header "
		                   "(%zu of 8 bytes)", d->hdr_len);
	if (d->left > 0)
		return tpg_err_set(err, TPG_EPROTO,
		                   "the daemon's output stream stopped inside a frame "
		                   "(%zu bytes missing)", d->left);
	return 0;
}

void tpg_lines_init(tpg_lines *l, size_t max_line, tpg_lines_cb cb, void *ctx)
{
	memset(l, 0, sizeof(*l));
	l->max_line = max_line ? max_line : (1u << 20);
	l->cb = cb;
	l->ctx = ctx;
}

static int emit(tpg_lines *l)
{
	size_t n = l->pending.len;
	const char *s = tpg_buf_cstr(&l->pending);
	if (n && s[n - 1] == '\r')
		n--;
	int rc = l->cb(l->ctx, s, n);
	tpg_buf_clear(&l->pending);
	return rc;
}

int tpg_lines_feed(tpg_lines *l, const char *data, size_t len)
{
	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t n = nl ? (size_t)(nl - data) : len;
		if (!l->skipping) {
			size_t room = l->max_line - l->pending.len;
			if (n > room) {
				tpg_buf_append(&l->pending, data, room);
				l->skipping = true;
				l->cut++;
			} else {
				tpg_buf_append(&l->pending, data, n);
			}
		}
		data += n;
		len -= n;
		if (nl) {
			data++;
			len--;
			bool cut = l->skipping;
			l->skipping = false;
			int rc = cut ? (tpg_buf_clear(&l->pending), 0) : emit(l);
			if (rc)
				return rc;
		}
	}
	return 0;
}

int tpg_lines_finish(tpg_lines *l)
{
	if (l->pending.len > 0 && !l->skipping)
		return emit(l);
	tpg_buf_clear(&l->pending);
	return 0;
}

void tpg_lines_free(tpg_lines *l)
{
	tpg_buf_free(&l->pending);
}
