/*
 * state.h	A pending challenge sealed into the RADIUS State attribute, so
 *		that the server keeps nothing per pending login: round two
 *		opens the State the NAS sends back, on this radiusd after a
 *		restart, or on another one sharing the store and the key.
 *
 *		Layout: version (1) | key id (1) | crypto.c's sealed blob of
 *		the packed pending context (pending.h; its own version byte,
 *		nonce, ciphertext, tag).  AES-256-GCM under a key of its own,
 *		derived from the key file's key (HKDF, its own label): never
 *		the TOTP secrets' key used raw.  The additional data binds the
 *		format, the key id and the NAS the State was sent to, so a State
 *		presented by another NAS does not open.  Single use is the
 *		caller's: the nonce goes to the store (twofa_store_state_use).
 */
#ifndef TWOFA_STATE_H
#define TWOFA_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "pending.h"

#define TWOFA_STATE_VERSION	1
#define TWOFA_STATE_MAX		253			//!< a RADIUS attribute's value at most
#define TWOFA_STATE_OVERHEAD	(2 + TWOFA_SEAL_OVERHEAD)
#define TWOFA_STATE_NONCE_LEN	TWOFA_NONCE_LEN

/** One key that seals or opens States: the current one, or the previous one
 *  (rotation: its States are still opened until their deadline). */
typedef struct {
	uint8_t		key[TWOFA_KEY_LEN];		//!< derived, wiped by the owner
	uint8_t		id;				//!< in every State it seals
} twofa_state_key_t;

/** Derive the State key and its id from the key file's key. */
twofa_rcode_t twofa_state_key_derive(uint8_t const file_key[TWOFA_KEY_LEN], twofa_state_key_t *out);

/** Seal pending for the NAS named nas into out.  *nonce gets the State's nonce.
 *  @return the State's length, or 0 if it does not fit TWOFA_STATE_MAX bytes
 *  (a very long name: the caller falls back to session-state) or sealing failed. */
size_t twofa_state_seal(twofa_state_key_t const *key, twofa_pending_t const *pending, char const *nas,
			uint8_t out[TWOFA_STATE_MAX], uint8_t nonce[TWOFA_STATE_NONCE_LEN]);

/** Open a State sent back by the NAS named nas, with whichever of keys[0..n-1]
 *  has its id.  @return false for anything else: another format version, an
 *  unknown key id, a changed or truncated byte, another NAS, a pending context
 *  that does not unpack.  Expiry, the user and single use are the caller's. */
bool twofa_state_open(twofa_state_key_t const *keys, size_t n, uint8_t const *in, size_t len, char const *nas,
		      twofa_pending_t *pending, uint8_t nonce[TWOFA_STATE_NONCE_LEN]);

#endif
