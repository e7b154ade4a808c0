/*
 * test_oob.c	Out-of-band codes (oob.c): their form, their spread over
 *		the digits, their salted keyed hash and its check.
 */
#include <string.h>

#include "check.h"
#include "backup.h"
#include "oob.h"

static void codes_have_the_asked_length_and_digits_only(void)
{
	char		code[TWOFA_OOB_DIGITS_MAX + 1];
	unsigned int	digits;
	size_t		i;

	for (digits = TWOFA_OOB_DIGITS_MIN; digits <= TWOFA_OOB_DIGITS_MAX; digits++) {
		memset(code, 'x', sizeof(code));
		CHECK(twofa_oob_code_generate(digits, code) == TWOFA_OK);
		CHECK(strlen(code) == digits);
		for (i = 0; i < digits; i++) CHECK(code[i] >= '0' && code[i] <= '9');
		CHECK(twofa_oob_code_well_formed(code, digits, digits));
	}
	CHECK(twofa_oob_code_generate(5, code) == TWOFA_ERR_MALFORMED);
	CHECK(twofa_oob_code_generate(11, code) == TWOFA_ERR_MALFORMED);
	CHECK(twofa_oob_code_generate(0, code) == TWOFA_ERR_MALFORMED);
}

/*
 *	A sanity check, not a statistical test: 6000 codes of 10 digits
 *	give each digit about 600 times in each place, 6000 in all.  Every
 *	digit must turn up in every place (odds of missing one: 0.9^600),
 *	none may take twice its share, and no code may come twice.
 */
static void every_digit_turns_up_in_every_place(void)
{
	char		code[TWOFA_OOB_DIGITS_MAX + 1];
	unsigned int	seen[TWOFA_OOB_DIGITS_MAX][10] = { { 0 } };
	unsigned int	total[10] = { 0 };
	int		i, p, d, missing = 0, heavy = 0, repeats = 0;
	char		first[sizeof(code)];

	for (i = 0; i < 6000; i++) {
		CHECK(twofa_oob_code_generate(TWOFA_OOB_DIGITS_MAX, code) == TWOFA_OK);
		if (i == 0) strcpy(first, code);
		else if (strcmp(first, code) == 0) repeats++;
		for (p = 0; p < TWOFA_OOB_DIGITS_MAX; p++) {
			seen[p][code[p] - '0']++;
			total[code[p] - '0']++;
		}
	}
	for (p = 0; p < TWOFA_OOB_DIGITS_MAX; p++) for (d = 0; d < 10; d++) if (!seen[p][d]) missing++;
	for (d = 0; d < 10; d++) if (total[d] > 2 * 6000) heavy++;
	CHECK(missing == 0);
	CHECK(heavy == 0);
	CHECK(repeats == 0);
}

static void well_formed_takes_exactly_the_digits(void)
{
	CHECK(twofa_oob_code_well_formed("123456", 6, 6));
	CHECK(twofa_oob_code_well_formed("123456", 6, 0));
	CHECK(twofa_oob_code_well_formed("0123456789", 10, 0));
	CHECK(!twofa_oob_code_well_formed("123456", 6, 8));		/* another length than configured */
	CHECK(!twofa_oob_code_well_formed("12345", 5, 0));
	CHECK(!twofa_oob_code_well_formed("01234567890", 11, 0));
	CHECK(!twofa_oob_code_well_formed("12345a", 6, 6));
	CHECK(!twofa_oob_code_well_formed("12 456", 6, 6));
	CHECK(!twofa_oob_code_well_formed("123\0" "56", 6, 6));
	CHECK(!twofa_oob_code_well_formed("-12345", 6, 6));
	CHECK(!twofa_oob_code_well_formed(NULL, 6, 6));
}

static void key_is_derived_not_raw(void)
{
	uint8_t key[32] = { 7, 7, 7 }, okey[TWOFA_OOB_KEY_LEN], okey2[TWOFA_OOB_KEY_LEN];

	CHECK(twofa_oob_key_derive(key, okey) == TWOFA_OK);
	CHECK(memcmp(okey, key, sizeof(okey)) != 0);
	CHECK(twofa_oob_key_derive(key, okey2) == TWOFA_OK && memcmp(okey, okey2, sizeof(okey)) == 0);
	key[31] ^= 1;
	CHECK(twofa_oob_key_derive(key, okey2) == TWOFA_OK && memcmp(okey, okey2, sizeof(okey)) != 0);
}

static void hash_verifies_the_code_and_nothing_else(void)
{
	uint8_t			key[32] = { 1 }, okey[TWOFA_OOB_KEY_LEN], other[TWOFA_OOB_KEY_LEN];
	twofa_oob_hash_t	h;

	CHECK(twofa_oob_key_derive(key, okey) == TWOFA_OK);
	key[0] = 2;
	CHECK(twofa_oob_key_derive(key, other) == TWOFA_OK);
	CHECK(twofa_oob_code_seal(okey, "042917", &h) == TWOFA_OK);
	CHECK(twofa_oob_code_matches(okey, &h, "042917", 6, 6));
	CHECK(twofa_oob_code_matches(okey, &h, "042917", 6, 0));
	CHECK(!twofa_oob_code_matches(okey, &h, "042918", 6, 6));
	CHECK(!twofa_oob_code_matches(okey, &h, "42917", 5, 0));	/* leading zero kept */
	CHECK(!twofa_oob_code_matches(okey, &h, "0429170", 7, 0));
	CHECK(!twofa_oob_code_matches(okey, &h, "042917", 6, 8));	/* configured length changed */
	CHECK(!twofa_oob_code_matches(other, &h, "042917", 6, 6));	/* another key file */
	h.salt[0] ^= 1;
	CHECK(!twofa_oob_code_matches(okey, &h, "042917", 6, 6));
	h.salt[0] ^= 1;
	h.hash[31] ^= 1;
	CHECK(!twofa_oob_code_matches(okey, &h, "042917", 6, 6));
	CHECK(!twofa_oob_code_matches(okey, NULL, "042917", 6, 6));
	CHECK(twofa_oob_code_seal(okey, "04291", &h) == TWOFA_ERR_MALFORMED);
	CHECK(twofa_oob_code_seal(okey, "04291a", &h) == TWOFA_ERR_MALFORMED);
}

static void same_code_different_salt_different_hash(void)
{
	uint8_t			key[32] = { 3 }, okey[TWOFA_OOB_KEY_LEN];
	twofa_oob_hash_t	a, b;

	CHECK(twofa_oob_key_derive(key, okey) == TWOFA_OK);
	CHECK(twofa_oob_code_seal(okey, "123456", &a) == TWOFA_OK);
	CHECK(twofa_oob_code_seal(okey, "123456", &b) == TWOFA_OK);
	CHECK(memcmp(a.salt, b.salt, sizeof(a.salt)) != 0);
	CHECK(memcmp(a.hash, b.hash, sizeof(a.hash)) != 0);
	CHECK(twofa_oob_code_matches(okey, &a, "123456", 6, 6) && twofa_oob_code_matches(okey, &b, "123456", 6, 6));
}

/* The oob key and the backup-code key differ for one key file: their labels do. */
static void oob_key_is_not_the_backup_key(void)
{
	uint8_t key[32] = { 9 }, okey[TWOFA_OOB_KEY_LEN], bkey[TWOFA_BACKUP_KEY_LEN];

	CHECK(twofa_oob_key_derive(key, okey) == TWOFA_OK);
	CHECK(twofa_backup_key_derive(key, bkey) == TWOFA_OK);
	CHECK(memcmp(okey, bkey, sizeof(okey)) != 0);
}

int main(void)
{
	RUN(codes_have_the_asked_length_and_digits_only);
	RUN(every_digit_turns_up_in_every_place);
	RUN(well_formed_takes_exactly_the_digits);
	RUN(key_is_derived_not_raw);
	RUN(hash_verifies_the_code_and_nothing_else);
	RUN(same_code_different_salt_different_hash);
	RUN(oob_key_is_not_the_backup_key);
	CHECK_EXIT();
}
