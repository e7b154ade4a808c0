/*
 * store.h	The one store API: users, enrolments, used time steps, lockout
 *		counters, the audit log and the login log.
 *
 *		The module and tools/twofa-admin both use it.  The backend is
 *		picked by the store's URL (store.c): "sqlite:PATH" or a bare
 *		path is store_sqlite.c, the only file that includes sqlite3.h;
 *		"postgresql://..." is store_pg.c, the only file that includes
 *		libpq-fe.h, one database shared by several radiusd
 *		(store_backend.h: the table of operations).  Backend-only
 *		settings are in the config's own sub-struct.
 *
 *		"now": the calls that take one use it for what the caller
 *		computed with it (a TOTP step's age, a login's time).  The
 *		PostgreSQL backend takes lock and throttle times (locked_until,
 *		password_next_try, and whether a lock holds) from the
 *		database's clock, so that servers whose clocks differ agree.
 *
 *		Thread safety: one twofa_store_t may be used from many threads at
 *		once.  Each call holds the store for that one call only, never
 *		across a login or network I/O; statements are prepared once.
 *		A bulk transaction (begin) holds it for its thread until it ends.
 */
#ifndef TWOFA_STORE_H
#define TWOFA_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <talloc.h>
#include "twofa.h"
#include "totp.h"
#include "backup.h"
#include "oob.h"
#include "devices.h"

typedef struct twofa_store twofa_store_t;

/*
 *	Second factors.  A user holds any number of them, at most one of each
 *	kind (backup codes are apart: a set of their own, see below).
 */
typedef enum {
	TWOFA_FACTOR_TOTP = 1,		//!< an authenticator app (RFC 6238)
	TWOFA_FACTOR_SMS,		//!< a code sent by SMS to address (E.164)
	TWOFA_FACTOR_EMAIL,		//!< a code sent by mail to address
} twofa_factor_kind_t;
#define TWOFA_FACTOR_KIND_LAST	TWOFA_FACTOR_EMAIL

/** One factor of a user.  Strings and blobs are talloc children of the user. */
typedef struct {
	int64_t			id;			//!< also its generation: a factor replaced gets a new
							//!< id, never one used before
	twofa_factor_kind_t	kind;
	bool			confirmed;		//!< false: pending, waiting for a first valid code
	uint8_t			*sealed;		//!< the secret, AES-GCM (crypto.h); NULL if the kind has none
	size_t			sealed_len;
	twofa_totp_params_t	totp;			//!< TOTP: hash, digits, period
	char			*address;		//!< SMS: the number; email: the address; else NULL
	int64_t			last_step;		//!< TOTP: the confirming code's step, or -1
	time_t			created;
} twofa_factor_t;

/** "totp", "sms", "email"; "unknown" for anything else. */
char const *twofa_factor_kind_name(twofa_factor_kind_t kind);
/** The kind named name.  @return false if none is. */
bool twofa_factor_kind_from_name(char const *name, twofa_factor_kind_t *kind);

/** One user's row, as read by twofa_store_get_user(); talloc'd, strings are children. */
typedef struct {
	int64_t			id;
	char			*name;
	char			*password_hash;		//!< crypt(3) string, NULL if none
	time_t			created;
	unsigned int		fail_count;		//!< consecutive failed codes
	unsigned int		lock_count;		//!< locks since the last success
	time_t			locked_until;		//!< 0 if not locked

	twofa_factor_t		*factors;		//!< num_factors of them, by kind
	unsigned int		num_factors;
	unsigned int		password_failures;	//!< consecutive failed first factors
	time_t			password_next_try;	//!< no password is checked before this; 0 if none
	unsigned int		backup_codes_left;	//!< unused backup codes
	bool			exempt;			//!< the first factor alone is enough (twofa-admin user 2fa off)
	time_t			last_accept;		//!< twofa_store_list_users only: the newest Accept in the
							//!< login log, 0 if none is kept there
	twofa_factor_kind_t	preferred;		//!< the method round one offers first; 0 if none chosen
	char			*reply;			//!< reply attributes of the user's own ("A = v, B = v",
							//!< a rule's reply= syntax), NULL if none (schema 11)
} twofa_user_t;

/** The user's factor of this kind, or NULL. */
twofa_factor_t const *twofa_user_factor(twofa_user_t const *user, twofa_factor_kind_t kind);

/** Lockout policy for twofa_store_record_failure(). */
typedef struct {
	unsigned int		max_failures;		//!< consecutive failures before a lock, 1..100
	unsigned int		lock_seconds;		//!< first lock; doubles on each further lock
	unsigned int		max_lock_seconds;	//!< ceiling for the doubling
} twofa_lockout_t;

/** First-factor throttle for twofa_store_record_password_failure(). */
typedef struct {
	unsigned int		free_failures;		//!< failures in a row that cost no wait
	unsigned int		delay_seconds;		//!< wait after the next one; doubles with each further one
	unsigned int		max_delay_seconds;	//!< ceiling of the wait
} twofa_password_throttle_t;

typedef struct {
	char const		*url;			//!< "sqlite:PATH", a bare PATH (an SQLite file), or
							//!< "postgresql://USER@HOST:PORT/DB?sslmode=..." (no password in it)
	bool			create;			//!< create the store (twofa-admin init); else it must exist
	unsigned int		login_keep_days;	//!< the login log keeps this many days; 0: never pruned
	/** A backend's word that is no call's failure (a reconnect, a clock far from the
	 *  database's), for the caller's log; NULL: none.  Never a secret in it. */
	void			(*warn)(void *ctx, char const *message);
	void			*warn_ctx;

	struct {					//!< read by the SQLite backend only
		unsigned int	busy_timeout_ms;	//!< how long to wait for a lock before TWOFA_ERR_BUSY
		bool		background_checkpoint;	//!< checkpoint in a thread of the store's own (radiusd)
	} sqlite;

	struct {					//!< read by the PostgreSQL backend only (store_pg.c)
		char const	*password_file;		//!< the role's password, one line, mode 0600; NULL or "":
							//!< libpq's own (PGPASSFILE, ~/.pgpass), or none
		unsigned int	connect_timeout;	//!< seconds to connect (libpq: at least 2); 0: 5
		unsigned int	statement_timeout_ms;	//!< a call's limit, and a wait for a free connection,
							//!< before TWOFA_ERR_BUSY; 0: 2000
		unsigned int	pool_size;		//!< connections at most, each used by one call at a time; 0: 8
	} postgresql;
} twofa_store_config_t;

/** Open the store its URL names and bring its schema up to date (migrations).
 *  The handle is a talloc child of ctx; freeing it closes every thread's connection.
 *  @return TWOFA_OK, TWOFA_ERR_NOT_FOUND (no file and !create), TWOFA_ERR_STORE, TWOFA_ERR_BUSY,
 *  TWOFA_ERR_MALFORMED (a URL no backend of this build takes: only errmsg may be asked then).
 *  On failure *out is still set when possible so twofa_store_errmsg() can say why; free it.
 */
twofa_rcode_t twofa_store_open(TALLOC_CTX *ctx, twofa_store_config_t const *config, twofa_store_t **out);

/** Detail of the calling thread's last failure ("database is locked", ...). Never NULL. */
char const *twofa_store_errmsg(twofa_store_t *store);

/** Schema version of the open store (for twofa-admin and tests). */
int twofa_store_schema_version(twofa_store_t *store);

/*
 *	Users.  Names are byte strings, callers validate them first.
 *	twofa_store_get_user() finds a name in any ASCII case (the exact
 *	spelling first), and add refuses a name that differs from one on
 *	file only in case; the other calls take the exact name.
 */
twofa_rcode_t twofa_store_get_user(twofa_store_t *store, TALLOC_CTX *ctx, char const *name, twofa_user_t **out);
twofa_rcode_t twofa_store_add_user(twofa_store_t *store, char const *name, char const *password_hash);	//!< EXISTS
twofa_rcode_t twofa_store_set_password(twofa_store_t *store, char const *name, char const *password_hash);
twofa_rcode_t twofa_store_delete_user(twofa_store_t *store, char const *name);				//!< NOT_FOUND
/** Exempt a user from the second factor (true), or no longer (false).  NOT_FOUND if no such user. */
twofa_rcode_t twofa_store_set_exempt(twofa_store_t *store, char const *name, bool exempt);
/** Remove every factor of the user (TOTP, SMS, email, backup codes) and reset
 *  every lock and failure counter, in one transaction (twofa-admin user reset).
 *  A challenge pending for an old factor can no longer be answered: its consume
 *  finds the factor gone.  The exemption is kept.  *factors_removed and
 *  *codes_voided (may be NULL) say what went.
 *  @return TWOFA_OK, TWOFA_ERR_NOT_FOUND, TWOFA_ERR_BUSY, TWOFA_ERR_STORE. */
twofa_rcode_t twofa_store_reset_user(twofa_store_t *store, char const *name, unsigned int *factors_removed,
				     unsigned int *codes_voided);
/** All users ordered by name; *out is a talloc array of *count pointers under ctx. */
twofa_rcode_t twofa_store_list_users(twofa_store_t *store, TALLOC_CTX *ctx, twofa_user_t ***out, size_t *count);

/*
 *	Login log: one row per login outcome (module), read by twofa-admin log.
 *	Never a password, code or secret: only who, from where, how, and a
 *	short reason word.
 */
typedef struct {
	int64_t			id;			//!< order of insertion
	time_t			at;
	char const		*user;			//!< User-Name as sent, NULL if invalid or missing
	char const		*nas;			//!< the client's source address, as text
	char const		*calling_station_id;	//!< NULL if none
	char const		*method;		//!< "totp", "backup", ... or "none"
	char const		*result;		//!< "accept" or "reject"
	char const		*reason;		//!< "ok", "bad_password", "bad_code", "not_needed", ...

	/* The sealed State (state.h) the answer came in, or NULL: a consume given this
	 * login records the nonce as answered in its own write, first, and refuses with
	 * TWOFA_ERR_EXPIRED (the challenge is over) if it was answered before. */
	uint8_t const		*state_nonce;
	size_t			state_nonce_len;
	time_t			state_expires;		//!< kept until then (the State's deadline)
} twofa_login_t;

/*
 *	Factors (TOTP, SMS, email), by user name and kind.
 */
/** Replace the user's factor of factor->kind (if any) with this one, under a new
 *  id; confirmed as factor->confirmed says, last step -1.  Used steps of the old
 *  one go with it.  @return TWOFA_OK, TWOFA_ERR_NOT_FOUND (no such user),
 *  TWOFA_ERR_MALFORMED, TWOFA_ERR_BUSY, TWOFA_ERR_STORE. */
twofa_rcode_t twofa_store_factor_set(twofa_store_t *store, char const *name, twofa_factor_t const *factor);
/** Pending -> confirmed, recording step as used.  NOT_ENROLLED if none of kind is pending. */
twofa_rcode_t twofa_store_factor_confirm(twofa_store_t *store, char const *name, twofa_factor_kind_t kind,
					 int64_t step);
/** NOT_ENROLLED if the user holds none of kind. */
twofa_rcode_t twofa_store_factor_remove(twofa_store_t *store, char const *name, twofa_factor_kind_t kind);

/** Enrolment at login: factor (TOTP: its secret; SMS, email: its address, as
 *  sms_ask_number saves a number), confirmed, with step recorded as used (the
 *  confirming code is not taken again), only if the user has no confirmed factor
 *  of its kind (one made meanwhile by another login is kept; an unconfirmed one
 *  is replaced) and is not locked at now.  With login (may be NULL), its row is
 *  written in the same call when the enrolment is made.
 *  @return TWOFA_OK, TWOFA_ERR_EXISTS (a confirmed factor, a lock, or no such
 *  user), TWOFA_ERR_BUSY, TWOFA_ERR_STORE. */
twofa_rcode_t twofa_store_factor_enrol(twofa_store_t *store, int64_t user_id, twofa_factor_t const *factor,
				       int64_t step, time_t now, twofa_login_t const *login);

/** Record step as used, in one atomic statement, only if it is later than the last
 *  used step, factor_id is still the user's confirmed factor (read in round one:
 *  a replaced factor has a new id), and the user is not locked at now.  A step more
 *  than TWOFA_TOTP_MAX_WINDOW + 1 periods before now is refused as REPLAYED: its
 *  record would already be gone, as the store forgets used steps that old.
 *  Of several callers with the same step at once, exactly one gets TWOFA_OK.
 *  With login (may be NULL), its row is written in the same call on TWOFA_OK.
 *  @return TWOFA_OK, TWOFA_ERR_REPLAYED, TWOFA_ERR_LOCKED, TWOFA_ERR_NOT_ENROLLED
 *  (removed or replaced), TWOFA_ERR_NOT_FOUND (user deleted), TWOFA_ERR_BUSY, TWOFA_ERR_STORE.
 */
twofa_rcode_t twofa_store_factor_consume_step(twofa_store_t *store, int64_t user_id, int64_t factor_id,
					      int64_t step, time_t now, twofa_login_t const *login);

/*
 *	Backup codes (backup.h): stored as a salt and a keyed hash each.
 */
/** Replace the user's codes with count new ones (0: void them all), in one
 *  transaction.  *voided (may be NULL) gets how many unused codes went.
 *  @return TWOFA_OK, TWOFA_ERR_NOT_FOUND, TWOFA_ERR_MALFORMED (count above
 *  TWOFA_BACKUP_COUNT_MAX), TWOFA_ERR_BUSY, TWOFA_ERR_STORE. */
twofa_rcode_t twofa_store_backup_set(twofa_store_t *store, char const *name, twofa_backup_hash_t const *codes,
				     unsigned int count, unsigned int *voided);

/** Use one of the user's unused codes: the one whose hash under bkey (the
 *  derived backup key, never the key file's key) matches code (canonical,
 *  backup.h), marked used at now only if it is still unused and the user not
 *  locked.  Of several callers with the same code at once, exactly one gets
 *  TWOFA_OK.  *left (may be NULL) gets the unused codes left after a success.
 *  With login (may be NULL), its row is written in the same call on TWOFA_OK.
 *  @return TWOFA_OK, TWOFA_ERR_BAD_CODE (no unused code matches), TWOFA_ERR_REPLAYED
 *  (matched, but another login used it first), TWOFA_ERR_LOCKED, TWOFA_ERR_NOT_FOUND
 *  (user deleted), TWOFA_ERR_BUSY, TWOFA_ERR_STORE. */
twofa_rcode_t twofa_store_backup_consume(twofa_store_t *store, int64_t user_id,
					 uint8_t const bkey[TWOFA_BACKUP_KEY_LEN], char const *code,
					 time_t now, unsigned int *left, twofa_login_t const *login);

/*
 *	Lockout.  One atomic statement each.
 */
/** Count a failed code.  On reaching policy->max_failures the count restarts, lock_count
 *  goes up and the user is locked until now + lock_seconds * 2^(locks so far), at most
 *  max_lock_seconds.  *locked_until (may be NULL) gets the lock end, or 0 if not locked.
 */
twofa_rcode_t twofa_store_record_failure(twofa_store_t *store, int64_t user_id, twofa_lockout_t const *policy,
					 time_t now, time_t *locked_until);
/** A success: fail_count and lock_count back to 0.  Changes nothing if they already are;
 *  callers skip the call when round one read no failures. */
twofa_rcode_t twofa_store_record_success(twofa_store_t *store, int64_t user_id);
/** Count a failed first factor.  Past policy->free_failures in a row, the next password
 *  is not checked before *next_try (may be NULL): now + delay_seconds, doubled with each
 *  further failure, at most max_delay_seconds; 0 while failures are free.  One statement.
 */
twofa_rcode_t twofa_store_record_password_failure(twofa_store_t *store, int64_t user_id,
						  twofa_password_throttle_t const *policy, time_t now, time_t *next_try);
/** A first factor passed: its failure count back to 0.  Callers skip it when round one read none. */
twofa_rcode_t twofa_store_record_password_success(twofa_store_t *store, int64_t user_id);
/** Lift a lock and reset every counter (twofa-admin user unlock). NOT_FOUND if no such user. */
twofa_rcode_t twofa_store_unlock(twofa_store_t *store, char const *name);

/*
 *	Audit log of every change an administrator makes.
 */
twofa_rcode_t twofa_store_audit(twofa_store_t *store, char const *actor, char const *action,
				char const *user, char const *detail);

/** Record one login, joined to the login path's batches (one INSERT).  With the
 *  store's login_keep_days > 0, every TWOFA_LOGIN_PRUNE_EVERY rows written also
 *  delete at most TWOFA_LOGIN_PRUNE_ROWS of the oldest rows older than
 *  login->at - login_keep_days days, so the table stays near that many days of
 *  logins without a long transaction.  Strings longer than TWOFA_LOGIN_FIELD_MAX
 *  are cut.  A successful consume writes its login's row itself (same call). */
twofa_rcode_t twofa_store_log_login(twofa_store_t *store, twofa_login_t const *login);
#define TWOFA_LOGIN_PRUNE_EVERY	64
#define TWOFA_LOGIN_PRUNE_ROWS	256
#define TWOFA_LOGIN_FIELD_MAX	253

/** The logins of user (any ASCII case; NULL: everyone) at or after since, oldest
 *  first; *out is a talloc array of *count rows under ctx, strings its children. */
twofa_rcode_t twofa_store_list_logins(twofa_store_t *store, TALLOC_CTX *ctx, char const *user, time_t since,
				      twofa_login_t **out, size_t *count);

/*
 *	Sealed States (state.h): each is answered once.
 */
/** Record a State's nonce as used, in one atomic statement, to be kept until
 *  expires (the State's deadline), then forgotten: of several callers with the
 *  same nonce, exactly one gets TWOFA_OK.  Every TWOFA_STATE_PRUNE_EVERY calls
 *  also forget at most TWOFA_STATE_PRUNE_ROWS nonces expired at now.
 *  @return TWOFA_OK, TWOFA_ERR_REPLAYED, TWOFA_ERR_MALFORMED, TWOFA_ERR_BUSY, TWOFA_ERR_STORE. */
twofa_rcode_t twofa_store_state_use(twofa_store_t *store, uint8_t const *nonce, size_t len, time_t expires,
				    time_t now);
#define TWOFA_STATE_PRUNE_EVERY	64
#define TWOFA_STATE_PRUNE_ROWS	256

/*
 *	SMS and email codes (oob.h) and their sends.  One code per factor at
 *	a time: a new one replaces (voids) the one before.  Only its salted
 *	keyed hash is kept, with its expiry and whether it was used.
 */
/** Keep code (salt and keyed hash) as the one valid code of factor_id, until
 *  expires, unused; the factor's previous code is voided.  Only for a confirmed
 *  factor of user_id.  One statement.
 *  @return TWOFA_OK, TWOFA_ERR_NOT_ENROLLED (no such confirmed factor of the
 *  user), TWOFA_ERR_BUSY, TWOFA_ERR_STORE. */
twofa_rcode_t twofa_store_oob_set(twofa_store_t *store, int64_t user_id, int64_t factor_id,
				  twofa_oob_hash_t const *code, time_t expires);

/** Take factor_id's code once: answer (digits digits, oob.h) must match its
 *  hash under okey (the derived oob key) in constant time, and the code be
 *  unused and unexpired at now, the factor still user_id's and confirmed, the
 *  user not locked.  The code is marked used by one conditional UPDATE: of
 *  racing logins with the same code, exactly one gets TWOFA_OK.  With login
 *  (may be NULL), its row is written in the same call on TWOFA_OK.  A wrong
 *  answer changes nothing here: the caller counts it (record_failure).
 *  @return TWOFA_OK, TWOFA_ERR_BAD_CODE (no code, or no match), TWOFA_ERR_EXPIRED,
 *  TWOFA_ERR_REPLAYED (matched, already used), TWOFA_ERR_LOCKED,
 *  TWOFA_ERR_NOT_ENROLLED (factor removed or replaced), TWOFA_ERR_NOT_FOUND
 *  (user deleted), TWOFA_ERR_MALFORMED, TWOFA_ERR_BUSY, TWOFA_ERR_STORE. */
twofa_rcode_t twofa_store_oob_consume(twofa_store_t *store, int64_t user_id, int64_t factor_id,
				      uint8_t const okey[TWOFA_OOB_KEY_LEN], char const *answer, unsigned int digits,
				      time_t now, twofa_login_t const *login);

/** Count one send (an SMS or a mail) of user_id through nas at now, only if
 *  fewer than per_user sends of that user and fewer than per_nas sends through
 *  that NAS were counted in the hour before now (0: no limit of that kind).
 *  One statement checks and records, so racing logins cannot both pass the
 *  last slot.  Now and then rows older than an hour are pruned (a bounded
 *  DELETE, as the login log's).
 *  @return TWOFA_OK (counted: send), TWOFA_ERR_THROTTLED (a limit reached, not
 *  counted), TWOFA_ERR_BUSY, TWOFA_ERR_STORE. */
twofa_rcode_t twofa_store_send_allow(twofa_store_t *store, int64_t user_id, char const *nas, time_t now,
				     unsigned int per_user, unsigned int per_nas);
#define TWOFA_SEND_WINDOW	3600	//!< seconds the send limits count over
#define TWOFA_SEND_PRUNE_EVERY	64
#define TWOFA_SEND_PRUNE_ROWS	256

/** The method round one offers the user first (twofa-admin user set --method):
 *  kind, or 0 for none (the default order).  NOT_FOUND if no such user. */
twofa_rcode_t twofa_store_set_preferred(twofa_store_t *store, char const *name, twofa_factor_kind_t kind);

/** The user's own reply attributes on Accept (twofa-admin user set --reply), in
 *  the syntax of a policy_file rule's reply= (netpolicy.h); NULL or "" clears
 *  them.  The caller checks the syntax; names are checked by the module at
 *  use.  NOT_FOUND if no such user. */
twofa_rcode_t twofa_store_set_reply(twofa_store_t *store, char const *name, char const *reply);

/*
 *	The whole store, row by row (twofa-admin migrate): every user with its
 *	factors, counters and preferred method (ids kept), used steps, backup
 *	codes, remembered devices, audit and login rows.  Everything is read
 *	into memory at once.  What lives minutes (SMS and email codes, sends
 *	counted for the hourly limits, answered States' nonces) is not part
 *	of it: a code not yet answered is sent again after the move.
 */
typedef struct {
	int64_t			factor_id;
	int64_t			step;
	int64_t			expires;
} twofa_used_step_t;

typedef struct {
	int64_t			id;
	int64_t			user_id;
	uint8_t			*salt;
	size_t			salt_len;
	uint8_t			*hash;
	size_t			hash_len;
	time_t			created;
	time_t			used_at;		//!< 0: unused
} twofa_backup_row_t;

typedef struct {
	int64_t			id;
	time_t			at;
	char const		*actor;
	char const		*action;
	char const		*user;			//!< NULL if none
	char const		*detail;		//!< NULL if none
} twofa_audit_row_t;

typedef struct {
	int64_t			id;
	int64_t			user_id;
	uint8_t			*hash;			//!< devices.h: the keyed hash, never the name
	size_t			hash_len;
	time_t			created;
	time_t			last_used;
	time_t			expires;
	char const		*nas;			//!< NULL if none
} twofa_device_row_t;

typedef struct {
	int			schema_version;
	twofa_user_t		**users;		//!< by id; each with its factors (last_step as stored)
	size_t			num_users;
	twofa_used_step_t	*used;			//!< the backend's record of used steps (see load)
	size_t			num_used;
	twofa_backup_row_t	*codes;
	size_t			num_codes;
	twofa_audit_row_t	*audit;
	size_t			num_audit;
	twofa_login_t		*logins;
	size_t			num_logins;
	twofa_device_row_t	*devices;		//!< by id
	size_t			num_devices;
} twofa_store_dump_t;

/** Read every row into *out (talloc'd under ctx), in one read transaction. */
twofa_rcode_t twofa_store_dump(twofa_store_t *store, TALLOC_CTX *ctx, twofa_store_dump_t **out);
/** Write every row of dump, ids kept, into a store that holds no user, audit or
 *  login row yet, in one transaction: all of it or nothing.  Used steps may be
 *  kept as the backend keeps them: PostgreSQL folds them into each factor's
 *  high-water step (last_step), so no used step can be taken again.
 *  @return TWOFA_OK, TWOFA_ERR_EXISTS (the target is not empty), TWOFA_ERR_MALFORMED
 *  (another schema version than the target's), TWOFA_ERR_BUSY, TWOFA_ERR_STORE. */
twofa_rcode_t twofa_store_load(twofa_store_t *store, twofa_store_dump_t const *dump);

/*
 *	Bulk work (twofa-admin user import): one transaction around many calls.
 *	The handle holds the backend's connection for the thread that began it:
 *	that thread's store calls run in the transaction until commit or
 *	rollback, other threads' calls wait for it.  Both end the handle and
 *	set *txn to NULL; a rollback of NULL does nothing.
 */
typedef struct twofa_store_txn twofa_store_txn_t;
twofa_rcode_t twofa_store_begin(twofa_store_t *store, twofa_store_txn_t **txn);
twofa_rcode_t twofa_store_commit(twofa_store_txn_t **txn);
twofa_rcode_t twofa_store_rollback(twofa_store_txn_t **txn);

/*
 *	Remembered devices (devices.h): a keyed hash per device and user,
 *	never the device's name in clear.
 */
typedef struct {
	int64_t			id;			//!< for twofa-admin devices --forget
	time_t			created;		//!< first remembered
	time_t			last_used;		//!< last remembered again (a second factor from it)
	time_t			expires;
	char const		*nas;			//!< the NAS that last remembered it, as text; may be NULL
} twofa_device_t;

/** Remember the device whose hash is hash for user_id until expires (again: a new
 *  expiry, the same id), and forget the user's devices expired at now, in one call.
 *  @return TWOFA_OK, TWOFA_ERR_BUSY, TWOFA_ERR_STORE (TWOFA_ERR_STORE too if the user is gone). */
twofa_rcode_t twofa_store_device_remember(twofa_store_t *store, int64_t user_id,
					  uint8_t const hash[TWOFA_DEVICE_HASH_LEN], time_t now, time_t expires,
					  char const *nas);
/** Is the device remembered for user_id and not expired at now?  One read.
 *  @return TWOFA_OK, TWOFA_ERR_NOT_FOUND (not remembered), TWOFA_ERR_BUSY, TWOFA_ERR_STORE. */
twofa_rcode_t twofa_store_device_known(twofa_store_t *store, int64_t user_id,
				       uint8_t const hash[TWOFA_DEVICE_HASH_LEN], time_t now);
/** The user's devices not expired at now, oldest first; *out a talloc array under ctx.
 *  @return TWOFA_OK, TWOFA_ERR_NOT_FOUND (no such user), a store error. */
twofa_rcode_t twofa_store_device_list(twofa_store_t *store, TALLOC_CTX *ctx, char const *name, time_t now,
				      twofa_device_t **out, size_t *count);
/** Forget the user's device id, or all of them (id 0).  *forgotten (may be NULL):
 *  how many went (0: no such device).  @return TWOFA_OK, TWOFA_ERR_NOT_FOUND (no
 *  such user), a store error. */
twofa_rcode_t twofa_store_device_forget(twofa_store_t *store, char const *name, int64_t id, unsigned int *forgotten);

#endif
