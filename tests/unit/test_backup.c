/*
 * test_backup.c	Backup codes (backup.c) and their method (method_backup.c)
 *			without a store: the format, the normaliser, the hash, and
 *			where the method table puts them.
 */
#include <string.h>

#include "check.h"
#include "backup.h"
#include "method.h"

static void generated_codes_have_the_shown_form(void)
{
	char	code[TWOFA_BACKUP_SHOWN_LEN + 1], canonical[TWOFA_BACKUP_CODE_LEN + 1], first[sizeof(code)];
	int	seen[256] = { 0 }, i, j, kinds = 0;

	for (i = 0; i < 400; i++) {
		CHECK(twofa_backup_code_generate(code) == TWOFA_OK);
		CHECK(strlen(code) == TWOFA_BACKUP_SHOWN_LEN && code[TWOFA_BACKUP_GROUP_LEN] == '-');
		for (j = 0; code[j]; j++) {
			if (j != TWOFA_BACKUP_GROUP_LEN) CHECK(strchr(TWOFA_BACKUP_ALPHABET, code[j]) != NULL);
			seen[(unsigned char) code[j]]++;
		}
		CHECK(twofa_backup_code_normalise(code, strlen(code), canonical));
		if (i == 0) strcpy(first, code);
		else CHECK(strcmp(first, code) != 0);
	}
	/* 4000 draws over 31 characters: every one turns up; no look-alike ever does. */
	for (j = 0; TWOFA_BACKUP_ALPHABET[j]; j++) if (seen[(unsigned char) TWOFA_BACKUP_ALPHABET[j]]) kinds++;
	CHECK(kinds == 31);
	CHECK(!seen['0'] && !seen['1'] && !seen['o'] && !seen['l'] && !seen['i'] && !seen['O'] && !seen['I']);
}

static void normaliser_takes_what_users_type_and_nothing_else(void)
{
	char out[TWOFA_BACKUP_CODE_LEN + 1];

	CHECK(twofa_backup_code_normalise("4k7mq-x9ft2", 11, out) && strcmp(out, "4k7mqx9ft2") == 0);
	CHECK(twofa_backup_code_normalise("4K7MQ X9FT2", 11, out) && strcmp(out, "4k7mqx9ft2") == 0);
	CHECK(twofa_backup_code_normalise("4k7mqx9ft2", 10, out));
	CHECK(!twofa_backup_code_normalise("4k7mq-x9ft", 10, out));		/* short */
	CHECK(!twofa_backup_code_normalise("4k7mq-x9ft22", 12, out));		/* long */
	CHECK(!twofa_backup_code_normalise("0k7mq-x9ft2", 11, out));		/* look-alikes are not in it */
	CHECK(!twofa_backup_code_normalise("4k7mq-x9fl2", 11, out));
	CHECK(!twofa_backup_code_normalise("4k7mq-x9fI2", 11, out));
	CHECK(!twofa_backup_code_normalise("4k7mq\0x9ft2", 11, out));
	CHECK(!twofa_backup_code_normalise("123456", 6, out));			/* a TOTP code */
	CHECK(!twofa_backup_code_normalise("", 0, out));
}

static void codes_round_trip_through_numbers(void)
{
	char	code[TWOFA_BACKUP_CODE_LEN + 1];

	CHECK(twofa_backup_code_to_number("2222222222") == 0);
	CHECK(twofa_backup_code_from_number(0, code) && strcmp(code, "2222222222") == 0);
	CHECK(twofa_backup_code_to_number("zzzzzzzzzz") == 819628286980800LL);	/* 31^10 - 1 */
	CHECK(twofa_backup_code_from_number(819628286980800LL, code) && strcmp(code, "zzzzzzzzzz") == 0);
	CHECK(!twofa_backup_code_from_number(819628286980801LL, code));
	CHECK(!twofa_backup_code_from_number(-1, code));
	CHECK(twofa_backup_code_to_number("4k7mqx9ft") == -1);
	CHECK(twofa_backup_code_from_number(twofa_backup_code_to_number("4k7mqx9ft2"), code) &&
	      strcmp(code, "4k7mqx9ft2") == 0);
}

static void hash_is_salted_and_keyed(void)
{
	uint8_t			key[32] = { 1, 2, 3 }, bkey[TWOFA_BACKUP_KEY_LEN], bkey2[TWOFA_BACKUP_KEY_LEN];
	twofa_backup_hash_t	a, b;

	CHECK(twofa_backup_key_derive(key, bkey) == TWOFA_OK);
	CHECK(memcmp(bkey, key, sizeof(bkey)) != 0);				/* never the key used raw */
	key[0] ^= 1;
	CHECK(twofa_backup_key_derive(key, bkey2) == TWOFA_OK && memcmp(bkey, bkey2, sizeof(bkey)) != 0);
	CHECK(twofa_backup_code_seal(bkey, "4K7MQ-X9FT2", &a) == TWOFA_OK);
	CHECK(twofa_backup_code_seal(bkey, "4k7mq-x9ft2", &b) == TWOFA_OK);
	CHECK(memcmp(a.salt, b.salt, sizeof(a.salt)) != 0 && memcmp(a.hash, b.hash, sizeof(a.hash)) != 0);
	CHECK(twofa_backup_code_matches(bkey, a.salt, sizeof(a.salt), a.hash, sizeof(a.hash), "4k7mqx9ft2"));
	CHECK(twofa_backup_code_matches(bkey, b.salt, sizeof(b.salt), b.hash, sizeof(b.hash), "4k7mqx9ft2"));
	CHECK(!twofa_backup_code_matches(bkey2, a.salt, sizeof(a.salt), a.hash, sizeof(a.hash), "4k7mqx9ft2"));
	CHECK(!twofa_backup_code_matches(bkey, a.salt, sizeof(a.salt), a.hash, sizeof(a.hash), "4k7mqx9ft3"));
	CHECK(!twofa_backup_code_matches(bkey, a.salt, sizeof(a.salt), a.hash, 31, "4k7mqx9ft2"));
	CHECK(twofa_backup_code_seal(bkey, "0000000000", &a) == TWOFA_ERR_MALFORMED);
}

static void backup_comes_after_totp_and_stands_in_for_it(void)
{
	twofa_user_t	u = { .id = 1, .name = "alice" };
	twofa_pending_t	p;
	int64_t		proof = -1;

	CHECK(twofa_method_by_id(TWOFA_METHOD_BACKUP) == &twofa_method_backup);
	CHECK(twofa_method_for_user(&u) == NULL);
	u.backup_codes_left = 1;
	CHECK(twofa_method_for_user(&u) == &twofa_method_backup);
	u.factors = &(twofa_factor_t) { .id = 1, .kind = TWOFA_FACTOR_TOTP, .confirmed = true };
	u.num_factors = 1;
	CHECK(twofa_method_for_user(&u) == &twofa_method_totp);		/* TOTP stays preferred */

	/* A backup code at the TOTP prompt; a TOTP code is no backup code. */
	CHECK(twofa_method_alternate(&twofa_method_totp, "4k7mq-x9ft2", 11) == &twofa_method_backup);
	CHECK(twofa_method_alternate(&twofa_method_totp, "123456", 6) == NULL);
	CHECK(twofa_method_alternate(&twofa_method_backup, "4k7mq-x9ft2", 11) == NULL);

	/* The backup challenge packs with no factor part. */
	memset(&p, 0, sizeof(p));
	CHECK(twofa_method_backup.start(NULL, &u, &p) == TWOFA_OK && p.sealed_len == 0);
	CHECK(twofa_method_backup.check(NULL, NULL, &p, "4k7mq-x9ft2", 11, &proof) == TWOFA_OK);
	CHECK(proof == twofa_backup_code_to_number("4k7mqx9ft2"));
	CHECK(twofa_method_backup.check(NULL, NULL, &p, "4k7mq-x9ft", 10, &proof) == TWOFA_ERR_MALFORMED);
}

static void backup_challenge_packs_without_a_secret(void)
{
	twofa_pending_t	in = { .expires = 100, .attempts_left = 3, .method = TWOFA_METHOD_BACKUP, .user_id = 7 }, out;
	uint8_t		buf[TWOFA_PENDING_MAX];
	size_t		len;

	strcpy(in.name, "alice");
	len = twofa_pending_pack(&in, buf);
	CHECK(len == TWOFA_PENDING_HEADER_LEN + 5);
	CHECK(twofa_pending_unpack(buf, len, &out) && out.method == TWOFA_METHOD_BACKUP && out.sealed_len == 0 &&
	      out.user_id == 7 && strcmp(out.name, "alice") == 0);
	/* A TOTP challenge still needs its secret and period. */
	in.method = TWOFA_METHOD_TOTP;
	CHECK(twofa_pending_pack(&in, buf) == 0);
	buf[6] = TWOFA_METHOD_TOTP;		/* the method byte of the backup blob above */
	CHECK(!twofa_pending_unpack(buf, len, &out));
}

int main(void)
{
	RUN(generated_codes_have_the_shown_form);
	RUN(normaliser_takes_what_users_type_and_nothing_else);
	RUN(codes_round_trip_through_numbers);
	RUN(hash_is_salted_and_keyed);
	RUN(backup_comes_after_totp_and_stands_in_for_it);
	RUN(backup_challenge_packs_without_a_secret);
	CHECK_EXIT();
}
