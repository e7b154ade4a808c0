/*
 * fuzz_key_file.c	twofa_crypto_parse_key (crypto.c): the key file's
 *			bytes, as twofa_crypto_load_key reads them.
 *
 *	The key file is read at every start; a damaged or foreign file must
 *	be refused, never read past or half taken.
 *
 * sources: rlm_twofa/crypto.c
 * max_len: 256
 */
#include <string.h>

#include <openssl/evp.h>

#include "fuzz.h"
#include "crypto.h"

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
	uint8_t	key[TWOFA_KEY_LEN], again[TWOFA_KEY_LEN];
	char	line[64];
	int	n;

	if (twofa_crypto_parse_key((char const *) data, size, key) != TWOFA_OK) return 0;

	/* Taken only from one short line, and the key written back parses to itself. */
	FUZZ_CHECK(size < 128);
	n = EVP_EncodeBlock((unsigned char *) line, key, sizeof(key));
	FUZZ_CHECK(n == 44);
	FUZZ_CHECK(twofa_crypto_parse_key(line, (size_t) n, again) == TWOFA_OK);
	FUZZ_CHECK(memcmp(key, again, sizeof(key)) == 0);

	return 0;
}
