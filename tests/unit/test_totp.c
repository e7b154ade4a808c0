/*
 * test_totp.c	HOTP/TOTP against RFC 4226 and RFC 6238, and the promises of
 *		twofa_totp_verify_code: window, replay, format.
 *
 *		Vectors are read at run time from the directory given as argv[1],
 *		else from $TWOFA_VECTORS.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "totp.h"

static char const *vectors_dir;

static uint8_t const sha1_seed[] = "12345678901234567890";
static uint8_t const sha256_seed[] = "12345678901234567890123456789012";
static uint8_t const sha512_seed[] = "1234567890123456789012345678901234567890123456789012345678901234";

#define SEED_LEN(s)	(sizeof(s) - 1)

static twofa_totp_params_t const sha1_6 = { .hash = TWOFA_HASH_SHA1, .digits = 6, .period = 30 };

/* Open a vectors file; NULL (and a note) if it is not there. */
static FILE *open_vectors(char const *name)
{
	char	path[4096];
	FILE	*fp;

	if (!vectors_dir) {
		printf("  no vectors directory: give it as argv[1] or TWOFA_VECTORS\n");
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/%s", vectors_dir, name);
	fp = fopen(path, "r");
	if (!fp) printf("  cannot open %s\n", path);
	return fp;
}

/* Next line that is neither blank nor a comment; NULL at the end. */
static char *next_vector(FILE *fp, char *line, size_t size)
{
	while (fgets(line, (int) size, fp)) {
		char *p = line + strspn(line, " \t");

		if ((*p == '#') || (*p == '\n') || (*p == '\0')) continue;
		return p;
	}
	return NULL;
}

/* The RFC 6238 seed for a hash, as the RFC gives it. */
static void seed_for(twofa_hash_t hash, uint8_t const **key, size_t *key_len)
{
	switch (hash) {
	case TWOFA_HASH_SHA1:	*key = sha1_seed; *key_len = SEED_LEN(sha1_seed); return;
	case TWOFA_HASH_SHA256:	*key = sha256_seed; *key_len = SEED_LEN(sha256_seed); return;
	case TWOFA_HASH_SHA512:	*key = sha512_seed; *key_len = SEED_LEN(sha512_seed); return;
	}
	*key = NULL;
	*key_len = 0;
}

static void rfc4226_hotp_vectors_match(void)
{
	char		line[256], *p, want[16], got[TWOFA_TOTP_MAX_DIGITS + 1];
	unsigned long	counter;
	int		seen = 0;
	FILE		*fp = open_vectors("rfc4226.txt");

	CHECK(fp != NULL);
	if (!fp) return;
	while ((p = next_vector(fp, line, sizeof(line)))) {
		CHECK(sscanf(p, "%lu %15s", &counter, want) == 2);
		CHECK(twofa_hotp_code(sha1_seed, SEED_LEN(sha1_seed), TWOFA_HASH_SHA1, 6, counter, got) == TWOFA_OK);
		CHECK_STR(got, want);
		seen++;
	}
	fclose(fp);
	CHECK(seen == 10);
}

/* Every RFC 6238 vector for one hash: the step number, HOTP of the step, and verify at that time. */
static int rfc6238_check(twofa_hash_t only)
{
	char		line[256], *p, name[16], want[16], got[TWOFA_TOTP_MAX_DIGITS + 1];
	long long	when, step;
	int		seen = 0;
	FILE		*fp = open_vectors("rfc6238.txt");

	CHECK(fp != NULL);
	if (!fp) return 0;
	while ((p = next_vector(fp, line, sizeof(line)))) {
		twofa_hash_t		hash;
		twofa_totp_params_t	params;
		uint8_t const		*key;
		size_t			key_len;
		int64_t			matched = -1;

		CHECK(sscanf(p, "%15s %lld %lld %15s", name, &when, &step, want) == 4);
		CHECK(twofa_hash_from_name(name, &hash) == 0);
		if (hash != only) continue;
		seed_for(hash, &key, &key_len);

		params = (twofa_totp_params_t) { .hash = hash, .digits = 8, .period = 30 };
		CHECK(twofa_totp_step(&params, (time_t) when) == step);
		CHECK(twofa_hotp_code(key, key_len, hash, 8, (uint64_t) step, got) == TWOFA_OK);
		CHECK_STR(got, want);
		CHECK(twofa_totp_verify_code(key, key_len, &params, 0, (time_t) when, -1, want, &matched) == TWOFA_OK);
		CHECK(matched == step);
		seen++;
	}
	fclose(fp);
	return seen;
}

static void rfc6238_sha1_vectors_match(void)
{
	CHECK(rfc6238_check(TWOFA_HASH_SHA1) == 6);
}

static void rfc6238_sha256_vectors_match(void)
{
	CHECK(rfc6238_check(TWOFA_HASH_SHA256) == 6);
}

static void rfc6238_sha512_vectors_match(void)
{
	CHECK(rfc6238_check(TWOFA_HASH_SHA512) == 6);
}

/* Fewer digits are the same number mod 10^n: the RFC's 8-digit 94287082 is 287082 in 6. */
static void six_and_seven_digit_codes_are_the_low_digits(void)
{
	char got[TWOFA_TOTP_MAX_DIGITS + 1];

	CHECK(twofa_hotp_code(sha1_seed, SEED_LEN(sha1_seed), TWOFA_HASH_SHA1, 6, 1, got) == TWOFA_OK);
	CHECK_STR(got, "287082");
	CHECK(twofa_hotp_code(sha1_seed, SEED_LEN(sha1_seed), TWOFA_HASH_SHA1, 7, 1, got) == TWOFA_OK);
	CHECK_STR(got, "4287082");
	CHECK(twofa_hotp_code(sha1_seed, SEED_LEN(sha1_seed), TWOFA_HASH_SHA1, 8, 37037036, got) == TWOFA_OK);
	CHECK_STR(got, "07081804");	/* leading zero kept */
}

static void hotp_refuses_digits_outside_6_to_8(void)
{
	char got[TWOFA_TOTP_MAX_DIGITS + 1];

	CHECK(twofa_hotp_code(sha1_seed, SEED_LEN(sha1_seed), TWOFA_HASH_SHA1, 5, 1, got) == TWOFA_ERR_MALFORMED);
	CHECK(twofa_hotp_code(sha1_seed, SEED_LEN(sha1_seed), TWOFA_HASH_SHA1, 9, 1, got) == TWOFA_ERR_MALFORMED);
	CHECK(twofa_hotp_code(sha1_seed, SEED_LEN(sha1_seed), TWOFA_HASH_SHA1, 0, 1, got) == TWOFA_ERR_MALFORMED);
}

static void unknown_hash_is_a_crypto_error(void)
{
	char			got[TWOFA_TOTP_MAX_DIGITS + 1];
	twofa_totp_params_t	params = { .hash = (twofa_hash_t) 7, .digits = 6, .period = 30 };
	int64_t			matched = -1;

	CHECK(twofa_hotp_code(sha1_seed, SEED_LEN(sha1_seed), (twofa_hash_t) 7, 6, 1, got) == TWOFA_ERR_CRYPTO);
	CHECK(twofa_totp_verify_code(sha1_seed, SEED_LEN(sha1_seed), &params, 1, 59, -1, "287082", &matched) == TWOFA_ERR_CRYPTO);
}

static void hash_names_round_trip(void)
{
	twofa_hash_t hash = TWOFA_HASH_SHA1;

	CHECK_STR(twofa_hash_name(TWOFA_HASH_SHA1), "SHA1");
	CHECK_STR(twofa_hash_name(TWOFA_HASH_SHA256), "SHA256");
	CHECK_STR(twofa_hash_name(TWOFA_HASH_SHA512), "SHA512");
	CHECK((twofa_hash_from_name("sha256", &hash) == 0) && (hash == TWOFA_HASH_SHA256));
	CHECK((twofa_hash_from_name("Sha512", &hash) == 0) && (hash == TWOFA_HASH_SHA512));
	CHECK((twofa_hash_from_name("SHA1", &hash) == 0) && (hash == TWOFA_HASH_SHA1));
	CHECK(twofa_hash_from_name("MD5", &hash) == -1);
	CHECK(twofa_hash_from_name("SHA", &hash) == -1);
	CHECK(twofa_hash_from_name("", &hash) == -1);
}

static void totp_step_of_negative_time_is_zero(void)
{
	CHECK(twofa_totp_step(&sha1_6, -1) == 0);
	CHECK(twofa_totp_step(&sha1_6, -100000) == 0);
	CHECK(twofa_totp_step(&sha1_6, 29) == 0);
	CHECK(twofa_totp_step(&sha1_6, 30) == 1);
}

/* The 6-digit code for a step, for the verify cases below. */
static char const *code_at(int64_t step, char buf[TWOFA_TOTP_MAX_DIGITS + 1])
{
	if (twofa_hotp_code(sha1_seed, SEED_LEN(sha1_seed), TWOFA_HASH_SHA1, 6, (uint64_t) step, buf) != TWOFA_OK) return "";
	return buf;
}

#define NOW		((time_t) 1700000015)		/* step 56666667 */
#define NOW_STEP	((int64_t) 56666667)

static twofa_rcode_t verify(char const *code, unsigned int window, int64_t last_step, int64_t *matched)
{
	*matched = -42;
	return twofa_totp_verify_code(sha1_seed, SEED_LEN(sha1_seed), &sha1_6, window, NOW, last_step, code, matched);
}

static void current_code_is_accepted(void)
{
	char	buf[TWOFA_TOTP_MAX_DIGITS + 1];
	int64_t	matched;

	CHECK(twofa_totp_step(&sha1_6, NOW) == NOW_STEP);
	CHECK(verify(code_at(NOW_STEP, buf), 0, -1, &matched) == TWOFA_OK);
	CHECK(matched == NOW_STEP);
}

static void window_accepts_one_step_drift(void)
{
	char	buf[TWOFA_TOTP_MAX_DIGITS + 1];
	int64_t	matched;

	CHECK(verify(code_at(NOW_STEP - 1, buf), 1, -1, &matched) == TWOFA_OK);
	CHECK(matched == NOW_STEP - 1);
	CHECK(verify(code_at(NOW_STEP + 1, buf), 1, -1, &matched) == TWOFA_OK);
	CHECK(matched == NOW_STEP + 1);
}

static void window_0_accepts_only_the_current_step(void)
{
	char	buf[TWOFA_TOTP_MAX_DIGITS + 1];
	int64_t	matched;

	CHECK(verify(code_at(NOW_STEP - 1, buf), 0, -1, &matched) == TWOFA_ERR_BAD_CODE);
	CHECK(verify(code_at(NOW_STEP + 1, buf), 0, -1, &matched) == TWOFA_ERR_BAD_CODE);
	CHECK(matched == -42);		/* untouched on failure */
}

static void code_two_steps_old_refused_with_window_1(void)
{
	char	buf[TWOFA_TOTP_MAX_DIGITS + 1];
	int64_t	matched;

	CHECK(verify(code_at(NOW_STEP - 2, buf), 1, -1, &matched) == TWOFA_ERR_BAD_CODE);
	CHECK(verify(code_at(NOW_STEP + 2, buf), 1, -1, &matched) == TWOFA_ERR_BAD_CODE);
	CHECK(verify(code_at(NOW_STEP - 2, buf), 2, -1, &matched) == TWOFA_OK);
}

static void window_is_capped_at_max_window(void)
{
	char	buf[TWOFA_TOTP_MAX_DIGITS + 1];
	int64_t	matched;

	CHECK(verify(code_at(NOW_STEP - TWOFA_TOTP_MAX_WINDOW, buf), 1000, -1, &matched) == TWOFA_OK);
	CHECK(verify(code_at(NOW_STEP - TWOFA_TOTP_MAX_WINDOW - 1, buf), 1000, -1, &matched) == TWOFA_ERR_BAD_CODE);
}

/*
 *	A period other than 30 (an 8-digit SHA-256 factor of 60 s): the step is
 *	floor(now / 60), from its first second to its last, and the step
 *	before or after is outside window 0 but inside window 1.
 */
static void period_60_steps_at_its_own_boundaries(void)
{
	twofa_totp_params_t const	p = { TWOFA_HASH_SHA256, 8, 60 };
	uint8_t const			*key;
	size_t				key_len;
	char				code[TWOFA_TOTP_MAX_DIGITS + 1], prev[TWOFA_TOTP_MAX_DIGITS + 1];
	time_t				start = (time_t) 1700000040;	/* a multiple of 60: step 28333334 */
	int64_t				step = 28333334, matched = -1;

	seed_for(TWOFA_HASH_SHA256, &key, &key_len);
	CHECK(twofa_totp_step(&p, start) == step);
	CHECK(twofa_totp_step(&p, start + 59) == step);
	CHECK(twofa_totp_step(&p, start - 1) == step - 1);
	CHECK(twofa_hotp_code(key, key_len, TWOFA_HASH_SHA256, 8, (uint64_t) step, code) == TWOFA_OK);
	CHECK(twofa_hotp_code(key, key_len, TWOFA_HASH_SHA256, 8, (uint64_t) (step - 1), prev) == TWOFA_OK);
	CHECK(twofa_totp_verify_code(key, key_len, &p, 0, start, -1, code, &matched) == TWOFA_OK && matched == step);
	CHECK(twofa_totp_verify_code(key, key_len, &p, 0, start + 59, -1, code, &matched) == TWOFA_OK);
	CHECK(twofa_totp_verify_code(key, key_len, &p, 0, start + 60, -1, code, &matched) == TWOFA_ERR_BAD_CODE);
	CHECK(twofa_totp_verify_code(key, key_len, &p, 0, start, -1, prev, &matched) == TWOFA_ERR_BAD_CODE);
	CHECK(twofa_totp_verify_code(key, key_len, &p, 1, start + 59, -1, prev, &matched) == TWOFA_OK &&
	      matched == step - 1);
	/* The clock stepped back a period after the step was used: a replay. */
	CHECK(twofa_totp_verify_code(key, key_len, &p, 1, start - 60, step, code, &matched) == TWOFA_ERR_REPLAYED);
}

static void replayed_step_is_refused_by_verify(void)
{
	char	buf[TWOFA_TOTP_MAX_DIGITS + 1];
	int64_t	matched;

	CHECK(verify(code_at(NOW_STEP, buf), 1, -1, &matched) == TWOFA_OK);
	CHECK(verify(code_at(NOW_STEP, buf), 1, matched, &matched) == TWOFA_ERR_REPLAYED);
}

static void older_step_after_newer_one_used_is_replayed(void)
{
	char	buf[TWOFA_TOTP_MAX_DIGITS + 1];
	int64_t	matched;

	CHECK(verify(code_at(NOW_STEP - 1, buf), 1, NOW_STEP, &matched) == TWOFA_ERR_REPLAYED);
}

static void next_step_after_last_used_is_accepted(void)
{
	char	buf[TWOFA_TOTP_MAX_DIGITS + 1];
	int64_t	matched;

	CHECK(verify(code_at(NOW_STEP, buf), 1, NOW_STEP - 1, &matched) == TWOFA_OK);
	CHECK(matched == NOW_STEP);
	CHECK(verify(code_at(NOW_STEP + 1, buf), 1, NOW_STEP, &matched) == TWOFA_OK);
	CHECK(matched == NOW_STEP + 1);
}

/*
 *	With the RFC 4226 key, steps 153567 and 153569 have the same 6-digit
 *	code (468457), found by search.  At step 153568 with window 1 both match.
 */
#define TWIN_A		((int64_t) 153567)
#define TWIN_B		((int64_t) 153569)
#define TWIN_CODE	"468457"

static void two_matching_steps_prefer_the_latest_fresh_one(void)
{
	char	buf[TWOFA_TOTP_MAX_DIGITS + 1];
	time_t	now = (time_t) (TWIN_A + 1) * 30;
	int64_t	matched = -1;

	CHECK_STR(code_at(TWIN_A, buf), TWIN_CODE);
	CHECK_STR(code_at(TWIN_B, buf), TWIN_CODE);

	CHECK(twofa_totp_verify_code(sha1_seed, SEED_LEN(sha1_seed), &sha1_6, 1, now, -1, TWIN_CODE, &matched) == TWOFA_OK);
	CHECK(matched == TWIN_B);
	CHECK(twofa_totp_verify_code(sha1_seed, SEED_LEN(sha1_seed), &sha1_6, 1, now, TWIN_A, TWIN_CODE, &matched) == TWOFA_OK);
	CHECK(matched == TWIN_B);
	CHECK(twofa_totp_verify_code(sha1_seed, SEED_LEN(sha1_seed), &sha1_6, 1, now, TWIN_B, TWIN_CODE, &matched) == TWOFA_ERR_REPLAYED);
}

static void wrong_code_is_bad_code(void)
{
	char	buf[TWOFA_TOTP_MAX_DIGITS + 1], wrong[TWOFA_TOTP_MAX_DIGITS + 1];
	int64_t	matched;

	code_at(NOW_STEP, buf);
	memcpy(wrong, buf, sizeof(wrong));
	wrong[5] = (wrong[5] == '9') ? '0' : wrong[5] + 1;
	CHECK(verify(wrong, 1, -1, &matched) == TWOFA_ERR_BAD_CODE);
}

static void malformed_code_is_refused_before_checking(void)
{
	char	buf[TWOFA_TOTP_MAX_DIGITS + 1], longer[TWOFA_TOTP_MAX_DIGITS + 2];
	int64_t	matched;

	code_at(NOW_STEP, buf);
	snprintf(longer, sizeof(longer), "%sx", buf);	/* a right code with a tail */
	CHECK(verify(longer, 1, -1, &matched) == TWOFA_ERR_MALFORMED);
	CHECK(verify(buf + 1, 1, -1, &matched) == TWOFA_ERR_MALFORMED);
	CHECK(verify("", 1, -1, &matched) == TWOFA_ERR_MALFORMED);
	CHECK(verify("12345", 1, -1, &matched) == TWOFA_ERR_MALFORMED);
	CHECK(verify("1234567", 1, -1, &matched) == TWOFA_ERR_MALFORMED);
	CHECK(verify("12a456", 1, -1, &matched) == TWOFA_ERR_MALFORMED);
	CHECK(verify(" 12345", 1, -1, &matched) == TWOFA_ERR_MALFORMED);
	CHECK(verify("-12345", 1, -1, &matched) == TWOFA_ERR_MALFORMED);
	CHECK(verify(NULL, 1, -1, &matched) == TWOFA_ERR_MALFORMED);
	CHECK(matched == -42);
}

static void bad_params_are_malformed(void)
{
	twofa_totp_params_t	params = sha1_6;
	int64_t			matched;

	params.digits = 9;
	CHECK(twofa_totp_verify_code(sha1_seed, SEED_LEN(sha1_seed), &params, 1, NOW, -1, "123456789", &matched) == TWOFA_ERR_MALFORMED);
	params.digits = 6;
	params.period = 0;
	CHECK(twofa_totp_verify_code(sha1_seed, SEED_LEN(sha1_seed), &params, 1, NOW, -1, "123456", &matched) == TWOFA_ERR_MALFORMED);
}

/* Near the epoch steps below 0 are skipped, not wrapped to huge counters. */
static void steps_below_zero_are_skipped(void)
{
	char	buf[TWOFA_TOTP_MAX_DIGITS + 1];
	int64_t	matched = -1;

	CHECK(twofa_totp_verify_code(sha1_seed, SEED_LEN(sha1_seed), &sha1_6, 2, 0, -1, code_at(0, buf), &matched) == TWOFA_OK);
	CHECK(matched == 0);
	CHECK(twofa_totp_verify_code(sha1_seed, SEED_LEN(sha1_seed), &sha1_6, 2, 0, -1, code_at(1, buf), &matched) == TWOFA_OK);
	CHECK(matched == 1);
	/* Step -1 as a counter would be 2^64 - 1. */
	CHECK(twofa_totp_verify_code(sha1_seed, SEED_LEN(sha1_seed), &sha1_6, 2, 0, -1, code_at(-1, buf), &matched) == TWOFA_ERR_BAD_CODE);
	CHECK(twofa_totp_verify_code(sha1_seed, SEED_LEN(sha1_seed), &sha1_6, 2, 0, -1, code_at(-2, buf), &matched) == TWOFA_ERR_BAD_CODE);
}

/* radiusd calls this from several worker threads at once. */
#define THREADS		8
#define ROUNDS		200

static void *verify_many(void *arg)
{
	char	buf[TWOFA_TOTP_MAX_DIGITS + 1];
	int64_t	matched;
	int	i, *failed = arg;

	for (i = 0; i < ROUNDS; i++) {
		if ((verify(code_at(NOW_STEP, buf), 1, -1, &matched) != TWOFA_OK) || (matched != NOW_STEP)) (*failed)++;
	}
	return NULL;
}

static void verify_works_from_many_threads(void)
{
	pthread_t	tid[THREADS];
	int		failed[THREADS] = { 0 };
	int		i;

	for (i = 0; i < THREADS; i++) CHECK(pthread_create(&tid[i], NULL, verify_many, &failed[i]) == 0);
	for (i = 0; i < THREADS; i++) {
		pthread_join(tid[i], NULL);
		CHECK(failed[i] == 0);
	}
}

int main(int argc, char **argv)
{
	vectors_dir = (argc > 1) ? argv[1] : getenv("TWOFA_VECTORS");

	RUN(verify_works_from_many_threads);	/* first, so the HMAC fetch races */
	RUN(rfc4226_hotp_vectors_match);
	RUN(rfc6238_sha1_vectors_match);
	RUN(rfc6238_sha256_vectors_match);
	RUN(rfc6238_sha512_vectors_match);
	RUN(six_and_seven_digit_codes_are_the_low_digits);
	RUN(hotp_refuses_digits_outside_6_to_8);
	RUN(unknown_hash_is_a_crypto_error);
	RUN(hash_names_round_trip);
	RUN(totp_step_of_negative_time_is_zero);
	RUN(current_code_is_accepted);
	RUN(window_accepts_one_step_drift);
	RUN(window_0_accepts_only_the_current_step);
	RUN(code_two_steps_old_refused_with_window_1);
	RUN(window_is_capped_at_max_window);
	RUN(period_60_steps_at_its_own_boundaries);
	RUN(replayed_step_is_refused_by_verify);
	RUN(older_step_after_newer_one_used_is_replayed);
	RUN(next_step_after_last_used_is_accepted);
	RUN(two_matching_steps_prefer_the_latest_fresh_one);
	RUN(wrong_code_is_bad_code);
	RUN(malformed_code_is_refused_before_checking);
	RUN(bad_params_are_malformed);
	RUN(steps_below_zero_are_skipped);

	CHECK_EXIT();
}
