/*
 * twofa-bench.c	A RADIUS load client for rlm_twofa: two-round challenge
 *			logins (TOTP codes computed here, or SMS codes read from
 *			the gateway sink's record), one-round PAP logins, or
 *			one-round append-mode logins (the code after the password).
 *
 *		One thread, non-blocking UDP over many source ports, a fixed
 *		number of logins in flight (or a fixed start rate), every
 *		request signed with Message-Authenticator (RFC 3579), every
 *		reply checked (Response Authenticator, Message-Authenticator).
 *		Timeouts and retries are counted and printed, never hidden.
 *
 *		The last line of output is key=value pairs for scripts.
 *		See man/twofa-bench.8.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "twofa.h"
#include "totp.h"
#include "base32.h"
#include "sink_record.h"

/*
 *	RFC 2865 / 3579 numbers.
 */
#define CODE_ACCESS_REQUEST	1
#define CODE_ACCESS_ACCEPT	2
#define CODE_ACCESS_REJECT	3
#define CODE_ACCESS_CHALLENGE	11

#define ATTR_USER_NAME		1
#define ATTR_USER_PASSWORD	2
#define ATTR_NAS_IP_ADDRESS	4
#define ATTR_NAS_PORT		5
#define ATTR_STATE		24
#define ATTR_MESSAGE_AUTH	80

#define RADIUS_HDR_LEN		20
#define RADIUS_MAX_LEN		4096
#define AUTH_LEN		16
#define PASSWORD_MAX		128	//!< RFC 2865 5.2: at most 128 octets once padded
#define STATE_MAX		253
#define SECRET_KEY_MAX		64	//!< bytes of a decoded TOTP secret
#define IDS_PER_SOCKET		256
#define SOCKETS_MAX		1024
#define RECORD_LINE_MAX		65536	//!< one line of the sink's record

typedef enum {
	MODE_PAP = 0,		//!< one Access-Request, Access-Accept expected
	MODE_TWOFA,		//!< password, Access-Challenge, code, Access-Accept
	MODE_APPEND,		//!< password and code in one User-Password, Access-Accept
	MODE_SMS,		//!< password, Access-Challenge, the SMS code from the sink, Access-Accept
} bench_mode_t;

typedef struct {
	char		*name;
	char		*password;
	uint8_t		key[SECRET_KEY_MAX];	//!< decoded TOTP secret
	size_t		key_len;
	int64_t		last_step;		//!< last step whose code we sent, -1 none
	bool		busy;			//!< a login of this user is in flight
	bool		has_code;		//!< --mode sms: code holds the code sent for this login
	char		code[SINK_CODE_MAX + 1];
} bench_user_t;

/*
 *	One login in flight: its request packet (kept for retransmission),
 *	where it went, and when.  Linked in send order, which is deadline
 *	order, since every request has the same timeout.
 */
typedef struct login_s login_t;
struct login_s {
	login_t		*prev, *next;		//!< deadline list
	bench_user_t	*user;
	int		sock;			//!< index into the socket table
	int		id;			//!< RADIUS Identifier on that socket
	int		round;			//!< 1 or 2
	int		tries;			//!< transmissions of this request
	double		start;			//!< login started (or was due to start)
	double		sent;			//!< last transmission of this request
	double		parked;			//!< --mode sms: challenged, waiting for its code since
	size_t		state_len;		//!< the challenge's State, kept while parked
	uint8_t		req_auth[AUTH_LEN];
	uint8_t		packet[RADIUS_MAX_LEN];	//!< (fields from here on are not zeroed per login)
	size_t		packet_len;
	uint8_t		state[STATE_MAX];
};

typedef struct {
	int		fd;
	login_t		*by_id[IDS_PER_SOCKET];
	uint8_t		free_ids[IDS_PER_SOCKET];	//!< FIFO of free Ids: slow reuse
	int		free_head, free_count;
} bench_socket_t;

typedef struct {
	bench_mode_t	mode;
	char const	*server;
	char const	*secret;
	char const	*users_file;
	unsigned long	logins;
	unsigned int	inflight;
	unsigned int	sockets;
	double		rate;			//!< logins started per second, 0 = no limit
	unsigned int	timeout_ms;
	unsigned int	retries;
	bool		pending_only;
	char const	*save_states;		//!< with pending_only: "name hexstate" per challenge, to answer later
	char const	*codes_from;		//!< --mode sms: the HTTP sink's record (JSON lines)
	unsigned int	period;			//!< TOTP step, seconds
	unsigned int	digits;
	unsigned int	window;			//!< steps either side of now the server accepts
	twofa_hash_t	hash;
	bool		quiet;
} bench_config_t;

typedef struct {
	unsigned long	started, completed, accepted, rejected;
	unsigned long	unexpected_challenges;	//!< a challenge where an answer was due
	unsigned long	unexpected_accepts;	//!< an accept where a challenge was due
	unsigned long	challenges;		//!< round-1 challenges received
	unsigned long	no_state;		//!< challenges without a State
	unsigned long	timeouts, retries;
	unsigned long	bad_replies;		//!< failed checks, unknown Id, short packets
	unsigned long	send_errors;
	unsigned long	code_waits;		//!< --mode sms: challenges that came before their code
	uint32_t	*login_us;		//!< per-login latency, microseconds
	unsigned long	login_n;
	uint32_t	*rtt_us;		//!< per-round-trip latency, microseconds
	unsigned long	rtt_n, rtt_max;
} bench_stats_t;

static bench_config_t	cfg = {
	.mode = MODE_TWOFA, .server = "127.0.0.1:1812", .secret = "testing123",
	.logins = 10000, .inflight = 64, .sockets = 16, .timeout_ms = 2000, .retries = 2,
	.period = 30, .digits = 6, .window = 1, .hash = TWOFA_HASH_SHA1,
};
static bench_stats_t	st;
static bench_user_t	*users;
static size_t		n_users;
static bench_socket_t	*socks;
static login_t		*deadline_head, *deadline_tail;
static login_t		*free_logins;
static unsigned int	n_inflight;
static size_t		user_cursor;
static EVP_MD		*md5;
static EVP_MD_CTX	*md5_ctx;
static EVP_MAC_CTX	*hmac_template;	//!< HMAC-MD5 keyed with the shared secret
static volatile sig_atomic_t interrupted;
static bench_user_t	**users_by_name;	//!< --mode sms: users sorted by name, to file the codes read
static login_t		*parked_head, *parked_tail;	//!< --mode sms: challenged, their code not read yet

/* The modes whose codes are TOTP codes: each login needs a fresh time step. */
static bool totp_mode(void)
{
	return (cfg.mode == MODE_TWOFA) || (cfg.mode == MODE_APPEND);
}

static void die(char const *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(char const *fmt, ...)
{
	va_list ap;

	fputs("twofa-bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/*
 *	Crypto: MD5 for the authenticators and password hiding, HMAC-MD5 for
 *	Message-Authenticator.  Fetched and keyed once.
 */
static void crypto_init(void)
{
	OSSL_PARAM params[2];

	md5 = EVP_MD_fetch(NULL, "MD5", NULL);
	md5_ctx = EVP_MD_CTX_new();
	if (!md5 || !md5_ctx) die("OpenSSL has no MD5");

	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (!mac) die("OpenSSL has no HMAC");
	hmac_template = EVP_MAC_CTX_new(mac);
	EVP_MAC_free(mac);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "MD5", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (!hmac_template ||
	    !EVP_MAC_init(hmac_template, (uint8_t const *) cfg.secret, strlen(cfg.secret), params)) {
		die("could not set up HMAC-MD5");
	}
}

/* MD5 over up to three pieces. */
static void md5_3(uint8_t out[16], void const *a, size_t a_len, void const *b, size_t b_len,
		  void const *c, size_t c_len)
{
	unsigned int len = 16;

	if (!EVP_DigestInit_ex2(md5_ctx, md5, NULL) ||
	    !EVP_DigestUpdate(md5_ctx, a, a_len) ||
	    (b_len && !EVP_DigestUpdate(md5_ctx, b, b_len)) ||
	    (c_len && !EVP_DigestUpdate(md5_ctx, c, c_len)) ||
	    !EVP_DigestFinal_ex(md5_ctx, out, &len)) die("MD5 failed");
}

static void hmac_md5(uint8_t out[16], uint8_t const *data, size_t len)
{
	EVP_MAC_CTX	*ctx = EVP_MAC_CTX_dup(hmac_template);
	size_t		out_len = 0;

	if (!ctx || !EVP_MAC_update(ctx, data, len) || !EVP_MAC_final(ctx, out, &out_len, 16) ||
	    (out_len != 16)) die("HMAC-MD5 failed");
	EVP_MAC_CTX_free(ctx);
}

/*
 *	Packet building.
 */
typedef struct {
	uint8_t		*buf;
	size_t		len;
	size_t		ma_offset;	//!< where Message-Authenticator's value goes
} pkt_t;

static void pkt_attr(pkt_t *p, uint8_t type, void const *value, size_t len)
{
	if ((len > 253) || (p->len + 2 + len > RADIUS_MAX_LEN)) die("attribute too long");
	p->buf[p->len++] = type;
	p->buf[p->len++] = (uint8_t) (2 + len);
	memcpy(p->buf + p->len, value, len);
	p->len += len;
}

/* RFC 2865 5.2: pad to 16, then c(i) = p(i) xor MD5(secret + c(i-1)), c(0) = RA. */
static void pkt_password(pkt_t *p, char const *password, uint8_t const req_auth[AUTH_LEN])
{
	uint8_t		hidden[PASSWORD_MAX], b[16];
	size_t		len = strlen(password), padded, i, j;
	size_t		secret_len = strlen(cfg.secret);

	if (len > PASSWORD_MAX) die("password longer than %d bytes", PASSWORD_MAX);
	padded = len ? ((len + 15) / 16) * 16 : 16;
	memset(hidden, 0, sizeof(hidden));
	memcpy(hidden, password, len);

	for (i = 0; i < padded; i += 16) {
		md5_3(b, cfg.secret, secret_len, i ? hidden + i - 16 : req_auth, 16, NULL, 0);
		for (j = 0; j < 16; j++) hidden[i + j] ^= b[j];
	}
	pkt_attr(p, ATTR_USER_PASSWORD, hidden, padded);
	OPENSSL_cleanse(hidden, sizeof(hidden));
	OPENSSL_cleanse(b, sizeof(b));
}

/*
 *	Build an Access-Request into l->packet: fresh Request Authenticator,
 *	User-Name, hidden User-Password, State if any, NAS-IP-Address,
 *	NAS-Port, then Message-Authenticator over the whole packet.
 */
static void build_request(login_t *l, char const *password, uint8_t const *state, size_t state_len)
{
	pkt_t		p = { .buf = l->packet, .len = RADIUS_HDR_LEN };
	uint8_t		zero[16] = { 0 }, mac[16];
	uint32_t	nas_ip = htonl(INADDR_LOOPBACK), nas_port = htonl((uint32_t) l->sock * 256 + (uint32_t) l->id);

	if (RAND_bytes(l->req_auth, AUTH_LEN) != 1) die("RAND_bytes failed");
	p.buf[0] = CODE_ACCESS_REQUEST;
	p.buf[1] = (uint8_t) l->id;
	memcpy(p.buf + 4, l->req_auth, AUTH_LEN);

	pkt_attr(&p, ATTR_USER_NAME, l->user->name, strlen(l->user->name));
	pkt_password(&p, password, l->req_auth);
	if (state_len) pkt_attr(&p, ATTR_STATE, state, state_len);
	pkt_attr(&p, ATTR_NAS_IP_ADDRESS, &nas_ip, 4);
	pkt_attr(&p, ATTR_NAS_PORT, &nas_port, 4);
	p.ma_offset = p.len + 2;
	pkt_attr(&p, ATTR_MESSAGE_AUTH, zero, 16);

	p.buf[2] = (uint8_t) (p.len >> 8);
	p.buf[3] = (uint8_t) (p.len & 0xff);
	hmac_md5(mac, p.buf, p.len);		/* RFC 3579 3.2: over the packet, the field zeroed */
	memcpy(p.buf + p.ma_offset, mac, 16);
	l->packet_len = p.len;
}

/*
 *	Reply checks: length, Response Authenticator = MD5(Code + Id + Length
 *	+ Request Authenticator + attributes + secret), and Message-Authenticator
 *	if present (computed with the Request Authenticator in place).
 *
 *	@return 0 if the reply is good (state/state_len set from State), -1 if not.
 */
static int check_reply(uint8_t *buf, size_t len, login_t const *l, uint8_t const **state, size_t *state_len)
{
	uint8_t		resp_auth[AUTH_LEN], calc[16], mac[16];
	size_t		pkt_len, off, ma_off = 0;

	*state = NULL;
	*state_len = 0;
	if (len < RADIUS_HDR_LEN) return -1;
	pkt_len = ((size_t) buf[2] << 8) | buf[3];
	if ((pkt_len < RADIUS_HDR_LEN) || (pkt_len > len)) return -1;

	memcpy(resp_auth, buf + 4, AUTH_LEN);
	if (!EVP_DigestInit_ex2(md5_ctx, md5, NULL) ||
	    !EVP_DigestUpdate(md5_ctx, buf, 4) ||
	    !EVP_DigestUpdate(md5_ctx, l->req_auth, AUTH_LEN) ||
	    !EVP_DigestUpdate(md5_ctx, buf + RADIUS_HDR_LEN, pkt_len - RADIUS_HDR_LEN) ||
	    !EVP_DigestUpdate(md5_ctx, cfg.secret, strlen(cfg.secret)) ||
	    !EVP_DigestFinal_ex(md5_ctx, calc, NULL)) die("MD5 failed");
	if (CRYPTO_memcmp(calc, resp_auth, AUTH_LEN) != 0) return -1;

	for (off = RADIUS_HDR_LEN; off < pkt_len; off += buf[off + 1]) {
		if ((off + 2 > pkt_len) || (buf[off + 1] < 2) || (off + buf[off + 1] > pkt_len)) return -1;
		if (buf[off] == ATTR_STATE) {
			*state = buf + off + 2;
			*state_len = buf[off + 1] - 2;
		} else if (buf[off] == ATTR_MESSAGE_AUTH) {
			if (buf[off + 1] != 18) return -1;
			ma_off = off + 2;
		}
	}
	if (ma_off) {
		memcpy(mac, buf + ma_off, 16);
		memset(buf + ma_off, 0, 16);
		memcpy(buf + 4, l->req_auth, AUTH_LEN);
		hmac_md5(calc, buf, pkt_len);
		if (CRYPTO_memcmp(calc, mac, 16) != 0) return -1;
	}
	return 0;
}

/*
 *	Users: CSV of name,password,base32secret.  A line starting with '#'
 *	and empty lines are skipped.  The password may be empty.
 */
static void load_users(char const *path)
{
	FILE	*fp = fopen(path, "r");
	char	*line = NULL;
	size_t	cap = 0, alloc = 0;
	ssize_t	len;
	unsigned long lineno = 0;

	if (!fp) die("%s: %s", path, strerror(errno));
	while ((len = getline(&line, &cap, fp)) >= 0) {
		char *name, *password, *secret, *c1, *c2;
		ssize_t key_len;

		lineno++;
		while ((len > 0) && ((line[len - 1] == '\n') || (line[len - 1] == '\r'))) line[--len] = '\0';
		if (!len || (line[0] == '#')) continue;
		c1 = strchr(line, ',');
		c2 = c1 ? strchr(c1 + 1, ',') : NULL;
		if (!c2) die("%s:%lu: want name,password,base32secret", path, lineno);
		*c1 = *c2 = '\0';
		name = line;
		password = c1 + 1;
		secret = c2 + 1;
		if (!*name || (strlen(name) > TWOFA_USER_NAME_MAX)) die("%s:%lu: bad user name", path, lineno);

		if (n_users == alloc) {
			alloc = alloc ? alloc * 2 : 1024;
			users = realloc(users, alloc * sizeof(*users));
			if (!users) die("out of memory");
		}
		bench_user_t *u = &users[n_users];
		memset(u, 0, sizeof(*u));
		u->name = strdup(name);
		u->password = strdup(password);
		if (!u->name || !u->password) die("out of memory");
		if (totp_mode()) {
			key_len = twofa_base32_decode(secret, u->key, sizeof(u->key));
			if (key_len <= 0) die("%s:%lu: secret is not base32 (or too long)", path, lineno);
			u->key_len = (size_t) key_len;
		}
		u->last_step = -1;
		n_users++;
	}
	if (line) {
		OPENSSL_cleanse(line, cap);
		free(line);
	}
	fclose(fp);
	if (!n_users) die("%s: no users", path);
}

/*
 *	--mode sms: the codes, read from the record of the HTTP sink that
 *	stands in for the SMS gateway (tests/integration/sinks/http_sink.py):
 *	one JSON object per request it received, appended as they come.  In
 *	each, the body (or else the query string) is a form whose "user"
 *	field names the user and whose "text" field holds the code: its first
 *	run of 6 to 10 digits.  The file is read from its end at start, as it
 *	grows; a code goes to its user's login and into no output.
 */
static int	codes_fd = -1;
static char	codes_buf[RECORD_LINE_MAX];
static size_t	codes_len;

static int cmp_user_name(void const *a, void const *b)
{
	return strcmp((*(bench_user_t * const *) a)->name, (*(bench_user_t * const *) b)->name);
}

static void index_users(void)
{
	size_t i;

	users_by_name = malloc(n_users * sizeof(*users_by_name));
	if (!users_by_name) die("out of memory");
	for (i = 0; i < n_users; i++) users_by_name[i] = &users[i];
	qsort(users_by_name, n_users, sizeof(*users_by_name), cmp_user_name);
}

static bench_user_t *find_user(char const *name)
{
	bench_user_t	key = { .name = (char *) name }, *k = &key, **found;

	found = bsearch(&k, users_by_name, n_users, sizeof(*users_by_name), cmp_user_name);
	return found ? *found : NULL;
}

/* One line of the record: the code to its user, if the line names one of ours. */
static void record_line(char const *line)
{
	static char	form[RECORD_LINE_MAX], name[TWOFA_USER_NAME_MAX + 1], text[RECORD_LINE_MAX];
	bench_user_t	*u;
	char		code[SINK_CODE_MAX + 1];
	bool		found = false;

	if ((sink_json_string(line, "body", form, sizeof(form)) == 0) &&
	    (sink_form_value(form, "user", name, sizeof(name)) == 0) && (sink_form_value(form, "text", text, sizeof(text)) == 0)) {
		found = true;
	} else if ((sink_json_string(line, "query", form, sizeof(form)) == 0) &&
		   (sink_form_value(form, "user", name, sizeof(name)) == 0) &&
		   (sink_form_value(form, "text", text, sizeof(text)) == 0)) {
		found = true;
	}
	if (found && (u = find_user(name)) && (sink_code_in_text(text, code) == 0)) {
		memcpy(u->code, code, sizeof(code));
		u->has_code = true;
	}
	OPENSSL_cleanse(form, strlen(form));
	OPENSSL_cleanse(text, strlen(text));
	OPENSSL_cleanse(code, sizeof(code));
}

/* Read what the sink has appended since the last call, whole lines only. */
static void codes_read(void)
{
	for (;;) {
		ssize_t	n = read(codes_fd, codes_buf + codes_len, sizeof(codes_buf) - 1 - codes_len);
		char	*line, *nl;

		if ((n < 0) && (errno == EINTR)) continue;
		if (n < 0) die("%s: %s", cfg.codes_from, strerror(errno));
		if (n == 0) return;		/* at the end, for now */
		codes_len += (size_t) n;
		codes_buf[codes_len] = '\0';
		for (line = codes_buf; (nl = memchr(line, '\n', codes_len - (size_t) (line - codes_buf))); line = nl + 1) {
			*nl = '\0';
			record_line(line);
		}
		codes_len -= (size_t) (line - codes_buf);
		memmove(codes_buf, line, codes_len);
		OPENSSL_cleanse(codes_buf + codes_len, sizeof(codes_buf) - codes_len);
		if (codes_len == sizeof(codes_buf) - 1) die("%s: a line longer than %d bytes", cfg.codes_from, RECORD_LINE_MAX);
	}
}

static void codes_open(void)
{
	codes_fd = open(cfg.codes_from, O_RDONLY | O_CLOEXEC);
	if (codes_fd < 0) die("%s: %s", cfg.codes_from, strerror(errno));
	if (lseek(codes_fd, 0, SEEK_END) < 0) die("%s: %s", cfg.codes_from, strerror(errno));
	index_users();
}

/*
 *	Sockets: one per source port, each connected to the server.
 */
static void open_sockets(int epfd)
{
	char			host[256], *colon;
	struct addrinfo		hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM }, *ai;
	unsigned int		i;
	int			rc, rcvbuf = 4 * 1024 * 1024;

	if ((size_t) snprintf(host, sizeof(host), "%s", cfg.server) >= sizeof(host)) die("--server too long");
	colon = strrchr(host, ':');
	if (!colon) die("--server wants HOST:PORT");
	*colon = '\0';
	rc = getaddrinfo(host, colon + 1, &hints, &ai);
	if (rc) die("%s: %s", cfg.server, gai_strerror(rc));

	socks = calloc(cfg.sockets, sizeof(*socks));
	if (!socks) die("out of memory");
	for (i = 0; i < cfg.sockets; i++) {
		bench_socket_t		*s = &socks[i];
		struct epoll_event	ev = { .events = EPOLLIN, .data.u32 = i };
		int			j;

		s->fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (s->fd < 0) die("socket: %s", strerror(errno));
		setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
		if (connect(s->fd, ai->ai_addr, ai->ai_addrlen) < 0) die("connect %s: %s", cfg.server, strerror(errno));
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, s->fd, &ev) < 0) die("epoll_ctl: %s", strerror(errno));
		for (j = 0; j < IDS_PER_SOCKET; j++) s->free_ids[j] = (uint8_t) j;
		s->free_count = IDS_PER_SOCKET;
	}
	freeaddrinfo(ai);
}

/* Spread logins over sockets: the socket with the most free Ids. */
static int take_id(int *sock)
{
	unsigned int	i, best = 0;
	bench_socket_t	*s;
	int		id;
	static unsigned int rr;

	for (i = 0; i < cfg.sockets; i++) {
		unsigned int k = (rr + i) % cfg.sockets;
		if (socks[k].free_count > socks[best].free_count) best = k;
	}
	rr = (rr + 1) % cfg.sockets;
	s = &socks[best];
	if (!s->free_count) return -1;
	id = s->free_ids[s->free_head];
	s->free_head = (s->free_head + 1) % IDS_PER_SOCKET;
	s->free_count--;
	*sock = (int) best;
	return id;
}

static void release_id(login_t *l)
{
	bench_socket_t *s = &socks[l->sock];

	s->by_id[l->id] = NULL;
	s->free_ids[(s->free_head + s->free_count) % IDS_PER_SOCKET] = (uint8_t) l->id;
	s->free_count++;
}

/*
 *	The deadline list: in (re)transmission order.
 */
static void list_unlink(login_t *l)
{
	if (l->prev) l->prev->next = l->next; else deadline_head = l->next;
	if (l->next) l->next->prev = l->prev; else deadline_tail = l->prev;
	l->prev = l->next = NULL;
}

static void list_append(login_t *l)
{
	l->prev = deadline_tail;
	l->next = NULL;
	if (deadline_tail) deadline_tail->next = l; else deadline_head = l;
	deadline_tail = l;
}

static void transmit(login_t *l, double now)
{
	ssize_t n = send(socks[l->sock].fd, l->packet, l->packet_len, 0);

	/*
	 *	A full socket buffer or a refused port is treated as a lost
	 *	packet: the retry timer deals with it, and it is counted.
	 */
	if (n != (ssize_t) l->packet_len) st.send_errors++;
	l->tries++;
	l->sent = now;
	list_append(l);
}

static void record_rtt(double us)
{
	if (st.rtt_n == st.rtt_max) {
		st.rtt_max = st.rtt_max ? st.rtt_max * 2 : 65536;
		st.rtt_us = realloc(st.rtt_us, st.rtt_max * sizeof(*st.rtt_us));
		if (!st.rtt_us) die("out of memory");
	}
	st.rtt_us[st.rtt_n++] = (us > UINT32_MAX) ? UINT32_MAX : (uint32_t) us;
}

static void finish(login_t *l, double now, bool accepted)
{
	double us = (now - l->start) * 1e6;

	if (l->id >= 0) release_id(l);	/* a parked login holds none */
	l->user->busy = false;
	st.completed++;
	if (accepted) {
		st.accepted++;
		st.login_us[st.login_n++] = (us > UINT32_MAX) ? UINT32_MAX : (uint32_t) us;
	}
	l->next = free_logins;
	free_logins = l;
	n_inflight--;
}

/*
 *	Which code to send for a user now: the earliest step that is later
 *	than the last one this run used for the user and still inside the
 *	server's window (now - window .. now + window).  In the last second
 *	of a step, now - window is skipped: it could leave the window in
 *	transit.  The time is time(), as rlm_twofa reads it: it can lag
 *	CLOCK_REALTIME by a clock tick, and a code for now + window made
 *	from the finer clock in the first moment of a step was outside the
 *	server's window (one login in a run, challenged again).
 *
 *	@return the step, or -1 if the user has none left at this moment.
 */
static int64_t next_step(bench_user_t const *u)
{
	twofa_totp_params_t	params = { .hash = cfg.hash, .digits = cfg.digits, .period = cfg.period };
	time_t			now = time(NULL);	/* the server's clock: see below */
	int64_t			now_step, step;

	now_step = twofa_totp_step(&params, now);
	step = now_step - (int64_t) cfg.window;
	if ((cfg.window > 0) && ((now % cfg.period) >= cfg.period - 1)) step++;
	if (step <= u->last_step) step = u->last_step + 1;
	return (step > now_step + (int64_t) cfg.window) ? -1 : step;
}

/*
 *	Pick the next user: round robin, skipping users with a login in flight
 *	and, in two-round mode, users with no fresh time step left.
 */
static bench_user_t *pick_user(void)
{
	size_t i;

	for (i = 0; i < n_users; i++) {
		bench_user_t *u = &users[user_cursor];

		user_cursor = (user_cursor + 1) % n_users;
		if (u->busy) continue;
		if (totp_mode() && !cfg.pending_only && (next_step(u) < 0)) continue;
		return u;
	}
	return NULL;
}

static int64_t step_taken(bench_user_t const *u, int64_t step, char const *code);

/*
 *	Append mode: one request, the user's password with the code of the
 *	user's next fresh step right after it (no separator).
 */
static void build_appended(login_t *l)
{
	char	both[PASSWORD_MAX + 1], code[TWOFA_TOTP_MAX_DIGITS + 1];
	int64_t	step = next_step(l->user);		/* pick_user saw one */
	size_t	plen = strlen(l->user->password);

	if (twofa_hotp_code(l->user->key, l->user->key_len, cfg.hash, cfg.digits, (uint64_t) step, code) != TWOFA_OK) {
		die("could not compute a TOTP code");
	}
	if (plen + strlen(code) > PASSWORD_MAX) die("%s: password too long for a code after it", l->user->name);
	memcpy(both, l->user->password, plen);
	memcpy(both + plen, code, strlen(code) + 1);
	l->user->last_step = step_taken(l->user, step, code);
	build_request(l, both, NULL, 0);
	OPENSSL_cleanse(code, sizeof(code));
	OPENSSL_cleanse(both, sizeof(both));
}

static bool start_login(double now, double due)
{
	login_t		*l;
	bench_user_t	*u;
	int		sock, id;

	u = pick_user();
	if (!u) return false;
	id = take_id(&sock);
	if (id < 0) return false;

	if (free_logins) {
		l = free_logins;
		free_logins = l->next;
	} else {
		l = malloc(sizeof(*l));
		if (!l) die("out of memory");
	}
	memset(l, 0, offsetof(login_t, packet));
	l->user = u;
	l->sock = sock;
	l->id = id;
	l->round = 1;
	l->start = (cfg.rate > 0) ? due : now;	/* with --rate, latency counts from when it was due */
	if (!cfg.pending_only) u->busy = true;
	socks[sock].by_id[id] = l;
	if (cfg.mode == MODE_SMS) {
		/* Whatever code was read for this user before belongs to an earlier login. */
		codes_read();
		OPENSSL_cleanse(u->code, sizeof(u->code));
		u->has_code = false;
	}
	if (cfg.mode == MODE_APPEND) build_appended(l);
	else build_request(l, u->password, NULL, 0);
	n_inflight++;
	st.started++;
	transmit(l, now);
	return true;
}

/*
 *	The step the server will take this code as.  A code can also be that
 *	of a later step in the window (one chance in 10^digits per step), and
 *	the server then takes the latest step it matches, so that step is
 *	used up too: the user's next login must come after it, or the server
 *	refuses it as a replay.  The server's own check answers which step.
 */
static int64_t step_taken(bench_user_t const *u, int64_t step, char const *code)
{
	twofa_totp_params_t	params = { .hash = cfg.hash, .digits = cfg.digits, .period = cfg.period };
	int64_t			taken = step;

	if (twofa_totp_verify_code(u->key, u->key_len, &params, cfg.window, time(NULL), step - 1, code,
				   &taken) != TWOFA_OK) {
		return step;
	}
	return (taken > step) ? taken : step;
}

/*
 *	Round 2: a new Id, as a NAS would use.  Reusing round one's Id at once
 *	races the server, which may not yet have marked round one done and
 *	would see a "conflicting packet".  The FIFO of free Ids keeps the old
 *	one unused for a while.
 */
static void round_two(login_t *l, char const *code, uint8_t const *state, size_t state_len, double now)
{
	int	sock, id;

	if (l->id >= 0) release_id(l);
	id = take_id(&sock);		/* cannot fail: a login in flight holds at most one Id */
	if (id < 0) die("no RADIUS Id free for round two");
	l->sock = sock;
	l->id = id;
	socks[sock].by_id[id] = l;
	l->round = 2;
	l->tries = 0;
	build_request(l, code, state, state_len);
	transmit(l, now);
}

static void send_code(login_t *l, uint8_t const *state, size_t state_len, double now)
{
	char	code[TWOFA_TOTP_MAX_DIGITS + 1];
	int64_t	step = next_step(l->user);

	if (step < 0) step = l->user->last_step + 1;	/* out of steps mid-login: counted as reject */
	if (twofa_hotp_code(l->user->key, l->user->key_len, cfg.hash, cfg.digits, (uint64_t) step, code) != TWOFA_OK) {
		die("could not compute a TOTP code");
	}
	l->user->last_step = step_taken(l->user, step, code);
	round_two(l, code, state, state_len, now);
	OPENSSL_cleanse(code, sizeof(code));
}

/* --mode sms: answer with the user's code, read from the sink's record; used once. */
static void send_sms_code(login_t *l, double now)
{
	bench_user_t *u = l->user;

	round_two(l, u->code, l->state, l->state_len, now);
	OPENSSL_cleanse(u->code, sizeof(u->code));
	u->has_code = false;
}

/*
 *	--mode sms, round one challenged: answer at once if the code is in the
 *	record, else park the login until it is (its Id released: a late
 *	duplicate of the challenge then matches nothing).
 */
static void sms_challenged(login_t *l, uint8_t const *state, size_t state_len, double now)
{
	if (state_len > STATE_MAX) state_len = STATE_MAX;
	memcpy(l->state, state, state_len);
	l->state_len = state_len;
	codes_read();
	if (l->user->has_code) {
		send_sms_code(l, now);
		return;
	}
	st.code_waits++;
	release_id(l);
	l->id = -1;
	l->parked = now;
	l->next = NULL;
	if (parked_tail) parked_tail->next = l; else parked_head = l;
	parked_tail = l;
}

/* Parked logins whose code has come are answered; those parked longer than the timeout time out. */
static void unpark(double now)
{
	login_t	*l = parked_head, *next;

	parked_head = parked_tail = NULL;
	codes_read();
	for (; l; l = next) {
		next = l->next;
		l->next = NULL;
		if (l->user->has_code) {
			send_sms_code(l, now);
		} else if (now - l->parked >= cfg.timeout_ms / 1000.0) {
			st.timeouts++;
			finish(l, now, false);
		} else {
			if (parked_tail) parked_tail->next = l; else parked_head = l;
			parked_tail = l;
		}
	}
}

/* --save-states: the challenge's State, for answering a sample later (bench/run's pending row). */
static FILE *states_out;

static void save_state(bench_user_t const *u, uint8_t const *state, size_t len)
{
	size_t i;

	if (!states_out) return;
	fprintf(states_out, "%s ", u->name);
	for (i = 0; i < len; i++) fprintf(states_out, "%02x", state[i]);
	fputc('\n', states_out);
}

static void handle_reply(unsigned int sock, uint8_t *buf, size_t len, double now)
{
	login_t		*l;
	uint8_t const	*state;
	size_t		state_len;
	uint8_t		code;

	if (len < RADIUS_HDR_LEN) {
		st.bad_replies++;
		return;
	}
	l = socks[sock].by_id[buf[1]];
	if (!l || (check_reply(buf, len, l, &state, &state_len) < 0)) {
		st.bad_replies++;	/* late reply to a timed-out request, or forged */
		return;
	}
	code = buf[0];
	list_unlink(l);
	record_rtt((now - l->sent) * 1e6);

	if ((cfg.mode == MODE_PAP) || (cfg.mode == MODE_APPEND)) {	/* one round */
		if (code == CODE_ACCESS_ACCEPT) {
			finish(l, now, true);
			return;
		}
		if (code == CODE_ACCESS_CHALLENGE) st.unexpected_challenges++;
		else st.rejected++;
		finish(l, now, false);
		return;
	}

	if (l->round == 1) {
		if (code == CODE_ACCESS_CHALLENGE) {
			st.challenges++;
			if (!state_len) {
				st.no_state++;		/* the server's state table is full */
				finish(l, now, false);
				return;
			}
			if (cfg.pending_only) {
				save_state(l->user, state, state_len);
				finish(l, now, true);	/* never answered: it stays pending */
				return;
			}
			if (cfg.mode == MODE_SMS) {
				sms_challenged(l, state, state_len, now);
				return;
			}
			if (state_len > STATE_MAX) state_len = STATE_MAX;
			uint8_t saved[STATE_MAX];
			memcpy(saved, state, state_len);
			send_code(l, saved, state_len, now);
			return;
		}
		if (code == CODE_ACCESS_ACCEPT) st.unexpected_accepts++;
		else st.rejected++;
		finish(l, now, false);
		return;
	}

	switch (code) {
	case CODE_ACCESS_ACCEPT:
		finish(l, now, true);
		return;
	case CODE_ACCESS_CHALLENGE:
		st.unexpected_challenges++;	/* the code was refused, and asked again */
		break;
	default:
		st.rejected++;
		break;
	}
	finish(l, now, false);
}

static void check_timeouts(double now)
{
	double timeout = cfg.timeout_ms / 1000.0;

	while (deadline_head && (deadline_head->sent + timeout <= now)) {
		login_t *l = deadline_head;

		list_unlink(l);
		if ((unsigned int) l->tries <= cfg.retries) {
			/*
			 *	Resend the same packet: same Id and authenticator, so
			 *	the server's duplicate detection sees a retransmission.
			 */
			st.retries++;
			transmit(l, now);
			continue;
		}
		st.timeouts++;
		finish(l, now, false);
	}
}

static int cmp_u32(void const *a, void const *b)
{
	uint32_t x = *(uint32_t const *) a, y = *(uint32_t const *) b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile, in milliseconds. */
static double pct_ms(uint32_t const *v, unsigned long n, double p)
{
	unsigned long rank;

	if (!n) return 0;
	rank = (unsigned long) ((p / 100.0) * (double) n + 0.999999);
	if (rank < 1) rank = 1;
	if (rank > n) rank = n;
	return v[rank - 1] / 1000.0;
}

static void usage(int status)
{
	fprintf(status ? stderr : stdout,
		"Usage: twofa-bench [options] --users CSV\n"
		"  --mode pap|twofa|append|sms  one-round PAP logins, two rounds with TOTP (default twofa),\n"
		"                        one round with the TOTP code after the password, or two\n"
		"                        rounds with the code sent by SMS (needs --codes-from)\n"
		"  --codes-from FILE     --mode sms: the HTTP sink's record, where each code is read\n"
		"  --server HOST:PORT    (default 127.0.0.1:1812)\n"
		"  --secret S            RADIUS shared secret (default testing123)\n"
		"  --users CSV           lines of name,password,base32secret (the secret unused by sms)\n"
		"  --logins N            logins to run (default 10000)\n"
		"  --inflight N          logins in flight at once (default 64)\n"
		"  --sockets N           source ports (default 16)\n"
		"  --rate N              logins started per second, 0 = as fast as possible\n"
		"  --timeout MS          per request, before a retry (default 2000)\n"
		"  --retries N           retransmissions per request (default 2)\n"
		"  --pending-only        send round 1 only, never answer the challenge\n"
		"  --save-states FILE    with --pending-only: each State, as \"name hex\" lines\n"
		"  --window N            steps either side of now the server accepts (default 1)\n"
		"  --period S, --digits N, --hash SHA1|SHA256|SHA512   TOTP parameters\n"
		"  --quiet               only the key=value line\n");
	exit(status);
}

static unsigned long parse_ulong(char const *opt, char const *s, unsigned long min, unsigned long max)
{
	char		*end;
	unsigned long	v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || (end == s) || *end || (s[0] == '-') || (v < min) || (v > max)) {
		die("%s wants a number from %lu to %lu, not \"%s\"", opt, min, max, s);
	}
	return v;
}

static void parse_args(int argc, char **argv)
{
	static struct option const opts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "server", required_argument, NULL, 's' },
		{ "secret", required_argument, NULL, 'S' },
		{ "users", required_argument, NULL, 'u' },
		{ "logins", required_argument, NULL, 'n' },
		{ "inflight", required_argument, NULL, 'i' },
		{ "sockets", required_argument, NULL, 'k' },
		{ "rate", required_argument, NULL, 'r' },
		{ "timeout", required_argument, NULL, 't' },
		{ "retries", required_argument, NULL, 'R' },
		{ "pending-only", no_argument, NULL, 'P' },
		{ "save-states", required_argument, NULL, 'X' },
		{ "codes-from", required_argument, NULL, 'C' },
		{ "period", required_argument, NULL, 'p' },
		{ "digits", required_argument, NULL, 'd' },
		{ "hash", required_argument, NULL, 'H' },
		{ "window", required_argument, NULL, 'w' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int c;

	while ((c = getopt_long(argc, argv, "m:s:S:u:n:i:k:r:t:R:PX:C:p:d:H:w:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (strcmp(optarg, "pap") == 0) cfg.mode = MODE_PAP;
			else if (strcmp(optarg, "twofa") == 0) cfg.mode = MODE_TWOFA;
			else if (strcmp(optarg, "append") == 0) cfg.mode = MODE_APPEND;
			else if (strcmp(optarg, "sms") == 0) cfg.mode = MODE_SMS;
			else die("--mode wants pap, twofa, append or sms");
			break;
		case 's': cfg.server = optarg; break;
		case 'S': cfg.secret = optarg; break;
		case 'u': cfg.users_file = optarg; break;
		case 'n': cfg.logins = parse_ulong("--logins", optarg, 1, 100000000); break;
		case 'i': cfg.inflight = (unsigned int) parse_ulong("--inflight", optarg, 1, 65536); break;
		case 'k': cfg.sockets = (unsigned int) parse_ulong("--sockets", optarg, 1, SOCKETS_MAX); break;
		case 'r': cfg.rate = (double) parse_ulong("--rate", optarg, 0, 10000000); break;
		case 't': cfg.timeout_ms = (unsigned int) parse_ulong("--timeout", optarg, 1, 600000); break;
		case 'R': cfg.retries = (unsigned int) parse_ulong("--retries", optarg, 0, 100); break;
		case 'P': cfg.pending_only = true; break;
		case 'X': cfg.save_states = optarg; break;
		case 'C': cfg.codes_from = optarg; break;
		case 'p': cfg.period = (unsigned int) parse_ulong("--period", optarg, 1, 3600); break;
		case 'd': cfg.digits = (unsigned int) parse_ulong("--digits", optarg, 6, 8); break;
		case 'H':
			if (twofa_hash_from_name(optarg, &cfg.hash) < 0) die("--hash wants SHA1, SHA256 or SHA512");
			break;
		case 'w': cfg.window = (unsigned int) parse_ulong("--window", optarg, 0, TWOFA_TOTP_MAX_WINDOW); break;
		case 'q': cfg.quiet = true; break;
		case 'h': usage(0); break;
		default: usage(2);
		}
	}
	if (optind != argc) usage(2);
	if (!cfg.users_file) die("--users CSV is required");
	if (cfg.pending_only && (cfg.mode != MODE_TWOFA)) die("--pending-only needs --mode twofa");
	if (cfg.save_states && !cfg.pending_only) die("--save-states needs --pending-only");
	if ((cfg.mode == MODE_SMS) != (cfg.codes_from != NULL)) die("--mode sms and --codes-from go together");
	if (cfg.save_states && !(states_out = fopen(cfg.save_states, "w"))) die("%s: %s", cfg.save_states, strerror(errno));
	if (cfg.inflight > cfg.sockets * IDS_PER_SOCKET) {
		die("--inflight %u needs at least %u sockets (256 Ids each)", cfg.inflight,
		    (cfg.inflight + IDS_PER_SOCKET - 1) / IDS_PER_SOCKET);
	}
	if (strlen(cfg.secret) == 0) die("--secret must not be empty");
}

static char const *mode_name(void)
{
	switch (cfg.mode) {
	case MODE_PAP: return "pap";
	case MODE_APPEND: return "append";
	case MODE_SMS: return "sms";
	default: return "twofa";
	}
}

static void on_signal(int sig)
{
	(void) sig;
	interrupted = 1;
}

int main(int argc, char **argv)
{
	int			epfd;
	double			t0, t_end, now, next_due, elapsed;
	uint8_t			buf[RADIUS_MAX_LEN];
	struct epoll_event	events[64];
	bool			stalled = false;

	parse_args(argc, argv);
	load_users(cfg.users_file);
	if (cfg.mode == MODE_SMS) codes_open();

	/*
	 *	Replay protection refuses a reused code, so each login needs a
	 *	(user, time step) pair not used before in this run: at start,
	 *	steps now - window .. now + window, 2 x window + 1 per user.
	 */
	if (totp_mode() && !cfg.pending_only) {
		unsigned long per_user = 2 * cfg.window + 1;

		if (cfg.logins > per_user * (unsigned long) n_users) {
			die("%lu logins need at least %lu users (%lu fresh time steps each); %s has %zu",
			    cfg.logins, (cfg.logins + per_user - 1) / per_user, per_user, cfg.users_file, n_users);
		}
	}
	if (cfg.inflight > n_users) cfg.inflight = (unsigned int) n_users;

	crypto_init();
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0) die("epoll_create1: %s", strerror(errno));
	open_sockets(epfd);
	st.login_us = malloc(cfg.logins * sizeof(*st.login_us));
	if (!st.login_us) die("out of memory");
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	t0 = now_s();
	next_due = t0;
	while (!interrupted && ((st.started < cfg.logins) || n_inflight)) {
		int	n, i, wait_ms;
		double	wake;

		now = now_s();

		/* Start what is due. */
		while ((st.started < cfg.logins) && (n_inflight < cfg.inflight) && (next_due <= now)) {
			if (!start_login(now, next_due)) {
				stalled = true;
				break;
			}
			stalled = false;
			if (cfg.rate > 0) next_due = t0 + (double) st.started / cfg.rate;
		}
		if (stalled && !n_inflight) {
			/* Every user is out of fresh steps: wait for the next one. */
			usleep(100000);
			continue;
		}

		/* Sleep until a reply, a deadline, or the next start. */
		wake = deadline_head ? deadline_head->sent + cfg.timeout_ms / 1000.0 : now + 1;
		if ((cfg.rate > 0) && (st.started < cfg.logins) && (n_inflight < cfg.inflight) && (next_due < wake)) {
			wake = next_due;
		}
		wait_ms = (wake <= now) ? 0 : (int) ((wake - now) * 1000.0) + 1;
		if (parked_head && (wait_ms > 1)) wait_ms = 1;	/* look for their codes again soon */
		n = epoll_wait(epfd, events, 64, wait_ms);
		if ((n < 0) && (errno != EINTR)) die("epoll_wait: %s", strerror(errno));
		now = now_s();
		for (i = 0; i < n; i++) {
			unsigned int	sock = events[i].data.u32;
			ssize_t		len;

			while ((len = recv(socks[sock].fd, buf, sizeof(buf), 0)) >= 0) {
				handle_reply(sock, buf, (size_t) len, now);
			}
		}
		check_timeouts(now);
		if (parked_head) unpark(now);
	}
	t_end = now_s();
	elapsed = t_end - t0;

	/* rtt_us is still NULL if no reply came: qsort wants an array even for 0 items. */
	if (st.login_n) qsort(st.login_us, st.login_n, sizeof(*st.login_us), cmp_u32);
	if (st.rtt_n) qsort(st.rtt_us, st.rtt_n, sizeof(*st.rtt_us), cmp_u32);

	double per_s = elapsed > 0 ? st.accepted / elapsed : 0;
	double p50 = pct_ms(st.login_us, st.login_n, 50), p95 = pct_ms(st.login_us, st.login_n, 95);
	double p99 = pct_ms(st.login_us, st.login_n, 99);
	double r50 = pct_ms(st.rtt_us, st.rtt_n, 50), r95 = pct_ms(st.rtt_us, st.rtt_n, 95);
	double r99 = pct_ms(st.rtt_us, st.rtt_n, 99);
	char const *what = cfg.pending_only ? "challenges left pending" : "logins accepted";

	if (!cfg.quiet) {
		printf("twofa-bench: %s mode%s, %s, %zu users, %u in flight over %u sockets",
		       mode_name(), cfg.pending_only ? " (pending only)" : "",
		       cfg.server, n_users, cfg.inflight, cfg.sockets);
		if (cfg.rate > 0) printf(", rate %.0f/s", cfg.rate);
		printf("%s\n", interrupted ? " (interrupted)" : "");
		printf("  %lu started, %lu completed in %.3f s: %lu %s, %.0f per second\n",
		       st.started, st.completed, elapsed, st.accepted, what, per_s);
		printf("  rejected %lu, unexpected challenges %lu, unexpected accepts %lu, challenges without State %lu\n",
		       st.rejected, st.unexpected_challenges, st.unexpected_accepts, st.no_state);
		printf("  timeouts %lu, retries %lu, send errors %lu, bad or late replies %lu\n",
		       st.timeouts, st.retries, st.send_errors, st.bad_replies);
		printf("  per login (accepted):  p50 %.3f ms  p95 %.3f ms  p99 %.3f ms  max %.3f ms\n",
		       p50, p95, p99, st.login_n ? st.login_us[st.login_n - 1] / 1000.0 : 0.0);
		printf("  per round trip:        p50 %.3f ms  p95 %.3f ms  p99 %.3f ms  (%lu round trips)\n",
		       r50, r95, r99, st.rtt_n);
	}
	printf("mode=%s logins_per_s=%.0f p50_ms=%.3f p95_ms=%.3f p99_ms=%.3f rtt_p50_ms=%.3f rtt_p95_ms=%.3f "
	       "rtt_p99_ms=%.3f started=%lu completed=%lu accepted=%lu rejected=%lu unexpected=%lu no_state=%lu "
	       "timeouts=%lu retries=%lu send_errors=%lu bad_replies=%lu elapsed_s=%.3f code_waits=%lu\n",
	       cfg.pending_only ? "pending" : mode_name(),
	       per_s, p50, p95, p99, r50, r95, r99, st.started, st.completed, st.accepted, st.rejected,
	       st.unexpected_challenges + st.unexpected_accepts, st.no_state, st.timeouts, st.retries,
	       st.send_errors, st.bad_replies, elapsed, st.code_waits);

	/* Exit 0 only if every login did what it should. */
	return (st.accepted == cfg.logins) ? 0 : 1;
}
