/*
 * devices.h	Remembered devices: after a second factor, the device a user
 *		came from (its Calling-Station-Id) lets the right password
 *		alone in for remember_days.
 *
 *		A device is named by its Calling-Station-Id, normalised: a MAC
 *		address in any usual spelling (02-00-5E-10-00-01,
 *		02:00:5e:10:00:01, 0200.5e10.0001, 02005E100001) becomes
 *		"02:00:5e:10:00:01", an IPv4 or IPv6 address its canonical text
 *		(an IPv4-mapped one the IPv4 address).  Anything else names no
 *		device, and is never remembered.
 *
 *		The store keeps no name in clear: only HMAC-SHA256 under the
 *		devices key (HKDF of the key file's key, a label of its own, as
 *		backup.h and oob.h do) of the user's id and the normalised name,
 *		so a stolen store file does not say where users log in from, and
 *		a row does not match for another user.
 *
 *		No FreeRADIUS or SQLite includes: the module, the store and
 *		twofa-admin share it.
 */
#ifndef TWOFA_DEVICES_H
#define TWOFA_DEVICES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "twofa.h"

#define TWOFA_DEVICE_NAME_MAX		46	//!< the longest normalised name: an IPv6 address's text
#define TWOFA_DEVICE_HASH_LEN		32	//!< HMAC-SHA256
#define TWOFA_DEVICE_KEY_LEN		32
#define TWOFA_REMEMBER_DAYS_MAX		365

/** Normalise a Calling-Station-Id (len bytes, need not be NUL-terminated) into
 *  out.  @return false if it is neither a MAC nor an IP address. */
bool twofa_device_normalise(char const *in, size_t len, char out[TWOFA_DEVICE_NAME_MAX + 1]);

/** The devices key: HKDF-SHA256 of the key file's key, its own label.
 *  @return TWOFA_OK or TWOFA_ERR_CRYPTO. */
twofa_rcode_t twofa_device_key_derive(uint8_t const key[32], uint8_t out[TWOFA_DEVICE_KEY_LEN]);

/** HMAC-SHA256(dkey, user_id (8 bytes, big-endian) || name), name normalised.
 *  @return TWOFA_OK or TWOFA_ERR_CRYPTO (out wiped). */
twofa_rcode_t twofa_device_hash(uint8_t const dkey[TWOFA_DEVICE_KEY_LEN], int64_t user_id, char const *name,
				uint8_t out[TWOFA_DEVICE_HASH_LEN]);

#endif
