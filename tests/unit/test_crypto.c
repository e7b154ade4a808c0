/*
 * test_crypto.c	Sealed secrets, the key file, password hashes and the
 *			wiping of secrets, as crypto.h promises them.
 *
 *		Key files are made in a fresh directory under $TMPDIR (or /tmp),
 *		removed at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "check.h"
#include "crypto.h"

static char	tmpdir[256];
static int	file_serial;

static uint8_t const key_a[TWOFA_KEY_LEN] = "0123456789abcdef0123456789abcde";
static uint8_t const key_b[TWOFA_KEY_LEN] = "0123456789abcdef0123456789abcdX";
static uint8_t const totp_secret[TWOFA_SECRET_LEN] = "12345678901234567890";

/* A fresh path in the test directory (the file does not exist yet). */
static char const *new_path(char *buf, size_t size)
{
	snprintf(buf, size, "%s/key%d", tmpdir, ++file_serial);
	return buf;
}

/* Write contents to path with the given mode, whatever the umask. */
static void write_file(char const *path, char const *contents, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	CHECK(fd >= 0);
	if (fd < 0) return;
	CHECK(write(fd, contents, strlen(contents)) == (ssize_t) strlen(contents));
	CHECK(fchmod(fd, mode) == 0);
	close(fd);
}

/* A key file holding base64 of len bytes, mode 0600. */
static void write_key_of_len(char const *path, size_t len)
{
	uint8_t	raw[64];
	char	line[128];
	int	n;

	memset(raw, 0xa5, sizeof(raw));
	n = EVP_EncodeBlock((unsigned char *) line, raw, (int) len);
	line[n++] = '\n';
	line[n] = '\0';
	write_file(path, line, 0600);
}

/* 1 if needle (n bytes) appears anywhere in hay (len bytes). */
static int contains(uint8_t const *hay, size_t len, uint8_t const *needle, size_t n)
{
	size_t i;

	for (i = 0; i + n <= len; i++) if (memcmp(hay + i, needle, n) == 0) return 1;
	return 0;
}

static twofa_rcode_t seal(TALLOC_CTX *ctx, uint8_t const *key, char const *user, uint8_t **out, size_t *out_len)
{
	return twofa_crypto_seal(ctx, key, user, totp_secret, sizeof(totp_secret), out, out_len);
}

static void sealed_secret_opens_with_same_key_and_user(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	uint8_t		*blob = NULL;
	size_t		len = 0;
	twofa_secret_t	*s = NULL;

	CHECK(seal(ctx, key_a, "alice", &blob, &len) == TWOFA_OK);
	CHECK(twofa_crypto_open(ctx, key_a, "alice", blob, len, &s) == TWOFA_OK);
	CHECK(s && (s->len == sizeof(totp_secret)) && (memcmp(s->data, totp_secret, s->len) == 0));
	talloc_free(ctx);
}

static void sealed_blob_is_version_nonce_ciphertext_tag(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	uint8_t		*blob = NULL;
	size_t		len = 0;

	CHECK(seal(ctx, key_a, "alice", &blob, &len) == TWOFA_OK);
	CHECK(len == 1 + TWOFA_NONCE_LEN + sizeof(totp_secret) + TWOFA_TAG_LEN);
	CHECK(blob && (blob[0] == TWOFA_SEAL_VERSION));
	CHECK(blob && (talloc_get_size(blob) == len));
	CHECK(blob && !contains(blob, len, totp_secret, 4));	/* no plaintext run leaks through */
	talloc_free(ctx);
}

static void seal_uses_a_fresh_nonce_each_time(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	uint8_t		*a = NULL, *b = NULL;
	size_t		a_len = 0, b_len = 0;

	CHECK(seal(ctx, key_a, "alice", &a, &a_len) == TWOFA_OK);
	CHECK(seal(ctx, key_a, "alice", &b, &b_len) == TWOFA_OK);
	CHECK(a && b && (a_len == b_len));
	CHECK(a && b && (memcmp(a + 1, b + 1, TWOFA_NONCE_LEN) != 0));
	CHECK(a && b && (memcmp(a, b, a_len) != 0));
	talloc_free(ctx);
}

static void sealed_secret_fails_for_other_user(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	uint8_t		*blob = NULL;
	size_t		len = 0;
	twofa_secret_t	*s = NULL;

	CHECK(seal(ctx, key_a, "alice", &blob, &len) == TWOFA_OK);
	CHECK(twofa_crypto_open(ctx, key_a, "bob", blob, len, &s) == TWOFA_ERR_CRYPTO);
	CHECK(twofa_crypto_open(ctx, key_a, "alic", blob, len, &s) == TWOFA_ERR_CRYPTO);
	CHECK(twofa_crypto_open(ctx, key_a, "alice ", blob, len, &s) == TWOFA_ERR_CRYPTO);
	CHECK(twofa_crypto_open(ctx, key_a, "", blob, len, &s) == TWOFA_ERR_CRYPTO);
	CHECK(s == NULL);
	talloc_free(ctx);
}

static void sealed_secret_fails_with_other_key(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	uint8_t		*blob = NULL;
	size_t		len = 0;
	twofa_secret_t	*s = NULL;

	CHECK(seal(ctx, key_a, "alice", &blob, &len) == TWOFA_OK);
	CHECK(twofa_crypto_open(ctx, key_b, "alice", blob, len, &s) == TWOFA_ERR_CRYPTO);
	CHECK(s == NULL);
	talloc_free(ctx);
}

/* Every single bit flipped, in version, nonce, ciphertext and tag alike. */
static void tampered_ciphertext_is_refused(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	uint8_t		*blob = NULL;
	size_t		len = 0, i;
	int		bit, accepted = 0;

	CHECK(seal(ctx, key_a, "alice", &blob, &len) == TWOFA_OK);
	for (i = 0; blob && (i < len); i++) {
		for (bit = 0; bit < 8; bit++) {
			twofa_secret_t *s = NULL;

			blob[i] ^= (uint8_t) (1 << bit);
			if (twofa_crypto_open(ctx, key_a, "alice", blob, len, &s) != TWOFA_ERR_CRYPTO) accepted++;
			blob[i] ^= (uint8_t) (1 << bit);
		}
	}
	CHECK(accepted == 0);
	talloc_free(ctx);
}

static void truncated_or_extended_blob_is_refused(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	uint8_t		*blob = NULL, longer[128];
	size_t		len = 0, i;
	int		accepted = 0;
	twofa_secret_t	*s = NULL;

	CHECK(seal(ctx, key_a, "alice", &blob, &len) == TWOFA_OK);
	for (i = 0; blob && (i < len); i++) {
		if (twofa_crypto_open(ctx, key_a, "alice", blob, i, &s) != TWOFA_ERR_CRYPTO) accepted++;
	}
	if (blob && (len < sizeof(longer))) {
		memcpy(longer, blob, len);
		longer[len] = 0;
		if (twofa_crypto_open(ctx, key_a, "alice", longer, len + 1, &s) != TWOFA_ERR_CRYPTO) accepted++;
	}
	CHECK(twofa_crypto_open(ctx, key_a, "alice", NULL, 0, &s) == TWOFA_ERR_CRYPTO);
	CHECK(accepted == 0);
	talloc_free(ctx);
}

static void empty_secret_round_trips(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	uint8_t		*blob = NULL;
	size_t		len = 0;
	twofa_secret_t	*s = NULL;

	CHECK(twofa_crypto_seal(ctx, key_a, "alice", NULL, 0, &blob, &len) == TWOFA_OK);
	CHECK(len == TWOFA_SEAL_OVERHEAD);
	CHECK(twofa_crypto_open(ctx, key_a, "alice", blob, len, &s) == TWOFA_OK);
	CHECK(s && (s->len == 0));
	CHECK(twofa_crypto_open(ctx, key_a, "bob", blob, len, &s) == TWOFA_ERR_CRYPTO);
	talloc_free(ctx);
}

/*
 *	A probe hung below s->data: talloc frees children first, so the
 *	probe's destructor sees s->data after s's destructor ran and before
 *	the memory is released.
 */
typedef struct {
	uint8_t const	*data;
	size_t		len;
} probe_t;

static int	probe_ran, probe_saw_zero;

static int _probe_free(probe_t *p)
{
	size_t i;

	probe_ran = 1;
	probe_saw_zero = 1;
	for (i = 0; i < p->len; i++) if (p->data[i]) probe_saw_zero = 0;
	return 0;
}

static void secret_is_wiped_before_free(void)
{
	twofa_secret_t	*s = twofa_secret_alloc(NULL, 32);
	probe_t		*p;

	CHECK(s && s->data && (s->len == 32));
	if (!s) return;
	CHECK(talloc_parent(s->data) == s);
	memset(s->data, 0x5a, s->len);
	p = talloc(s->data, probe_t);
	CHECK(p != NULL);
	if (!p) return;
	p->data = s->data;
	p->len = s->len;
	talloc_set_destructor(p, _probe_free);

	probe_ran = probe_saw_zero = 0;
	talloc_free(s);
	CHECK(probe_ran);
	CHECK(probe_saw_zero);
}

static void secret_alloc_is_zeroed(void)
{
	twofa_secret_t	*s = twofa_secret_alloc(NULL, TWOFA_SECRET_MAX);
	size_t		i, set = 0;

	CHECK(s && (s->len == TWOFA_SECRET_MAX));
	for (i = 0; s && (i < s->len); i++) if (s->data[i]) set++;
	CHECK(set == 0);
	talloc_free(s);
}

static void random_bytes_differ_each_call(void)
{
	uint8_t a[32], b[32], zero[32] = { 0 };

	CHECK(twofa_crypto_random(a, sizeof(a)) == TWOFA_OK);
	CHECK(twofa_crypto_random(b, sizeof(b)) == TWOFA_OK);
	CHECK(memcmp(a, b, sizeof(a)) != 0);
	CHECK(memcmp(a, zero, sizeof(a)) != 0);
}

/*
 *	An empty alphabet is refused (crypto.h: TWOFA_ERR_CRYPTO), not a
 *	division by zero: run in a child, so that a crash is this case's
 *	failure and not the end of the suite.
 */
static void random_chars_refuses_an_empty_alphabet(void)
{
	char	out[8];
	pid_t	pid;
	int	status = -1;

	pid = fork();
	if (pid == 0) _exit(twofa_crypto_random_chars("", 4, out) == TWOFA_ERR_CRYPTO ? 0 : 1);
	CHECK(pid > 0);
	if (pid > 0) waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && (WEXITSTATUS(status) == 0));
	CHECK(twofa_crypto_random_chars("ab", 4, out) == TWOFA_OK);
	CHECK((strlen(out) == 4) && (strspn(out, "ab") == 4));
}

/*
 *	Under umask 0777 open() alone would make the file mode 0000, so only an
 *	explicit fchmod gives 0600; under umask 0 the mode given to open() must
 *	not be wider than 0600 either (a key briefly readable by others).
 */
static void key_file_is_created_mode_0600_despite_umask(void)
{
	mode_t const	masks[] = { 0777, 0277, 0 };
	char		path[512], err[256] = "";
	struct stat	st;
	mode_t		old;
	size_t		i;

	for (i = 0; i < sizeof(masks) / sizeof(masks[0]); i++) {
		old = umask(masks[i]);
		CHECK(twofa_crypto_create_key_file(new_path(path, sizeof(path)), err, sizeof(err)) == TWOFA_OK);
		umask(old);
		CHECK(stat(path, &st) == 0);
		CHECK(S_ISREG(st.st_mode) && (st.st_size == 45));	/* 44 base64 characters and a newline */
		if ((st.st_mode & 07777) != 0600) {
			printf("  umask %04o: mode %04o, want 0600\n", (unsigned int) masks[i],
			       (unsigned int) (st.st_mode & 07777));
			check_failed++;
		}
	}
}

static void key_file_round_trips(void)
{
	char		path[512], err[256] = "";
	uint8_t		k1[TWOFA_KEY_LEN], k2[TWOFA_KEY_LEN], zero[TWOFA_KEY_LEN] = { 0 };

	CHECK(twofa_crypto_create_key_file(new_path(path, sizeof(path)), err, sizeof(err)) == TWOFA_OK);
	CHECK(twofa_crypto_load_key(path, k1, err, sizeof(err)) == TWOFA_OK);
	CHECK(twofa_crypto_load_key(path, k2, err, sizeof(err)) == TWOFA_OK);
	CHECK(memcmp(k1, k2, sizeof(k1)) == 0);
	CHECK(memcmp(k1, zero, sizeof(k1)) != 0);
}

static void two_key_files_hold_different_keys(void)
{
	char	p1[512], p2[512], err[256] = "";
	uint8_t	k1[TWOFA_KEY_LEN], k2[TWOFA_KEY_LEN];

	CHECK(twofa_crypto_create_key_file(new_path(p1, sizeof(p1)), err, sizeof(err)) == TWOFA_OK);
	CHECK(twofa_crypto_create_key_file(new_path(p2, sizeof(p2)), err, sizeof(err)) == TWOFA_OK);
	CHECK(twofa_crypto_load_key(p1, k1, err, sizeof(err)) == TWOFA_OK);
	CHECK(twofa_crypto_load_key(p2, k2, err, sizeof(err)) == TWOFA_OK);
	CHECK(memcmp(k1, k2, sizeof(k1)) != 0);
}

static void existing_key_file_is_never_overwritten(void)
{
	char		path[512], err[256] = "";
	uint8_t		before[TWOFA_KEY_LEN], after[TWOFA_KEY_LEN];

	CHECK(twofa_crypto_create_key_file(new_path(path, sizeof(path)), err, sizeof(err)) == TWOFA_OK);
	CHECK(twofa_crypto_load_key(path, before, err, sizeof(err)) == TWOFA_OK);
	CHECK(twofa_crypto_create_key_file(path, err, sizeof(err)) == TWOFA_ERR_EXISTS);
	CHECK(twofa_crypto_load_key(path, after, err, sizeof(err)) == TWOFA_OK);
	CHECK(memcmp(before, after, sizeof(before)) == 0);
}

static void key_file_in_missing_directory_is_io_error(void)
{
	char path[512], err[256] = "";

	snprintf(path, sizeof(path), "%s/no/such/dir/key", tmpdir);
	CHECK(twofa_crypto_create_key_file(path, err, sizeof(err)) == TWOFA_ERR_IO);
	CHECK(strstr(err, path) != NULL);
}

/* Load a key expecting rc; err must name the path and, if given, contain why. */
static void load_fails(char const *path, twofa_rcode_t rc, char const *why)
{
	char	err[512] = "";
	uint8_t	key[TWOFA_KEY_LEN];

	CHECK(twofa_crypto_load_key(path, key, err, sizeof(err)) == rc);
	CHECK(strstr(err, path) != NULL);
	if (why) CHECK(strstr(err, why) != NULL);
	if (check_failed) printf("  err: %s\n", err);
}

static void key_file_readable_by_group_is_refused(void)
{
	char path[512], err[256] = "";

	CHECK(twofa_crypto_create_key_file(new_path(path, sizeof(path)), err, sizeof(err)) == TWOFA_OK);
	CHECK(chmod(path, 0640) == 0);
	load_fails(path, TWOFA_ERR_IO, "must be mode 0600");
}

static void key_file_writable_by_others_is_refused(void)
{
	char path[512], err[256] = "";

	CHECK(twofa_crypto_create_key_file(new_path(path, sizeof(path)), err, sizeof(err)) == TWOFA_OK);
	CHECK(chmod(path, 0602) == 0);
	load_fails(path, TWOFA_ERR_IO, "must be mode 0600");
	CHECK(chmod(path, 0601) == 0);
	load_fails(path, TWOFA_ERR_IO, "must be mode 0600");
}

static void key_file_owner_read_only_is_accepted(void)
{
	char	path[512], err[256] = "";
	uint8_t	key[TWOFA_KEY_LEN];

	CHECK(twofa_crypto_create_key_file(new_path(path, sizeof(path)), err, sizeof(err)) == TWOFA_OK);
	CHECK(chmod(path, 0400) == 0);
	CHECK(twofa_crypto_load_key(path, key, err, sizeof(err)) == TWOFA_OK);
}

/*
 *	As ssh does for private keys: a key file owned by another account is
 *	refused even when its mode is right, since that account could swap it.
 *	Root may own it.  Needs root to give the file away; skipped otherwise.
 */
static void key_file_owned_by_another_user_is_refused(void)
{
	char	path[512], err[256] = "";
	uid_t	other = (geteuid() == 0) ? 65534 : geteuid();

	CHECK(twofa_crypto_create_key_file(new_path(path, sizeof(path)), err, sizeof(err)) == TWOFA_OK);
	if (geteuid() != 0) {
		printf("  not root: cannot give the key file away, only the own-key case checked\n");
		return;
	}
	CHECK(chown(path, other, (gid_t) -1) == 0);
	CHECK(chmod(path, 0600) == 0);
	load_fails(path, TWOFA_ERR_IO, "owned by uid 65534");
}

/* The owner is the reading process's euid: a child that becomes uid 65534 reads its own key. */
static void key_file_owned_by_the_reader_is_accepted(void)
{
	char	path[512], err[256] = "";
	uint8_t	key[TWOFA_KEY_LEN];
	pid_t	pid;
	int	status = -1;

	CHECK(twofa_crypto_create_key_file(new_path(path, sizeof(path)), err, sizeof(err)) == TWOFA_OK);
	CHECK(twofa_crypto_load_key(path, key, err, sizeof(err)) == TWOFA_OK);
	if (geteuid() != 0) return;

	CHECK(chown(path, 65534, (gid_t) -1) == 0);
	CHECK(chmod(tmpdir, 0711) == 0);	/* let the child reach the file */
	pid = fork();
	if (pid == 0) {
		if (setgid(65534) < 0 || setuid(65534) < 0) _exit(3);
		_exit(twofa_crypto_load_key(path, key, err, sizeof(err)) == TWOFA_OK ? 0 : 1);
	}
	CHECK(pid > 0);
	if (pid > 0) waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && (WEXITSTATUS(status) == 0));
	chmod(tmpdir, 0700);
}

static void missing_key_file_is_io_error(void)
{
	char path[512];

	load_fails(new_path(path, sizeof(path)), TWOFA_ERR_IO, NULL);
}

static void key_file_that_is_not_a_regular_file_is_refused(void)
{
	char path[512];

	CHECK(mkdir(new_path(path, sizeof(path)), 0700) == 0);
	load_fails(path, TWOFA_ERR_IO, "not a regular file");
	rmdir(path);

	CHECK(mkfifo(new_path(path, sizeof(path)), 0600) == 0);	/* must not hang */
	load_fails(path, TWOFA_ERR_IO, "not a regular file");
	unlink(path);
}

static void key_file_with_wrong_length_is_refused(void)
{
	char path[512];

	write_key_of_len(new_path(path, sizeof(path)), 31);
	load_fails(path, TWOFA_ERR_MALFORMED, NULL);
	write_key_of_len(new_path(path, sizeof(path)), 33);
	load_fails(path, TWOFA_ERR_MALFORMED, NULL);
	write_key_of_len(new_path(path, sizeof(path)), 16);
	load_fails(path, TWOFA_ERR_MALFORMED, NULL);
	write_key_of_len(new_path(path, sizeof(path)), 64);
	load_fails(path, TWOFA_ERR_MALFORMED, NULL);
	write_file(new_path(path, sizeof(path)), "", 0600);
	load_fails(path, TWOFA_ERR_MALFORMED, NULL);
}

static void key_file_with_garbage_is_refused(void)
{
	char path[512];

	write_file(new_path(path, sizeof(path)), "this is not base64 at all, not even close!!\n", 0600);
	load_fails(path, TWOFA_ERR_MALFORMED, NULL);
	write_file(new_path(path, sizeof(path)), "pWt5pWt5pWt5pWt5pWt5pWt5pWt5pWt5pWt5pWt5pWs=\n"
		   "pWt5pWt5pWt5pWt5pWt5pWt5pWt5pWt5pWt5pWt5pWs=\n", 0600);
	load_fails(path, TWOFA_ERR_MALFORMED, NULL);
}

/* A key followed by more: the whole file is the key, not its first 127 bytes. */
static void key_file_with_a_valid_first_line_and_more_is_refused(void)
{
	char		path[512], text[512];
	uint8_t		raw[TWOFA_KEY_LEN], key[TWOFA_KEY_LEN];
	int		n;

	memset(raw, 0x5a, sizeof(raw));
	n = EVP_EncodeBlock((unsigned char *) text, raw, sizeof(raw));
	memset(text + n, '\n', 200);
	text[n + 200] = '\0';
	write_file(new_path(path, sizeof(path)), text, 0600);
	load_fails(path, TWOFA_ERR_MALFORMED, NULL);

	/* The parser alone: the same bytes, and one line too long without a newline. */
	CHECK(twofa_crypto_parse_key(text, strlen(text), key) == TWOFA_ERR_MALFORMED);
	CHECK(twofa_crypto_parse_key(text, (size_t) n + 1, key) == TWOFA_OK);
	CHECK(memcmp(key, raw, sizeof(raw)) == 0);
	CHECK(twofa_crypto_parse_key(text, (size_t) n - 1, key) == TWOFA_ERR_MALFORMED);
}

static void key_file_without_newline_or_with_crlf_loads(void)
{
	char		path[512], err[256] = "", line[64];
	uint8_t		raw[TWOFA_KEY_LEN], key[TWOFA_KEY_LEN];
	int		n;

	memset(raw, 0x3c, sizeof(raw));
	n = EVP_EncodeBlock((unsigned char *) line, raw, sizeof(raw));
	line[n] = '\0';
	write_file(new_path(path, sizeof(path)), line, 0600);
	CHECK(twofa_crypto_load_key(path, key, err, sizeof(err)) == TWOFA_OK);
	CHECK(memcmp(key, raw, sizeof(raw)) == 0);

	line[n] = '\r';
	line[n + 1] = '\n';
	line[n + 2] = '\0';
	write_file(new_path(path, sizeof(path)), line, 0600);
	CHECK(twofa_crypto_load_key(path, key, err, sizeof(err)) == TWOFA_OK);
	CHECK(memcmp(key, raw, sizeof(raw)) == 0);
}

static void yescrypt_hash_verifies_its_password(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*hash = NULL;

	CHECK(twofa_crypto_hash_password(ctx, "correct horse", NULL, &hash) == TWOFA_OK);
	CHECK(hash && (strncmp(hash, "$y$", 3) == 0));
	CHECK(twofa_crypto_verify_password("correct horse", hash) == TWOFA_OK);
	CHECK(twofa_crypto_verify_password("correct horsE", hash) == TWOFA_ERR_BAD_PASSWORD);
	CHECK(twofa_crypto_verify_password("", hash) == TWOFA_ERR_BAD_PASSWORD);
	talloc_free(ctx);
}

static void sha512crypt_hash_verifies_its_password(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*hash = NULL;

	CHECK(twofa_crypto_hash_password(ctx, "correct horse", "$6$", &hash) == TWOFA_OK);
	CHECK(hash && (strncmp(hash, "$6$", 3) == 0));
	CHECK(twofa_crypto_verify_password("correct horse", hash) == TWOFA_OK);
	CHECK(twofa_crypto_verify_password("correct hors", hash) == TWOFA_ERR_BAD_PASSWORD);
	talloc_free(ctx);
}

static void same_password_hashes_differently_each_time(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*a = NULL, *b = NULL;

	CHECK(twofa_crypto_hash_password(ctx, "pw", NULL, &a) == TWOFA_OK);
	CHECK(twofa_crypto_hash_password(ctx, "pw", NULL, &b) == TWOFA_OK);
	CHECK(a && b && (strcmp(a, b) != 0));
	talloc_free(ctx);
}

static void unknown_hash_prefix_is_refused(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*hash = NULL;

	CHECK(twofa_crypto_hash_password(ctx, "pw", "$1$", &hash) == TWOFA_ERR_MALFORMED);
	CHECK(twofa_crypto_hash_password(ctx, "pw", "", &hash) == TWOFA_ERR_MALFORMED);
	CHECK(twofa_crypto_hash_password(ctx, "pw", "$y", &hash) == TWOFA_ERR_MALFORMED);
	CHECK(hash == NULL);
	talloc_free(ctx);
}

static void unparseable_hash_is_bad_password(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*hash = NULL, *cut;

	CHECK(twofa_crypto_verify_password("pw", "") == TWOFA_ERR_BAD_PASSWORD);
	CHECK(twofa_crypto_verify_password("pw", "*") == TWOFA_ERR_BAD_PASSWORD);
	CHECK(twofa_crypto_verify_password("pw", "*0") == TWOFA_ERR_BAD_PASSWORD);
	CHECK(twofa_crypto_verify_password("pw", "!") == TWOFA_ERR_BAD_PASSWORD);
	CHECK(twofa_crypto_verify_password("pw", "$y$") == TWOFA_ERR_BAD_PASSWORD);
	CHECK(twofa_crypto_verify_password("pw", "$6$") == TWOFA_ERR_BAD_PASSWORD);
	CHECK(twofa_crypto_verify_password("pw", "not a hash") == TWOFA_ERR_BAD_PASSWORD);
	CHECK(twofa_crypto_verify_password("pw", NULL) == TWOFA_ERR_BAD_PASSWORD);
	CHECK(twofa_crypto_verify_password(NULL, "$y$") == TWOFA_ERR_BAD_PASSWORD);

	/* A real hash with its last character cut off must not verify. */
	CHECK(twofa_crypto_hash_password(ctx, "pw", NULL, &hash) == TWOFA_OK);
	cut = hash ? talloc_strndup(ctx, hash, strlen(hash) - 1) : NULL;
	CHECK(cut && (twofa_crypto_verify_password("pw", cut) == TWOFA_ERR_BAD_PASSWORD));
	talloc_free(ctx);
}

static void equal_compares_the_whole_length(void)
{
	CHECK(twofa_crypto_equal("abcdef", "abcdef", 6));
	CHECK(!twofa_crypto_equal("abcdef", "abcdeX", 6));
	CHECK(!twofa_crypto_equal("Xbcdef", "abcdef", 6));
	CHECK(twofa_crypto_equal("abcdeX", "abcdeY", 5));
	CHECK(twofa_crypto_equal("a", "b", 0));
}

/* Remove what the key-file cases left in tmpdir (files and fifos only), then tmpdir. */
static void remove_tmpdir(void)
{
	char	path[512];
	int	i;

	for (i = 1; i <= file_serial; i++) {
		snprintf(path, sizeof(path), "%s/key%d", tmpdir, i);
		if (unlink(path) < 0) rmdir(path);
	}
	if (rmdir(tmpdir) < 0) printf("  could not remove %s: %s\n", tmpdir, strerror(errno));
}

int main(void)
{
	char const *base = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/twofa-test-crypto.XXXXXX", base ? base : "/tmp");
	if (!mkdtemp(tmpdir)) {
		printf("FAIL mkdtemp %s: %s\n", tmpdir, strerror(errno));
		return 1;
	}

	RUN(sealed_secret_opens_with_same_key_and_user);
	RUN(sealed_blob_is_version_nonce_ciphertext_tag);
	RUN(seal_uses_a_fresh_nonce_each_time);
	RUN(sealed_secret_fails_for_other_user);
	RUN(sealed_secret_fails_with_other_key);
	RUN(tampered_ciphertext_is_refused);
	RUN(truncated_or_extended_blob_is_refused);
	RUN(empty_secret_round_trips);
	RUN(secret_is_wiped_before_free);
	RUN(secret_alloc_is_zeroed);
	RUN(random_bytes_differ_each_call);
	RUN(random_chars_refuses_an_empty_alphabet);
	RUN(key_file_is_created_mode_0600_despite_umask);
	RUN(key_file_round_trips);
	RUN(two_key_files_hold_different_keys);
	RUN(existing_key_file_is_never_overwritten);
	RUN(key_file_in_missing_directory_is_io_error);
	RUN(key_file_readable_by_group_is_refused);
	RUN(key_file_writable_by_others_is_refused);
	RUN(key_file_owner_read_only_is_accepted);
	RUN(key_file_owned_by_another_user_is_refused);
	RUN(key_file_owned_by_the_reader_is_accepted);
	RUN(missing_key_file_is_io_error);
	RUN(key_file_that_is_not_a_regular_file_is_refused);
	RUN(key_file_with_wrong_length_is_refused);
	RUN(key_file_with_garbage_is_refused);
	RUN(key_file_without_newline_or_with_crlf_loads);
	RUN(key_file_with_a_valid_first_line_and_more_is_refused);
	RUN(yescrypt_hash_verifies_its_password);
	RUN(sha512crypt_hash_verifies_its_password);
	RUN(same_password_hashes_differently_each_time);
	RUN(unknown_hash_prefix_is_refused);
	RUN(unparseable_hash_is_bad_password);
	RUN(equal_compares_the_whole_length);

	remove_tmpdir();
	CHECK_EXIT();
}
