/*
 * git_cred.c - what a fetch (git_worker.c) and a class run's probe
 * (class_probe.c) authenticate with, in one order, so the two cannot ask a
 * server differently: the secrets to scrub, the .netrc entry, and the body
 * of libgit2's credential callback.
 */
#include "tpgrade/git_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

void tpg_git_forget(char *secret)
{
	if (!secret)
		return;
	explicit_bzero(secret, strlen(secret));
	free(secret);
}

static char *netrc_path(const tpg_git_opts *o)
{
	if (o->netrc)
		return o->netrc[0] ? tpg_xstrdup(o->netrc) : NULL;
	const char *env = getenv("NETRC");
	if (env && env[0])
		return tpg_xstrdup(env);
	const char *home = getenv("HOME");
	return home && home[0] ? tpg_xasprintf("%s/.netrc", home) : NULL;
}

void tpg_git_cred_prepare(const tpg_git_opts *o, const tpg_git_url *u, tpg_strv *secrets,
	char **netrc_login, char **netrc_password)
{
	const char *given[] = { o->token, o->password, o->ssh_passphrase, u->password };

	*netrc_login = *netrc_password = NULL;
	for (size_t i = 0; i < TPG_ARRAY_LEN(given); i++)
		if (given[i] && given[i][0])
			tpg_strv_push(secrets, given[i]);
	if (u->kind != TPG_GIT_URL_HTTP)
		return;
	char *path = netrc_path(o);
	if (path && tpg_git_netrc_lookup(path, u->host, netrc_login, netrc_password, NULL) == 0)
		tpg_strv_push(secrets, *netrc_password);
	free(path);
}

/* A redirect may lead elsewhere: our credentials are for one host. */
static bool same_host(const tpg_git_cred *c, const char *url)
{
	tpg_git_url u;
	bool same = true;
	if (!url || !c->url->host)
		return true;
	if (tpg_git_url_parse(url, &u, NULL) == 0) {
		same = !u.host || strcasecmp(u.host, c->url->host) == 0;
		tpg_git_url_clear(&u);
	}
	return same;
}

static int userpass(tpg_git_cred *c, git_credential **out, tpg_err *err)
{
	const tpg_git_opts *o = c->opts;
	const tpg_git_url *u = c->url;
	const char *user = NULL, *pass = NULL;

	if (c->gave_userpass)
		return tpg_err_set(err, TPG_EAUTH,
			"authentication refused by %s for user '%s' (wrong token or password, "
			"or no access to this repository)", u->display, c->user);
	/* Who is named: the option, the URL, .netrc; a token alone gets the
	 * user name forges accept with any token. */
	const char *named = o->username ? o->username : u->user ? u->user : c->netrc_login;
	if (o->token && o->token[0]) {
		user = named ? named : TPG_GIT_TOKEN_USER;
		pass = o->token;
	} else if (o->password) {
		user = named;
		pass = o->password;
	} else if (u->password) {
		user = u->user;
		pass = u->password;
	} else if (c->netrc_password) {
		user = named ? named : TPG_GIT_TOKEN_USER;
		pass = c->netrc_password;
	}
	if (!pass)
		return tpg_err_set(err, TPG_EAUTH,
			"%s requires authentication (the repository is private or does not exist) "
			"and no credentials were given (token, user/password or ~/.netrc)",
			u->display);
	if (!user || !user[0])
		return tpg_err_set(err, TPG_EAUTH,
			"a password was given for %s but no user name", u->display);
	c->gave_userpass = true;
	c->user = user;
	c->plain_http = !u->tls;
	if (git_credential_userpass_plaintext_new(out, user, pass) < 0)
		return tpg_err_set(err, TPG_EAUTH, "cannot build credentials");
	return 0;
}

static int sshkey(tpg_git_cred *c, git_credential **out, const char *user, tpg_err *err)
{
	const tpg_git_opts *o = c->opts;
	const char *display = c->url->display;

	if (o->ssh_key && o->ssh_key[0]) {
		if (c->tried_key)
			return tpg_err_set(err, TPG_EAUTH,
				"ssh authentication refused by %s for user '%s' with key %s",
				display, user, o->ssh_key);
		if (access(o->ssh_key, R_OK) < 0)
			return tpg_err_set(err, TPG_EAUTH, "cannot read the ssh key %s: %s",
				o->ssh_key, strerror(errno));
		c->tried_key = true;
		char *pub = tpg_xasprintf("%s.pub", o->ssh_key);
		int rc = git_credential_ssh_key_new(out, user,
			access(pub, R_OK) == 0 ? pub : NULL, o->ssh_key, o->ssh_passphrase);
		free(pub);
		if (rc < 0)
			return tpg_err_set(err, TPG_EAUTH, "cannot use the ssh key %s", o->ssh_key);
		return 0;
	}
	if (c->tried_agent)
		return tpg_err_set(err, TPG_EAUTH,
			"ssh authentication refused by %s for user '%s' (keys of the ssh agent)",
			display, user);
	const char *sock = getenv("SSH_AUTH_SOCK");
	if (!sock || !sock[0])
		return tpg_err_set(err, TPG_EAUTH,
			"%s needs an ssh key: give one (ssh key option) or start an ssh agent "
			"(SSH_AUTH_SOCK is not set)", display);
	c->tried_agent = true;
	if (git_credential_ssh_key_from_agent(out, user) < 0)
		return tpg_err_set(err, TPG_EAUTH, "cannot use the ssh agent");
	return 0;
}

int tpg_git_cred_acquire(tpg_git_cred *c, git_credential **out, const char *url,
	const char *url_user, unsigned int allowed, tpg_err *err)
{
	const tpg_git_opts *o = c->opts;

	if (++c->calls > 6)
		return tpg_err_set(err, TPG_EAUTH, "authentication refused by %s", c->url->display);
	if (!same_host(c, url))
		return tpg_err_set(err, TPG_EAUTH, "%s redirected to another host that asks for "
			"credentials; not sending them", c->url->display);
	if (allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT)
		return userpass(c, out, err);

	const char *user = url_user && url_user[0] ? url_user
		: o->username ? o->username : "git";
	if (allowed & GIT_CREDENTIAL_SSH_KEY)
		return sshkey(c, out, user, err);
	if (allowed & GIT_CREDENTIAL_USERNAME) {
		if (git_credential_username_new(out, user) < 0)
			return tpg_err_set(err, TPG_EAUTH, "cannot build credentials");
		return 0;
	}
	return tpg_err_set(err, TPG_EAUTH,
		"%s asks for an authentication method tpgrade does not support", c->url->display);
}
