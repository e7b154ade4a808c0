/*
 * crypto.c	Secrets at rest (AES-256-GCM), the key file, randomness and
 *		crypt(3) password hashes.  OpenSSL and libxcrypt do the work.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <crypt.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include "crypto.h"

/* Longer key files are refused: the 44 base64 characters and a newline, with room to spare. */
#define KEY_LINE_MAX	128

/*
 *	AES-256-GCM, fetched once per process: EVP_aes_256_gcm() made
 *	OpenSSL 3 look the cipher up again, under its global lock, on every
 *	call.  Read-only once fetched, so radiusd's threads share it.
 */
static EVP_CIPHER *aes_gcm;
static pthread_once_t aes_gcm_once = PTHREAD_ONCE_INIT;

static void aes_gcm_fetch(void)
{
	aes_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
}

static EVP_CIPHER const *cipher(void)
{
	if (pthread_once(&aes_gcm_once, aes_gcm_fetch) != 0) return NULL;
	return aes_gcm;
}

static int _secret_free(twofa_secret_t *s)
{
	if (s->data) OPENSSL_cleanse(s->data, s->len);	/* before talloc frees s->data, its child */
	return 0;
}

twofa_secret_t *twofa_secret_alloc(TALLOC_CTX *ctx, size_t len)
{
	twofa_secret_t *s = talloc_zero(ctx, twofa_secret_t);

	if (!s) return NULL;
	s->data = talloc_zero_array(s, uint8_t, len ? len : 1);
	if (!s->data) {
		talloc_free(s);
		return NULL;
	}
	s->len = len;
	talloc_set_destructor(s, _secret_free);

	return s;
}

twofa_rcode_t twofa_crypto_random(uint8_t *buf, size_t len)
{
	if (len > INT_MAX) return TWOFA_ERR_CRYPTO;
	return (RAND_bytes(buf, (int) len) == 1) ? TWOFA_OK : TWOFA_ERR_CRYPTO;
}

twofa_rcode_t twofa_crypto_random_chars(char const *alphabet, size_t n, char *out)
{
	size_t	radix = strlen(alphabet), limit;
	uint8_t	pool[64];
	size_t	used = sizeof(pool), o = 0;

	if (!radix || (radix > 256)) return TWOFA_ERR_CRYPTO;
	limit = 256 - (256 % radix);		/* bytes at or above it are drawn again */
	while (o < n) {
		if (used == sizeof(pool)) {
			if (RAND_bytes(pool, sizeof(pool)) != 1) {
				OPENSSL_cleanse(pool, sizeof(pool));
				OPENSSL_cleanse(out, n + 1);
				return TWOFA_ERR_CRYPTO;
			}
			used = 0;
		}
		if (pool[used] >= limit) {
			used++;
			continue;
		}
		out[o++] = alphabet[pool[used++] % radix];
	}
	out[o] = '\0';
	OPENSSL_cleanse(pool, sizeof(pool));
	return TWOFA_OK;
}

twofa_rcode_t twofa_crypto_derive_key(uint8_t const key[TWOFA_KEY_LEN], char const *label, uint8_t *out, size_t out_len)
{
	EVP_KDF		*kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX	*kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM	params[4];
	int		ok;

	EVP_KDF_free(kdf);
	if (!kctx) return TWOFA_ERR_CRYPTO;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *) "SHA256", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *) key, TWOFA_KEY_LEN);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *) label, strlen(label));
	params[3] = OSSL_PARAM_construct_end();
	ok = EVP_KDF_derive(kctx, out, out_len, params);
	EVP_KDF_CTX_free(kctx);
	if (ok == 1) return TWOFA_OK;
	OPENSSL_cleanse(out, out_len);
	return TWOFA_ERR_CRYPTO;
}

twofa_rcode_t twofa_crypto_hmac(uint8_t const *key, size_t key_len, uint8_t const *salt, size_t salt_len,
				uint8_t const *data, size_t data_len, uint8_t out[TWOFA_HMAC_LEN])
{
	EVP_MAC		*mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX	*mctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM	params[2];
	size_t		out_len = 0;
	int		ok;

	EVP_MAC_free(mac);
	if (!mctx) return TWOFA_ERR_CRYPTO;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *) "SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	ok = EVP_MAC_init(mctx, key, key_len, params) &&
	     EVP_MAC_update(mctx, salt, salt_len) &&
	     EVP_MAC_update(mctx, data, data_len) &&
	     EVP_MAC_final(mctx, out, &out_len, TWOFA_HMAC_LEN);
	EVP_MAC_CTX_free(mctx);
	if (ok && (out_len == TWOFA_HMAC_LEN)) return TWOFA_OK;
	OPENSSL_cleanse(out, TWOFA_HMAC_LEN);
	return TWOFA_ERR_CRYPTO;
}

twofa_rcode_t twofa_crypto_create_key_file(char const *path, char *err, size_t err_len)
{
	uint8_t		key[TWOFA_KEY_LEN];
	char		line[KEY_LINE_MAX];
	int		fd, n, saved;
	twofa_rcode_t	rc = TWOFA_OK;

	if (twofa_crypto_random(key, sizeof(key)) != TWOFA_OK) {
		snprintf(err, err_len, "RAND_bytes failed");
		return TWOFA_ERR_CRYPTO;
	}
	n = EVP_EncodeBlock((unsigned char *) line, key, sizeof(key));	/* 44 characters and a NUL */
	OPENSSL_cleanse(key, sizeof(key));
	line[n++] = '\n';

	/* O_EXCL: an existing key would leave every sealed secret unreadable. */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		saved = errno;
		OPENSSL_cleanse(line, sizeof(line));
		snprintf(err, err_len, "%s: %s", path, strerror(saved));
		return (saved == EEXIST) ? TWOFA_ERR_EXISTS : TWOFA_ERR_IO;
	}

	/* fchmod as well: the mode given to open() is filtered by the umask. */
	if ((fchmod(fd, 0600) < 0) || (write(fd, line, n) != n) || (fsync(fd) < 0)) {
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		rc = TWOFA_ERR_IO;
	}
	OPENSSL_cleanse(line, sizeof(line));
	if ((close(fd) < 0) && (rc == TWOFA_OK)) {
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		rc = TWOFA_ERR_IO;
	}
	if (rc != TWOFA_OK) unlink(path);	/* never leave a half-written key behind */

	return rc;
}

/* Read the whole (small) file into buf, NUL-terminated.  @return bytes read, or -1. */
static ssize_t read_small_file(int fd, char *buf, size_t size)
{
	size_t	used = 0;

	while (used < size - 1) {
		ssize_t n = read(fd, buf + used, size - 1 - used);

		if (n < 0) {
			if (errno == EINTR) continue;
			return -1;
		}
		if (n == 0) break;
		used += (size_t) n;
	}
	buf[used] = '\0';

	return (ssize_t) used;
}

/* Open path for reading if it is a regular file only its owner may use, and
 * that owner is the reader (euid) or root. */
static twofa_rcode_t open_key_file(char const *path, int *fd_out, char *err, size_t err_len)
{
	struct stat	st;
	int		fd, saved;

	/* O_NONBLOCK: a FIFO put in the key's place must not hang start-up. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		saved = errno;
		snprintf(err, err_len, "%s: %s", path, strerror(saved));
		return TWOFA_ERR_IO;
	}
	if (fstat(fd, &st) < 0) {
		saved = errno;
		snprintf(err, err_len, "%s: %s", path, strerror(saved));
		close(fd);
		return TWOFA_ERR_IO;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, err_len, "%s: not a regular file", path);
		close(fd);
		return TWOFA_ERR_IO;
	}
	if (st.st_mode & 077) {
		snprintf(err, err_len, "%s: group or others may access it (mode %04o), it must be mode 0600",
			 path, (unsigned int) (st.st_mode & 07777));
		close(fd);
		return TWOFA_ERR_IO;
	}
	/* As ssh: an account that owns the file could replace the key under us. */
	if ((st.st_uid != geteuid()) && (st.st_uid != 0)) {
		snprintf(err, err_len, "%s: owned by uid %u, it must be owned by uid %u (who reads it) or root",
			 path, (unsigned int) st.st_uid, (unsigned int) geteuid());
		close(fd);
		return TWOFA_ERR_IO;
	}

	*fd_out = fd;
	return TWOFA_OK;
}

twofa_rcode_t twofa_crypto_parse_key(char const *text, size_t len, uint8_t key[TWOFA_KEY_LEN])
{
	uint8_t	raw[(KEY_LINE_MAX / 4) * 3];
	int	n, pad = 0;

	/* A file longer than one line is not ours, whatever its first line holds. */
	if (!text || (len >= KEY_LINE_MAX)) return TWOFA_ERR_MALFORMED;

	while ((len > 0) && ((text[len - 1] == '\n') || (text[len - 1] == '\r'))) len--;
	if (len == 0) return TWOFA_ERR_MALFORMED;
	if (text[len - 1] == '=') pad++;
	if ((len >= 2) && (text[len - 2] == '=')) pad++;

	/*
	 *	EVP_DecodeBlock counts each '=' as a decoded zero byte, so
	 *	32 bytes come back as 33: take the padding off.
	 */
	n = EVP_DecodeBlock(raw, (unsigned char const *) text, (int) len);
	if ((n < 0) || ((n - pad) != TWOFA_KEY_LEN)) {
		OPENSSL_cleanse(raw, sizeof(raw));
		return TWOFA_ERR_MALFORMED;
	}
	memcpy(key, raw, TWOFA_KEY_LEN);
	OPENSSL_cleanse(raw, sizeof(raw));

	return TWOFA_OK;
}

twofa_rcode_t twofa_crypto_load_key(char const *path, uint8_t key[TWOFA_KEY_LEN], char *err, size_t err_len)
{
	char		text[KEY_LINE_MAX + 1];	/* room for one byte too many, to see a longer file */
	ssize_t		len;
	int		fd;
	twofa_rcode_t	rc;

	rc = open_key_file(path, &fd, err, err_len);
	if (rc != TWOFA_OK) return rc;

	len = read_small_file(fd, text, sizeof(text));
	if (len < 0) snprintf(err, err_len, "%s: %s", path, strerror(errno));
	close(fd);
	if (len < 0) {
		OPENSSL_cleanse(text, sizeof(text));	/* a read that failed part way may have left some of the key */
		return TWOFA_ERR_IO;
	}

	rc = twofa_crypto_parse_key(text, (size_t) len, key);
	OPENSSL_cleanse(text, sizeof(text));
	if (rc != TWOFA_OK) {
		snprintf(err, err_len, "%s: not a key made by \"twofa-admin init\" (want one line of base64 of %d bytes)",
			 path, TWOFA_KEY_LEN);
	}

	return rc;
}

twofa_rcode_t twofa_crypto_seal(TALLOC_CTX *ctx, uint8_t const key[TWOFA_KEY_LEN], char const *aad,
				uint8_t const *plain, size_t plain_len, uint8_t **out, size_t *out_len)
{
	EVP_CIPHER_CTX	*cctx;
	EVP_CIPHER const *aes = cipher();
	uint8_t		*blob, *nonce, *ct;
	size_t		aad_len;
	int		n, ok;

	if (!key || !aad || (!plain && plain_len) || (plain_len > INT_MAX)) return TWOFA_ERR_MALFORMED;
	aad_len = strlen(aad);
	if (aad_len > INT_MAX) return TWOFA_ERR_MALFORMED;

	blob = talloc_array(ctx, uint8_t, TWOFA_SEAL_OVERHEAD + plain_len);
	if (!blob) return TWOFA_ERR_NO_MEMORY;
	blob[0] = TWOFA_SEAL_VERSION;
	nonce = blob + 1;
	ct = nonce + TWOFA_NONCE_LEN;

	/* A fresh random nonce per seal: 2^-32 odds of reuse after 2^32 seals under one key. */
	if (twofa_crypto_random(nonce, TWOFA_NONCE_LEN) != TWOFA_OK) {
		talloc_free(blob);
		return TWOFA_ERR_CRYPTO;
	}

	cctx = EVP_CIPHER_CTX_new();
	ok = cctx && aes &&
	     EVP_EncryptInit_ex(cctx, aes, NULL, NULL, NULL) &&
	     EVP_CIPHER_CTX_ctrl(cctx, EVP_CTRL_GCM_SET_IVLEN, TWOFA_NONCE_LEN, NULL) &&
	     EVP_EncryptInit_ex(cctx, NULL, NULL, key, nonce) &&
	     EVP_EncryptUpdate(cctx, NULL, &n, (uint8_t const *) aad, (int) aad_len) &&
	     EVP_EncryptUpdate(cctx, ct, &n, plain, (int) plain_len) &&
	     EVP_EncryptFinal_ex(cctx, ct + n, &n) &&
	     EVP_CIPHER_CTX_ctrl(cctx, EVP_CTRL_GCM_GET_TAG, TWOFA_TAG_LEN, ct + plain_len);
	EVP_CIPHER_CTX_free(cctx);
	if (!ok) {
		talloc_free(blob);
		return TWOFA_ERR_CRYPTO;
	}

	*out = blob;
	*out_len = TWOFA_SEAL_OVERHEAD + plain_len;
	return TWOFA_OK;
}

twofa_rcode_t twofa_crypto_open(TALLOC_CTX *ctx, uint8_t const key[TWOFA_KEY_LEN], char const *aad,
				uint8_t const *sealed, size_t sealed_len, twofa_secret_t **out)
{
	EVP_CIPHER_CTX	*cctx;
	EVP_CIPHER const *aes = cipher();
	twofa_secret_t	*secret;
	uint8_t const	*nonce, *ct;
	size_t		ct_len, aad_len;
	int		n, ok;

	/* A wrong version or a short blob is a changed byte like any other. */
	if (!key || !aad || !sealed || (sealed_len < TWOFA_SEAL_OVERHEAD) || (sealed[0] != TWOFA_SEAL_VERSION)) {
		return TWOFA_ERR_CRYPTO;
	}
	ct_len = sealed_len - TWOFA_SEAL_OVERHEAD;
	aad_len = strlen(aad);
	if ((ct_len > INT_MAX) || (aad_len > INT_MAX)) return TWOFA_ERR_CRYPTO;
	nonce = sealed + 1;
	ct = nonce + TWOFA_NONCE_LEN;

	secret = twofa_secret_alloc(ctx, ct_len);
	if (!secret) return TWOFA_ERR_NO_MEMORY;

	cctx = EVP_CIPHER_CTX_new();
	ok = cctx && aes &&
	     EVP_DecryptInit_ex(cctx, aes, NULL, NULL, NULL) &&
	     EVP_CIPHER_CTX_ctrl(cctx, EVP_CTRL_GCM_SET_IVLEN, TWOFA_NONCE_LEN, NULL) &&
	     EVP_DecryptInit_ex(cctx, NULL, NULL, key, nonce) &&
	     EVP_DecryptUpdate(cctx, NULL, &n, (uint8_t const *) aad, (int) aad_len) &&
	     EVP_DecryptUpdate(cctx, secret->data, &n, ct, (int) ct_len) &&
	     EVP_CIPHER_CTX_ctrl(cctx, EVP_CTRL_GCM_SET_TAG, TWOFA_TAG_LEN, (void *) (ct + ct_len)) &&
	     (EVP_DecryptFinal_ex(cctx, secret->data + n, &n) > 0);	/* the tag check */
	EVP_CIPHER_CTX_free(cctx);
	if (!ok) {
		talloc_free(secret);	/* its destructor wipes whatever was decrypted */
		return TWOFA_ERR_CRYPTO;
	}

	*out = secret;
	return TWOFA_OK;
}

/*
 *	struct crypt_data is about 32 KiB: too big for a worker thread's
 *	stack, so it lives on the heap, and holds the password while in use.
 */
static int _crypt_data_free(struct crypt_data *data)
{
	OPENSSL_cleanse(data, sizeof(*data));
	return 0;
}

static struct crypt_data *crypt_data_alloc(void)
{
	struct crypt_data *data = talloc_zero(NULL, struct crypt_data);

	if (data) talloc_set_destructor(data, _crypt_data_free);
	return data;
}

/* The prefixes we hash new passwords with; crypt(3) knows weaker ones too. */
static bool hash_prefix_ok(char const *prefix)
{
	return (strcmp(prefix, "$y$") == 0) || (strcmp(prefix, "$6$") == 0);
}

twofa_rcode_t twofa_crypto_hash_password(TALLOC_CTX *ctx, char const *password, char const *prefix, char **out)
{
	uint8_t			rbytes[16];
	char			setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data	*data;
	char const		*gensalt, *hash;
	char			*copy;

	if (!prefix) prefix = "$y$";
	if (!password || !hash_prefix_ok(prefix)) return TWOFA_ERR_MALFORMED;

	if (twofa_crypto_random(rbytes, sizeof(rbytes)) != TWOFA_OK) return TWOFA_ERR_CRYPTO;
	/* count 0: the library's default cost for the method. */
	gensalt = crypt_gensalt_rn(prefix, 0, (char const *) rbytes, sizeof(rbytes), setting, sizeof(setting));
	OPENSSL_cleanse(rbytes, sizeof(rbytes));
	if (!gensalt || (setting[0] == '*')) return TWOFA_ERR_CRYPTO;

	data = crypt_data_alloc();
	if (!data) return TWOFA_ERR_NO_MEMORY;
	hash = crypt_rn(password, setting, data, sizeof(*data));
	if (!hash || (hash[0] == '*')) {		/* "*0" or "*1": libxcrypt's failure tokens */
		talloc_free(data);
		return TWOFA_ERR_CRYPTO;
	}
	copy = talloc_strdup(ctx, hash);
	talloc_free(data);
	if (!copy) return TWOFA_ERR_NO_MEMORY;

	*out = copy;
	return TWOFA_OK;
}

twofa_rcode_t twofa_crypto_verify_password(char const *password, char const *hash)
{
	struct crypt_data	*data;
	char const		*computed;
	size_t			hash_len;
	twofa_rcode_t		rc = TWOFA_ERR_BAD_PASSWORD;

	if (!password || !hash || !*hash || (hash[0] == '*')) return TWOFA_ERR_BAD_PASSWORD;
	hash_len = strlen(hash);

	data = crypt_data_alloc();
	if (!data) return TWOFA_ERR_NO_MEMORY;

	/* The stored hash is the setting: same method, cost and salt. */
	computed = crypt_rn(password, hash, data, sizeof(*data));
	if (computed && (computed[0] != '*') && (strlen(computed) == hash_len) &&
	    twofa_crypto_equal(computed, hash, hash_len)) {
		rc = TWOFA_OK;
	}
	talloc_free(data);

	return rc;
}

int twofa_crypto_equal(char const *a, char const *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}
