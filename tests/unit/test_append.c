/*
 * test_append.c	Append mode (append.h): where the password ends and the
 *			code starts; and remembered devices (devices.h): a
 *			device's name, its keyed hash, and the store's devices.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "append.h"
#include "devices.h"
#include "pending.h"
#include "store.h"

static twofa_append_shapes_t const totp6 = { .totp_digits = 6 };
static twofa_append_shapes_t const totp6_backup = { .totp_digits = 6, .backup = true };
static twofa_append_shapes_t const backup_only = { .backup = true };
static twofa_append_shapes_t const nothing = { 0 };
static twofa_append_shapes_t const comma = { .totp_digits = 6, .backup = true, .separator = "," };

/* A user holding SMS (6 digits), email (8) and TOTP; "resend" sends by SMS, as they prefer. */
#define WORDS { { "sms", TWOFA_METHOD_SMS }, { "email", TWOFA_METHOD_EMAIL }, { "resend", TWOFA_METHOD_SMS } }
static twofa_append_shapes_t const sms6 = { .sms_digits = 6, .words = { { "sms", TWOFA_METHOD_SMS } } };
static twofa_append_shapes_t const all = { .totp_digits = 6, .sms_digits = 6, .email_digits = 8, .words = WORDS };
static twofa_append_shapes_t const all_comma = { .totp_digits = 6, .sms_digits = 6, .email_digits = 8,
						 .words = WORDS, .separator = "," };

static char const *method_name(uint8_t id)
{
	switch (id) {
	case TWOFA_METHOD_TOTP:		return "totp";
	case TWOFA_METHOD_BACKUP:	return "backup";
	case TWOFA_METHOD_SMS:		return "sms";
	case TWOFA_METHOD_EMAIL:	return "email";
	}
	return "?";
}

/** "PASSWORD|CODE|methods" of a split ("totp+sms": either's code, in the order
 *  tried; "word:sms": a word that sends by SMS), or "-" for none. */
static char const *split(char const *in, twofa_append_shapes_t const *shapes)
{
	static uint8_t const	order[] = { TWOFA_METHOD_TOTP, TWOFA_METHOD_BACKUP, TWOFA_METHOD_SMS, TWOFA_METHOD_EMAIL };
	static char		out[256];
	twofa_append_split_t	s;
	size_t			i, n;

	if (!twofa_append_split(in, strlen(in), shapes, &s)) return "-";
	n = snprintf(out, sizeof(out), "%.*s|%.*s|%s", (int) s.password_len, in, (int) s.code_len, in + s.code_off,
		     s.word ? "word:" : "");
	if (s.word) {
		snprintf(out + n, sizeof(out) - n, "%s", method_name(s.method));
		return out;
	}
	for (i = 0; i < sizeof(order); i++) {
		if (!(s.methods & TWOFA_METHOD_BIT(order[i]))) continue;
		if (out[n - 1] == '|') {
			if (s.method != order[i]) return "? method is not the first to try";
		} else {
			out[n++] = '+';
		}
		n += snprintf(out + n, sizeof(out) - n, "%s", method_name(order[i]));
	}
	return out;
}

static void totp_code_is_the_last_digits(void)
{
	CHECK_STR(split("hunter2123456", &totp6), "hunter2|123456|totp");
	CHECK_STR(split("123456", &totp6), "|123456|totp");		/* no password: the check refuses it */
	CHECK_STR(split("hunter2", &totp6), "-");			/* no code: the challenge */
	CHECK_STR(split("hunter12345", &totp6), "-");			/* 5 digits: no code */
	CHECK_STR(split("pass1234567890", &(twofa_append_shapes_t) { .totp_digits = 8 }), "pass12|34567890|totp");
}

/* A password ending in digits: its owner types the code after it. */
static void password_ending_in_digits_keeps_them(void)
{
	CHECK_STR(split("summer2024654321", &totp6), "summer2024|654321|totp");
	/* Without a code, its last 6 digits are taken for one: documented (append.h). */
	CHECK_STR(split("pin123456", &totp6), "pin|123456|totp");
}

static void backup_code_as_printed(void)
{
	CHECK_STR(split("hunter2k7mq4-x9ft2", &totp6_backup), "hunter2|k7mq4-x9ft2|backup");
	CHECK_STR(split("hunter2K7MQ4-X9FT2", &backup_only), "hunter2|K7MQ4-X9FT2|backup");
	/* Without its '-' a backup code is not taken: too many passwords end so. */
	CHECK_STR(split("hunter2k7mq4x9ft2", &backup_only), "-");
	/* A look-alike (0, o, 1, l) is no backup code. */
	CHECK_STR(split("hunter2k7mq0-x9ft2", &backup_only), "-");
	/* Not a shape the user holds: no split. */
	CHECK_STR(split("hunter2k7mq4-x9ft2", &totp6), "-");
	CHECK_STR(split("hunter2123456", &backup_only), "-");
	CHECK_STR(split("hunter2123456", &nothing), "-");
}

static void separator_splits_at_the_last_one(void)
{
	CHECK_STR(split("pa,ss,123456", &comma), "pa,ss|123456|totp");
	CHECK_STR(split("hunter2,k7mq4x9ft2", &comma), "hunter2|k7mq4x9ft2|backup");
	CHECK_STR(split("hunter2,k7mq4-x9ft2", &comma), "hunter2|k7mq4-x9ft2|backup");
	CHECK_STR(split("hunter2123456", &comma), "-");			/* a separator is required then */
	CHECK_STR(split("hunter,2", &comma), "-");
	CHECK_STR(split("", &comma), "-");
	CHECK(twofa_append_separator_valid(","));
	CHECK(twofa_append_separator_valid("::"));
	CHECK(!twofa_append_separator_valid(""));
	CHECK(!twofa_append_separator_valid("-"));
	CHECK(!twofa_append_separator_valid("x"));
	CHECK(!twofa_append_separator_valid("1"));
	CHECK(!twofa_append_separator_valid(" "));
	CHECK(!twofa_append_separator_valid(",,,,,,,,,"));
}

/* A code sent by SMS or email: digits of its own length, where the user holds the method. */
static void sent_code_of_its_own_length(void)
{
	CHECK_STR(split("hunter2123456", &sms6), "hunter2|123456|sms");
	CHECK_STR(split("hunter2123456", &totp6), "hunter2|123456|totp");
	/* The same length: the app's code or the sent one, tried in that order. */
	CHECK_STR(split("hunter2123456", &all), "hunter2|123456|totp+sms");
	/* Lengths that differ: the longest the suffix fills is the code. */
	CHECK_STR(split("hunter12345678", &all), "hunter|12345678|email");
	CHECK_STR(split("hunter-1234567", &all), "hunter-1|234567|totp+sms");
	CHECK_STR(split("pw1234567890", &(twofa_append_shapes_t) { .sms_digits = 10 }), "pw|1234567890|sms");
	CHECK_STR(split("pw123456789", &(twofa_append_shapes_t) { .sms_digits = 10 }), "-");
	CHECK_STR(split("hunter2,12345678", &all_comma), "hunter2|12345678|email");
	CHECK_STR(split("hunter2,123456", &all_comma), "hunter2|123456|totp+sms");
	CHECK_STR(split("hunter2,1234567", &all_comma), "-");
	/* Not held: no split. */
	CHECK_STR(split("hunter2123456", &(twofa_append_shapes_t) { .email_digits = 8 }), "-");
}

/* A switch word typed after the password, for a method the user holds (the caller lists only those). */
static void switch_word_after_the_password(void)
{
	CHECK_STR(split("hunter2sms", &sms6), "hunter2|sms|word:sms");
	CHECK_STR(split("hunter2SMS", &sms6), "hunter2|SMS|word:sms");		/* any case, as at the prompt */
	CHECK_STR(split("sms", &sms6), "|sms|word:sms");				/* no password: the check refuses it */
	CHECK_STR(split("hunter2email", &sms6), "-");				/* email not held: not listed */
	CHECK_STR(split("hunter2sm", &sms6), "-");
	CHECK_STR(split("hunter2email", &all), "hunter2|email|word:email");
	CHECK_STR(split("hunter2resend", &all), "hunter2|resend|word:sms");
	/* A code comes first: digits are never a word. */
	CHECK_STR(split("hunter2sms123456", &all), "hunter2sms|123456|totp+sms");
	/* With a separator, the word after the last one and nowhere else. */
	CHECK_STR(split("hunter2,sms", &all_comma), "hunter2|sms|word:sms");
	CHECK_STR(split("pa,ss,email", &all_comma), "pa,ss|email|word:email");
	CHECK_STR(split("hunter2sms", &all_comma), "-");
	CHECK_STR(split("hunter2,smsx", &all_comma), "-");
	CHECK_STR(split("hunter2,xsms", &all_comma), "-");
	/* A word turned off ("") is none. */
	CHECK_STR(split("hunter2", &(twofa_append_shapes_t) { .words = { { "", TWOFA_METHOD_SMS } } }), "-");
	CHECK_STR(split("hunter2sms", &(twofa_append_shapes_t) { .words = { { NULL, TWOFA_METHOD_SMS } } }), "-");
}

/* UTF-8 before the code is bytes like any other. */
static void utf8_password_splits_on_bytes(void)
{
	CHECK_STR(split("пароль-ß日本123456", &totp6), "пароль-ß日本|123456|totp");
}

/** The normalised name of a Calling-Station-Id, or "-". */
static char const *device(char const *in)
{
	static char out[TWOFA_DEVICE_NAME_MAX + 1];

	return twofa_device_normalise(in, strlen(in), out) ? out : "-";
}

static void mac_in_any_spelling_is_one_device(void)
{
	CHECK_STR(device("02-00-5E-10-00-01"), "02:00:5e:10:00:01");
	CHECK_STR(device("02:00:5e:10:00:01"), "02:00:5e:10:00:01");
	CHECK_STR(device("0200.5e10.0001"), "02:00:5e:10:00:01");
	CHECK_STR(device("02005E100001"), "02:00:5e:10:00:01");
	CHECK_STR(device("02-00:5E-10-00-01"), "-");	/* mixed separators */
	CHECK_STR(device("02-00-5E-10-00-0G"), "-");
	CHECK_STR(device("0200-5e10-0001"), "-");
	CHECK_STR(device("02.00.5e.10.00.01"), "-");
	CHECK_STR(device("02005E10000"), "-");
}

static void ip_is_a_device_other_text_is_not(void)
{
	CHECK_STR(device("192.0.2.7"), "192.0.2.7");
	CHECK_STR(device("2001:DB8:0:0::1"), "2001:db8::1");
	CHECK_STR(device("::ffff:192.0.2.7"), "192.0.2.7");
	CHECK_STR(device("192.0.2.07"), "-");
	CHECK_STR(device("kiosk-3"), "-");
	CHECK_STR(device(""), "-");
	CHECK(!twofa_device_normalise("1.2.3.4\0x", 9, (char[TWOFA_DEVICE_NAME_MAX + 1]) { 0 }));
}

static void device_hash_is_keyed_and_per_user(void)
{
	uint8_t key[32], other[32], dkey[TWOFA_DEVICE_KEY_LEN], dkey2[TWOFA_DEVICE_KEY_LEN];
	uint8_t a[TWOFA_DEVICE_HASH_LEN], b[TWOFA_DEVICE_HASH_LEN], c[TWOFA_DEVICE_HASH_LEN], d[TWOFA_DEVICE_HASH_LEN];

	memset(key, 7, sizeof(key));
	memset(other, 8, sizeof(other));
	CHECK(twofa_device_key_derive(key, dkey) == TWOFA_OK);
	CHECK(twofa_device_key_derive(other, dkey2) == TWOFA_OK);
	CHECK(memcmp(dkey, key, sizeof(dkey)) != 0);		/* never the key used raw */
	CHECK(twofa_device_hash(dkey, 1, "02:00:5e:10:00:01", a) == TWOFA_OK);
	CHECK(twofa_device_hash(dkey, 2, "02:00:5e:10:00:01", b) == TWOFA_OK);
	CHECK(twofa_device_hash(dkey2, 1, "02:00:5e:10:00:01", c) == TWOFA_OK);
	CHECK(twofa_device_hash(dkey, 1, "02:00:5e:10:00:01", d) == TWOFA_OK);
	CHECK(memcmp(a, b, sizeof(a)) != 0);
	CHECK(memcmp(a, c, sizeof(a)) != 0);
	CHECK(memcmp(a, d, sizeof(a)) == 0);
}

static char dir[] = "/tmp/twofa-test-append-XXXXXX";

static void store_remembers_lists_and_forgets_devices(void)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	char			*path = talloc_asprintf(ctx, "%s/devices.db", dir);
	twofa_store_config_t	config = { .url = path, .create = true, .sqlite.busy_timeout_ms = 100 };
	twofa_store_t		*store = NULL;
	twofa_user_t		*alice = NULL;
	twofa_device_t		*list = NULL;
	size_t			count = 0;
	unsigned int		gone = 0;
	uint8_t			h1[TWOFA_DEVICE_HASH_LEN], h2[TWOFA_DEVICE_HASH_LEN];
	time_t			now = 1700000000;

	memset(h1, 1, sizeof(h1));
	memset(h2, 2, sizeof(h2));
	CHECK(twofa_store_open(ctx, &config, &store) == TWOFA_OK);
	CHECK(twofa_store_add_user(store, "alice", NULL) == TWOFA_OK);
	CHECK(twofa_store_add_user(store, "bob", NULL) == TWOFA_OK);
	CHECK(twofa_store_get_user(store, ctx, "alice", &alice) == TWOFA_OK);
	if (!alice) goto out;

	CHECK(twofa_store_device_known(store, alice->id, h1, now) == TWOFA_ERR_NOT_FOUND);
	CHECK(twofa_store_device_remember(store, alice->id, h1, now, now + 100, "127.0.0.1") == TWOFA_OK);
	CHECK(twofa_store_device_remember(store, alice->id, h2, now, now + 10, NULL) == TWOFA_OK);
	CHECK(twofa_store_device_known(store, alice->id, h1, now + 99) == TWOFA_OK);
	CHECK(twofa_store_device_known(store, alice->id, h1, now + 100) == TWOFA_ERR_NOT_FOUND);	/* expired */
	CHECK(twofa_store_device_known(store, alice->id + 1, h1, now) == TWOFA_ERR_NOT_FOUND);	/* another user */

	/* Remembered again: same id, first date kept, a new expiry; the expired one goes. */
	CHECK(twofa_store_device_remember(store, alice->id, h1, now + 50, now + 150, "::1") == TWOFA_OK);
	CHECK(twofa_store_device_list(store, ctx, "alice", now + 50, &list, &count) == TWOFA_OK);
	CHECK(count == 1);
	if (count == 1) {
		CHECK(list[0].created == now);
		CHECK(list[0].last_used == now + 50);
		CHECK(list[0].expires == now + 150);
		CHECK_STR(list[0].nas, "::1");
	}
	CHECK(twofa_store_device_list(store, ctx, "nobody", now, &list, &count) == TWOFA_ERR_NOT_FOUND);

	CHECK(twofa_store_device_remember(store, alice->id, h2, now, now + 100, NULL) == TWOFA_OK);
	CHECK(twofa_store_device_forget(store, "alice", 999999, &gone) == TWOFA_OK && gone == 0);
	CHECK(twofa_store_device_forget(store, "bob", 0, &gone) == TWOFA_OK && gone == 0);
	CHECK(twofa_store_device_list(store, ctx, "alice", now, &list, &count) == TWOFA_OK && count == 2);
	if (count == 2) CHECK(twofa_store_device_forget(store, "alice", list[0].id, &gone) == TWOFA_OK && gone == 1);
	CHECK(twofa_store_device_forget(store, "alice", 0, &gone) == TWOFA_OK && gone == 1);
	CHECK(twofa_store_device_known(store, alice->id, h2, now) == TWOFA_ERR_NOT_FOUND);
	CHECK(twofa_store_device_forget(store, "nobody", 0, &gone) == TWOFA_ERR_NOT_FOUND);

	/* A deleted user's devices go with them. */
	CHECK(twofa_store_device_remember(store, alice->id, h1, now, now + 100, NULL) == TWOFA_OK);
	CHECK(twofa_store_delete_user(store, "alice") == TWOFA_OK);
	CHECK(twofa_store_device_known(store, alice->id, h1, now) == TWOFA_ERR_NOT_FOUND);
out:
	talloc_free(ctx);
	unlink(path);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(totp_code_is_the_last_digits);
	RUN(password_ending_in_digits_keeps_them);
	RUN(backup_code_as_printed);
	RUN(separator_splits_at_the_last_one);
	RUN(sent_code_of_its_own_length);
	RUN(switch_word_after_the_password);
	RUN(utf8_password_splits_on_bytes);
	RUN(mac_in_any_spelling_is_one_device);
	RUN(ip_is_a_device_other_text_is_not);
	RUN(device_hash_is_keyed_and_per_user);
	RUN(store_remembers_lists_and_forgets_devices);
	rmdir(dir);
	CHECK_EXIT();
}
