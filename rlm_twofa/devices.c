/*
 * devices.c	Remembered devices (devices.h): the name of a device, and its
 *		keyed hash.  The randomness-free HKDF and HMAC are crypto.c's.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "devices.h"
#include "netpolicy.h"

/* Distinct from every other use of the key file's key; a new format gets a new label. */
#define KEY_LABEL	"rlm_twofa remembered devices v1"

static int hex_value(char c)
{
	if ((c >= '0') && (c <= '9')) return c - '0';
	if ((c >= 'a') && (c <= 'f')) return c - 'a' + 10;
	if ((c >= 'A') && (c <= 'F')) return c - 'A' + 10;
	return -1;
}

/*
 *	A MAC: 12 hex digits, bare, or in six groups of two (':' or '-'),
 *	or three groups of four ('.', as Cisco writes them).  One separator
 *	throughout, and the groups where they belong.
 */
static bool mac_parse(char const *in, size_t len, uint8_t mac[6])
{
	size_t	group = 0, i, digits = 0;
	char	sep = '\0';
	uint8_t	nibbles[12];

	if (len == 12) group = 0;
	else if (len == 17) group = 2;
	else if (len == 14) group = 4;
	else return false;
	for (i = 0; i < len; i++) {
		int v;

		if (group && ((i + 1) % (group + 1) == 0)) {
			if (!sep) sep = in[i];
			if (in[i] != sep) return false;
			if ((group == 2) && (sep != ':') && (sep != '-')) return false;
			if ((group == 4) && (sep != '.')) return false;
			continue;
		}
		if ((v = hex_value(in[i])) < 0) return false;
		nibbles[digits++] = (uint8_t) v;
	}
	if (digits != 12) return false;
	for (i = 0; i < 6; i++) mac[i] = (uint8_t) ((nibbles[2 * i] << 4) | nibbles[2 * i + 1]);
	return true;
}

bool twofa_device_normalise(char const *in, size_t len, char out[TWOFA_DEVICE_NAME_MAX + 1])
{
	char		text[TWOFA_DEVICE_NAME_MAX + 1];
	uint8_t		mac[6];
	twofa_ip_t	ip;

	out[0] = '\0';
	if (!in || !len || (len > TWOFA_DEVICE_NAME_MAX) || memchr(in, '\0', len)) return false;
	if (mac_parse(in, len, mac)) {
		snprintf(out, TWOFA_DEVICE_NAME_MAX + 1, "%02x:%02x:%02x:%02x:%02x:%02x",
			 mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
		return true;
	}
	memcpy(text, in, len);
	text[len] = '\0';
	if (!twofa_ip_parse(text, &ip)) return false;
	return inet_ntop((ip.af == 4) ? AF_INET : AF_INET6, ip.addr, out, TWOFA_DEVICE_NAME_MAX + 1) != NULL;
}

twofa_rcode_t twofa_device_key_derive(uint8_t const key[32], uint8_t out[TWOFA_DEVICE_KEY_LEN])
{
	return twofa_crypto_derive_key(key, KEY_LABEL, out, TWOFA_DEVICE_KEY_LEN);
}

twofa_rcode_t twofa_device_hash(uint8_t const dkey[TWOFA_DEVICE_KEY_LEN], int64_t user_id, char const *name,
				uint8_t out[TWOFA_DEVICE_HASH_LEN])
{
	uint8_t		id[8];
	uint64_t	u = (uint64_t) user_id;
	int		i;

	for (i = 7; i >= 0; i--, u >>= 8) id[i] = (uint8_t) (u & 0xff);
	return twofa_crypto_hmac(dkey, TWOFA_DEVICE_KEY_LEN, id, sizeof(id), (uint8_t const *) name, strlen(name), out);
}
