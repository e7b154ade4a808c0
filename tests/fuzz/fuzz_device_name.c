/*
 * fuzz_device_name.c	twofa_device_normalise (devices.c) over any
 *			Calling-Station-Id: whatever the NAS sends.
 *
 *	A name it gives is short, printable, and a fixed point: normalising
 *	it again gives it back (so two spellings of one device meet).
 *
 * sources: rlm_twofa/devices.c rlm_twofa/netpolicy.c rlm_twofa/policy.c rlm_twofa/crypto.c
 * max_len: 128
 */
#include <string.h>

#include "fuzz.h"
#include "devices.h"

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
	char	name[TWOFA_DEVICE_NAME_MAX + 1], again[TWOFA_DEVICE_NAME_MAX + 1];
	size_t	len, i;

	if (!twofa_device_normalise((char const *) data, size, name)) return 0;
	len = strlen(name);
	FUZZ_CHECK((len > 0) && (len <= TWOFA_DEVICE_NAME_MAX));
	for (i = 0; i < len; i++) FUZZ_CHECK((name[i] > 0x20) && (name[i] < 0x7f));
	FUZZ_CHECK(twofa_device_normalise(name, len, again));
	FUZZ_CHECK(strcmp(name, again) == 0);
	return 0;
}
