/*
 * fuzz_backup_code.c	twofa_backup_code_normalise (backup.c): an answer at
 *			any challenge prompt, which round two tries as a
 *			backup code when the pending method finds it malformed.
 *
 *	What it takes is canonical (ten alphabet characters, no look-alike),
 *	normalises to itself, and survives the trip through the number the
 *	method carries from check to consume; nothing is read past len.
 *
 * sources: rlm_twofa/backup.c rlm_twofa/crypto.c
 * max_len: 64
 */
#include <string.h>

#include "fuzz.h"
#include "backup.h"

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
	char	*in = malloc(size ? size : 1);	/* exactly size bytes: ASan sees any read past them */
	char	out[TWOFA_BACKUP_CODE_LEN + 1], again[TWOFA_BACKUP_CODE_LEN + 1];
	int64_t	n;
	size_t	i;

	if (!in) return 0;
	memcpy(in, data, size);
	if (twofa_backup_code_normalise(in, size, out)) {
		FUZZ_CHECK(size >= TWOFA_BACKUP_CODE_LEN && size <= TWOFA_BACKUP_INPUT_MAX);
		FUZZ_CHECK(strlen(out) == TWOFA_BACKUP_CODE_LEN);
		for (i = 0; i < TWOFA_BACKUP_CODE_LEN; i++) FUZZ_CHECK(strchr(TWOFA_BACKUP_ALPHABET, out[i]) && out[i]);
		FUZZ_CHECK(twofa_backup_code_normalise(out, strlen(out), again) && strcmp(out, again) == 0);
		n = twofa_backup_code_to_number(out);
		FUZZ_CHECK(n >= 0);
		FUZZ_CHECK(twofa_backup_code_from_number(n, again) && strcmp(out, again) == 0);
	}
	free(in);
	return 0;
}
