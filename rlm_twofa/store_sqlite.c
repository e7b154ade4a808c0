/*
 * store_sqlite.c	The SQLite backend of store.h; the only file that includes sqlite3.h.
 *
 *		One connection per store, its statements prepared once, used by
 *		one thread at a time (a mutex held for one store call or one
 *		batch of them, never across network I/O).  Why not one per
 *		thread: in WAL mode every commit on one connection makes every
 *		other connection drop its page cache, so each lookup read its
 *		pages again; the benchmark (bench/README.md) measured 30-45 %
 *		less CPU per login with one.  The login path's calls are
 *		combined into shared transactions under load (store_call).
 *		Each consume-once operation is one atomic statement, so other
 *		processes sharing the file (twofa-admin, a second radiusd) are
 *		safe too; they wait at most busy_timeout for SQLite's lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sqlite3.h>

#include "combine.h"
#include "store_backend.h"
#include "totp.h"

#define SCHEMA_VERSION	11

/*
 *	A used step is kept this many periods past its own, one more than the
 *	widest window: by then no code for it or an earlier step can be
 *	accepted (totp.c), so its record can go.
 */
#define USED_STEP_PERIODS	(TWOFA_TOTP_MAX_WINDOW + 1)
/*
 *	Expired used steps are swept out in key order: every SWEEP_EVERY
 *	consumes, one looks at the next SWEEP_ROWS records, four times as many
 *	as were added since, so the table keeps to about the records of the
 *	last USED_STEP_PERIODS periods.  Not on every consume: on its own (not
 *	in a batch) the delete is a transaction of its own.  Nor through an
 *	index by expiry: every login would update it (bench/README.md).
 */
#define SWEEP_EVERY		64
#define SWEEP_ROWS		(4 * SWEEP_EVERY)

/*
 *	Migrations: entry N brings a store from user_version N to N + 1.
 *	Append only; never edit a released entry.
 */
static char const *migrations[SCHEMA_VERSION] = {
	/* 0 -> 1 */
	"CREATE TABLE users ("
	"	id INTEGER PRIMARY KEY,"
	"	name TEXT NOT NULL UNIQUE,"
	"	password_hash TEXT,"
	"	created INTEGER NOT NULL,"
	"	fail_count INTEGER NOT NULL DEFAULT 0,"
	"	lock_count INTEGER NOT NULL DEFAULT 0,"
	"	locked_until INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE totp ("
	"	user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,"
	"	secret BLOB NOT NULL,"
	"	hash TEXT NOT NULL,"
	"	digits INTEGER NOT NULL,"
	"	period INTEGER NOT NULL,"
	"	confirmed INTEGER NOT NULL DEFAULT 0,"
	"	last_step INTEGER NOT NULL DEFAULT -1,"
	"	created INTEGER NOT NULL);"
	"CREATE TABLE audit ("
	"	id INTEGER PRIMARY KEY,"
	"	at INTEGER NOT NULL,"
	"	actor TEXT NOT NULL,"
	"	action TEXT NOT NULL,"
	"	user TEXT,"
	"	detail TEXT);",
	/*
	 * 1 -> 2: used steps in a table of their own.  Updating totp.last_step
	 * made every login write its user's page of a table as large as the
	 * user base; these records are few (logins of the last minutes), so
	 * their pages stay cached (bench/README.md: 1 000 000 users).  A new
	 * or removed enrolment takes its user's records with it.
	 */
	"CREATE TABLE totp_used ("
	"	user_id INTEGER NOT NULL,"
	"	step INTEGER NOT NULL,"
	"	expires INTEGER NOT NULL,"
	"	PRIMARY KEY (user_id, step)) WITHOUT ROWID;"
	"CREATE TRIGGER totp_enrolled AFTER INSERT ON totp BEGIN "
	"	DELETE FROM totp_used WHERE user_id = NEW.user_id; END;"
	"CREATE TRIGGER totp_removed AFTER DELETE ON totp BEGIN "
	"	DELETE FROM totp_used WHERE user_id = OLD.user_id; END;",
	/*
	 * 2 -> 3: first-factor failures in a row, and until when the next
	 * password is not even checked (twofa_store_record_password_failure).
	 * Names are looked up in any ASCII case: a directory (LDAP, AD) that
	 * takes "ALICE" for "alice" must not make her a user without a
	 * second factor.  Not UNIQUE: older stores may hold both spellings.
	 */
	"ALTER TABLE users ADD COLUMN password_failures INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE users ADD COLUMN password_next_try INTEGER NOT NULL DEFAULT 0;"
	"CREATE INDEX users_name_nocase ON users (name COLLATE NOCASE);",
	/*
	 * 3 -> 4: backup codes, a salt and a keyed hash each (backup.h).
	 * used_at is NULL until the code is used; a used code stays until
	 * the next set replaces it.  The index serves round one's count of
	 * unused codes (a range of it per user) and the consume's list.
	 */
	"CREATE TABLE backup_codes ("
	"	id INTEGER PRIMARY KEY,"
	"	user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"	salt BLOB NOT NULL,"
	"	hash BLOB NOT NULL,"
	"	created INTEGER NOT NULL,"
	"	used_at INTEGER);"
	"CREATE INDEX backup_codes_user ON backup_codes (user_id, used_at);",
	/*
	 * 4 -> 5: a per-user exemption from the second factor (twofa-admin
	 * user 2fa NAME off): the first factor alone lets the user in,
	 * whatever enforce says.  Off (0) for every user on file.
	 */
	"ALTER TABLE users ADD COLUMN exempt INTEGER NOT NULL DEFAULT 0;",
	/*
	 * 5 -> 6: the login log, one row per login outcome (twofa-admin log).
	 * No index but the rowid: each login adds a row and nothing else;
	 * an admin's query by name or time scans the table.
	 */
	"CREATE TABLE logins ("
	"	id INTEGER PRIMARY KEY,"
	"	at INTEGER NOT NULL,"
	"	user TEXT,"
	"	nas TEXT,"
	"	calling_station_id TEXT,"
	"	method TEXT NOT NULL,"
	"	result TEXT NOT NULL,"
	"	reason TEXT NOT NULL);",
	/*
	 * 6 -> 7: factors.  A user holds any number of them, one of each
	 * kind; the TOTP enrolment moves here with its secret, confirmation
	 * and used steps.  The id is the factor's generation: AUTOINCREMENT
	 * never hands out an id again, so a replaced factor (INSERT OR
	 * REPLACE: delete, then insert) has a new one, and a consume naming
	 * the old one finds it gone.  Its used steps go with a deleted
	 * factor (the connection turns recursive_triggers on, so that a
	 * REPLACE's delete fires the trigger too).
	 */
	"CREATE TABLE factors ("
	"	id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"	user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"	kind TEXT NOT NULL,"
	"	confirmed INTEGER NOT NULL DEFAULT 0,"
	"	secret BLOB,"
	"	hash TEXT,"
	"	digits INTEGER,"
	"	period INTEGER,"
	"	address TEXT,"
	"	last_step INTEGER NOT NULL DEFAULT -1,"
	"	created INTEGER NOT NULL,"
	"	UNIQUE (user_id, kind));"
	"INSERT INTO factors (user_id, kind, confirmed, secret, hash, digits, period, last_step, created) "
	"	SELECT user_id, 'totp', confirmed, secret, hash, digits, period, last_step, created FROM totp;"
	"CREATE TABLE factor_used ("
	"	factor_id INTEGER NOT NULL,"
	"	step INTEGER NOT NULL,"
	"	expires INTEGER NOT NULL,"
	"	PRIMARY KEY (factor_id, step)) WITHOUT ROWID;"
	"INSERT INTO factor_used (factor_id, step, expires) "
	"	SELECT f.id, u.step, u.expires FROM totp_used u JOIN factors f ON f.user_id = u.user_id AND f.kind = 'totp';"
	"DROP TRIGGER totp_enrolled;"
	"DROP TRIGGER totp_removed;"
	"DROP TABLE totp_used;"
	"DROP TABLE totp;"
	"CREATE TRIGGER factor_removed AFTER DELETE ON factors BEGIN "
	"	DELETE FROM factor_used WHERE factor_id = OLD.id; END;",
	/*
	 * 7 -> 8: SMS and email codes, one row per factor (a new code
	 * replaces the one before), gone with their factor (the trigger; a
	 * replaced factor's REPLACE fires it too) or their user.  Sends, for
	 * the per-user and per-NAS limits: rows of the last hour, pruned in
	 * rowid order; no foreign key, they age out.  The preferred method:
	 * a kind's name, NULL for the default order.
	 */
	"CREATE TABLE oob_codes ("
	"	factor_id INTEGER PRIMARY KEY,"
	"	user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"	salt BLOB NOT NULL,"
	"	hash BLOB NOT NULL,"
	"	expires INTEGER NOT NULL,"
	"	used_at INTEGER);"
	"CREATE TRIGGER factor_removed_oob AFTER DELETE ON factors BEGIN "
	"	DELETE FROM oob_codes WHERE factor_id = OLD.id; END;"
	"CREATE TABLE sends ("
	"	id INTEGER PRIMARY KEY,"
	"	user_id INTEGER NOT NULL,"
	"	nas TEXT NOT NULL,"
	"	at INTEGER NOT NULL);"
	"CREATE INDEX sends_user ON sends (user_id, at);"
	"CREATE INDEX sends_nas ON sends (nas, at);"
	"ALTER TABLE users ADD COLUMN preferred TEXT;",
	/*
	 * 8 -> 9: the nonces of sealed States answered (state.h), each kept
	 * until its State's deadline: a State is good for one answer, on
	 * any radiusd sharing the store.  Keyed by deadline first: a State
	 * always carries the same deadline, so (expires, nonce) is as unique
	 * as the nonce, and new rows land at the end of the tree (the pages
	 * a login writes stay few and cached) while the prune takes the
	 * front.  (Keyed by the random nonce, each login dirtied a page of
	 * its own and an index: 15 us more CPU per login, bench/README.md.)
	 */
	"CREATE TABLE used_states ("
	"	expires INTEGER NOT NULL,"
	"	nonce BLOB NOT NULL,"
	"	PRIMARY KEY (expires, nonce)) WITHOUT ROWID;",
	/*
	 * 9 -> 10: remembered devices (devices.h): a keyed hash of the user's
	 * id and the device's normalised Calling-Station-Id, never the name
	 * in clear.  A login from a remembered device looks up (user_id,
	 * hash) by the unique index; nas is the NAS that remembered it, for
	 * twofa-admin devices.
	 */
	"CREATE TABLE devices ("
	"	id INTEGER PRIMARY KEY,"
	"	user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"	hash BLOB NOT NULL,"
	"	created INTEGER NOT NULL,"
	"	last_used INTEGER NOT NULL,"
	"	expires INTEGER NOT NULL,"
	"	nas TEXT,"
	"	UNIQUE (user_id, hash));",
	/*
	 * 10 -> 11: reply attributes of the user's own, added to an Accept
	 * ("Class = vpn-users, Filter-Id = x", the syntax of a policy_file
	 * rule's reply=); NULL: none.  Set by twofa-admin user set --reply,
	 * read by get_user; the module checks the names at use.
	 */
	"ALTER TABLE users ADD COLUMN reply TEXT;",
};

typedef enum {
	STMT_GET_USER = 0,
	STMT_ADD_USER,
	STMT_SET_PASSWORD,
	STMT_DELETE_USER,
	STMT_FORGET_SENDS,
	STMT_LIST_USERS,
	STMT_FACTOR_SET,
	STMT_FACTOR_CONFIRM,
	STMT_FACTOR_REMOVE,
	STMT_FACTOR_CLEAR,
	STMT_FACTOR_ENROL,
	STMT_SWEEP_END,
	STMT_SWEEP_USED,
	STMT_CONSUME_STEP,
	STMT_WHY_NOT_CONSUMED,
	STMT_RECORD_FAILURE,
	STMT_RECORD_SUCCESS,
	STMT_PASSWORD_FAILURE,
	STMT_PASSWORD_SUCCESS,
	STMT_UNLOCK,
	STMT_SET_EXEMPT,
	STMT_RESET_USER,
	STMT_USER_ID,
	STMT_BACKUP_COUNT,
	STMT_BACKUP_CLEAR,
	STMT_BACKUP_ADD,
	STMT_BACKUP_UNUSED,
	STMT_BACKUP_USE,
	STMT_BACKUP_WHY_NOT,
	STMT_AUDIT,
	STMT_LOG_LOGIN,
	STMT_PRUNE_LOGINS,
	STMT_LIST_LOGINS,
	STMT_LAST_ACCEPTS,
	STMT_OOB_SET,
	STMT_OOB_FIND,
	STMT_OOB_USE,
	STMT_OOB_WHY_NOT,
	STMT_SEND_ALLOW,
	STMT_PRUNE_SENDS,
	STMT_SET_PREFERRED,
	STMT_SET_REPLY,
	STMT_STATE_USE,
	STMT_STATE_PRUNE,
	STMT_DUMP_USED,
	STMT_DUMP_CODES,
	STMT_DUMP_AUDIT,
	STMT_DUMP_DEVICES,
	STMT_BEGIN,
	STMT_BEGIN_READ,
	STMT_COMMIT,
	STMT_ROLLBACK,
	/* Remembered devices (devices.h). */
	STMT_DEVICE_REMEMBER,
	STMT_DEVICE_EXPIRE,
	STMT_DEVICE_KNOWN,
	STMT_DEVICE_LIST,
	STMT_DEVICE_FORGET,
	STMT_COUNT
} stmt_t;

/* A user's row, once per factor (once with NULL factor columns if none): user_from_rows(). */
#define USER_COLUMNS \
	"u.id, u.name, u.password_hash, u.created, u.fail_count, u.lock_count, u.locked_until, " \
	"u.password_failures, u.password_next_try, " \
	"(SELECT count(*) FROM backup_codes b WHERE b.user_id = u.id AND b.used_at IS NULL), " \
	"u.exempt, u.preferred, " \
	"u.reply, " \
	"f.id, f.kind, f.confirmed, f.secret, f.hash, f.digits, f.period, f.address, f.last_step, f.created " \
	"FROM users u LEFT JOIN factors f ON f.user_id = u.id "
enum { COL_PREFERRED = 11, COL_REPLY = 12, COL_FACTOR = 13 };	/* the first factor column */

static char const *statements[STMT_COUNT] = {
	/*
	 *	The exact spelling (the unique index, the usual case), else the
	 *	name in any ASCII case, the oldest such user first.  UNION ALL
	 *	with LIMIT 1 runs the second search only if the first found
	 *	nothing, and needs no sort.
	 */
	[STMT_GET_USER]		= "SELECT " USER_COLUMNS "WHERE u.id = (SELECT id FROM users WHERE name = ?1 "
				  "UNION ALL SELECT id FROM users WHERE name = ?1 COLLATE NOCASE AND name <> ?1 "
				  "LIMIT 1) ORDER BY f.kind",
	/* A name that differs from another only in case is taken already. */
	[STMT_ADD_USER]		= "INSERT INTO users (name, password_hash, created) SELECT ?1, ?2, ?3 "
				  "WHERE NOT EXISTS (SELECT 1 FROM users WHERE name = ?1 COLLATE NOCASE)",
	[STMT_SET_PASSWORD]	= "UPDATE users SET password_hash = ?2 WHERE name = ?1",
	/* The foreign keys take the rest of the user's rows; sends have none (they age out). */
	[STMT_DELETE_USER]	= "DELETE FROM users WHERE id = ?1",
	[STMT_FORGET_SENDS]	= "DELETE FROM sends WHERE user_id = ?1",
	[STMT_LIST_USERS]	= "SELECT " USER_COLUMNS "ORDER BY u.name, u.id, f.kind",
	/* ?1 name, ?2 kind, ?3 secret, ?4 hash, ?5 digits, ?6 period, ?7 confirmed, ?8 address, ?9 now. */
	[STMT_FACTOR_SET]	= "INSERT OR REPLACE INTO factors (user_id, kind, confirmed, secret, hash, digits, period, "
				  "address, last_step, created) SELECT id, ?2, ?7, ?3, ?4, ?5, ?6, ?8, -1, ?9 "
				  "FROM users WHERE name = ?1",
	[STMT_FACTOR_CONFIRM]	= "UPDATE factors SET confirmed = 1, last_step = ?3 "
				  "WHERE confirmed = 0 AND kind = ?2 AND user_id = (SELECT id FROM users WHERE name = ?1)",
	[STMT_FACTOR_REMOVE]	= "DELETE FROM factors WHERE kind = ?2 AND user_id = (SELECT id FROM users WHERE name = ?1)",
	[STMT_FACTOR_CLEAR]	= "DELETE FROM factors WHERE user_id = ?1",
	/*
	 *	Enrolment at login: confirmed at once, its confirming step used
	 *	(last_step, which the consume refuses anything up to).  Only if
	 *	no confirmed factor of the kind is there (another login's, made
	 *	meanwhile, is kept: of racing enrolments one wins; an
	 *	unconfirmed one is replaced) and the user is not locked.
	 *	?1 user id, ?2 kind, ?3 secret, ?4 hash, ?5 digits, ?6 period,
	 *	?7 step, ?8 now, ?9 address (SMS, email: sms_ask_number).
	 */
	[STMT_FACTOR_ENROL]	= "INSERT OR REPLACE INTO factors (user_id, kind, confirmed, secret, hash, digits, period, "
				  "last_step, created, address) SELECT id, ?2, 1, ?3, ?4, ?5, ?6, ?7, ?8, ?9 FROM users "
				  "WHERE id = ?1 AND locked_until <= ?8 "
				  "AND NOT EXISTS (SELECT 1 FROM factors WHERE user_id = ?1 AND kind = ?2 AND confirmed = 1)",
	/* The key ?3 records on from (?1, ?2), where a sweep of them ends. */
	[STMT_SWEEP_END]	= "SELECT factor_id, step FROM factor_used WHERE (factor_id, step) > (?1, ?2) "
				  "ORDER BY factor_id, step LIMIT 1 OFFSET ?3",
	/*
	 *	A factor's newest used step is never swept: it is the factor's
	 *	high-water mark, which the consume below refuses anything up to,
	 *	whatever the clock did since (a clock that ran ahead, swept, and
	 *	was stepped back must not make an old code new again).
	 */
	[STMT_SWEEP_USED]	= "DELETE FROM factor_used WHERE (factor_id, step) > (?1, ?2) "
				  "AND (factor_id, step) <= (?3, ?4) AND expires <= ?5 "
				  "AND EXISTS (SELECT 1 FROM factor_used n WHERE n.factor_id = factor_used.factor_id "
				  "AND n.step > factor_used.step)",
	/*
	 *	Atomic: of several callers with the same step, one adds the
	 *	record.  Refused: a step no later than one used already, or so
	 *	old that its record would have expired.  It also checks again
	 *	what round one read: the same factor (its id: a replaced one
	 *	has a new id), still the user's and confirmed, and no lock.  The
	 *	record's expiry is NULL unless every check passes, and OR
	 *	IGNORE then skips the row.  (Not INSERT ... SELECT: one that
	 *	reads its own table copies its rows through a temporary table,
	 *	which doubled the statement's cost.)  ?1 user, ?2 step,
	 *	?3 factor id, ?4 now, ?5 USED_STEP_PERIODS.
	 */
	[STMT_CONSUME_STEP]	= "INSERT OR IGNORE INTO factor_used (factor_id, step, expires) VALUES (?3, ?2, "
				  "(SELECT (?2 + ?5) * period FROM factors "
				  "WHERE id = ?3 AND user_id = ?1 AND confirmed = 1 AND last_step < ?2 "
				  "AND (?2 + ?5) * period > ?4 "
				  "AND NOT EXISTS (SELECT 1 FROM factor_used WHERE factor_id = ?3 AND step >= ?2) "
				  "AND (SELECT locked_until FROM users WHERE id = ?1) <= ?4))",
	/* Only when the above changed nothing: which condition failed. */
	[STMT_WHY_NOT_CONSUMED]	= "SELECT u.locked_until > ?4, EXISTS (SELECT 1 FROM factors f "
				  "WHERE f.id = ?3 AND f.user_id = u.id AND f.confirmed = 1) "
				  "FROM users u WHERE u.id = ?1",
	/*
	 *	One statement: SQLite evaluates every expression of the SET
	 *	against the old row.  ?2 max failures, ?3 now, ?4 first lock,
	 *	?5 longest lock.  An existing lock is kept as it is.
	 */
	[STMT_RECORD_FAILURE]	= "UPDATE users SET "
				  "fail_count = CASE WHEN fail_count + 1 >= ?2 THEN 0 ELSE fail_count + 1 END, "
				  "lock_count = CASE WHEN fail_count + 1 >= ?2 THEN lock_count + 1 ELSE lock_count END, "
				  "locked_until = CASE WHEN fail_count + 1 >= ?2 "
				  "THEN ?3 + MIN(?4 << MIN(lock_count, 20), ?5) ELSE locked_until END "
				  "WHERE id = ?1 RETURNING CASE WHEN locked_until > ?3 THEN locked_until ELSE 0 END",
	[STMT_RECORD_SUCCESS]	= "UPDATE users SET fail_count = 0, lock_count = 0, locked_until = 0 "
				  "WHERE id = ?1 AND (fail_count > 0 OR lock_count > 0 OR locked_until > 0)",
	/*
	 *	First-factor failures: the first ?2 in a row cost nothing; each
	 *	further one makes the next password wait ?4 seconds, doubled
	 *	per failure, at most ?5.  ?3 now.  No hard lock: someone who
	 *	knows only the name can delay the user by at most ?5.
	 */
	[STMT_PASSWORD_FAILURE]	= "UPDATE users SET password_failures = password_failures + 1, "
				  "password_next_try = CASE WHEN password_failures + 1 > ?2 "
				  "THEN ?3 + MIN(?4 << MIN(password_failures - ?2, 20), ?5) ELSE 0 END "
				  "WHERE id = ?1 RETURNING password_next_try",
	[STMT_PASSWORD_SUCCESS]	= "UPDATE users SET password_failures = 0, password_next_try = 0 "
				  "WHERE id = ?1 AND (password_failures > 0 OR password_next_try > 0)",
	[STMT_UNLOCK]		= "UPDATE users SET fail_count = 0, lock_count = 0, locked_until = 0, "
				  "password_failures = 0, password_next_try = 0 WHERE name = ?1",
	[STMT_SET_EXEMPT]	= "UPDATE users SET exempt = ?2 WHERE name = ?1",
	/* Every counter back to 0, as after twofa-admin user unlock; the factors go in twofa_store_reset_user. */
	[STMT_RESET_USER]	= "UPDATE users SET fail_count = 0, lock_count = 0, locked_until = 0, "
				  "password_failures = 0, password_next_try = 0 WHERE id = ?1",
	[STMT_USER_ID]		= "SELECT id FROM users WHERE name = ?1",
	[STMT_BACKUP_COUNT]	= "SELECT count(*) FROM backup_codes WHERE user_id = ?1 AND used_at IS NULL",
	[STMT_BACKUP_CLEAR]	= "DELETE FROM backup_codes WHERE user_id = ?1",
	[STMT_BACKUP_ADD]	= "INSERT INTO backup_codes (user_id, salt, hash, created) VALUES (?1, ?2, ?3, ?4)",
	[STMT_BACKUP_UNUSED]	= "SELECT id, salt, hash FROM backup_codes WHERE user_id = ?1 AND used_at IS NULL",
	/*
	 *	The consume-once: of two logins with the same code, both may
	 *	find it unused above, but only one UPDATE changes the row.  It
	 *	also checks again that the user is not locked.  ?1 code id,
	 *	?2 user id, ?3 now.
	 */
	[STMT_BACKUP_USE]	= "UPDATE backup_codes SET used_at = ?3 WHERE id = ?1 AND user_id = ?2 AND used_at IS NULL "
				  "AND (SELECT locked_until FROM users WHERE id = ?2) <= ?3",
	/* Only when the above changed nothing, or nothing matched: locked?  No row: user deleted. */
	[STMT_BACKUP_WHY_NOT]	= "SELECT locked_until > ?2 FROM users WHERE id = ?1",
	[STMT_AUDIT]		= "INSERT INTO audit (at, actor, action, user, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
	[STMT_LOG_LOGIN]	= "INSERT INTO logins (at, user, nas, calling_station_id, method, result, reason) "
				  "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	/*
	 *	Only the ?2 oldest rows are looked at, through the rowid, so a
	 *	prune costs the same however large the table: rows older than
	 *	?1 among them go.
	 */
	[STMT_PRUNE_LOGINS]	= "DELETE FROM logins WHERE id IN (SELECT id FROM logins ORDER BY id LIMIT ?2) AND at < ?1",
	[STMT_LIST_LOGINS]	= "SELECT id, at, user, nas, calling_station_id, method, result, reason FROM logins "
				  "WHERE (?1 IS NULL OR user = ?1 COLLATE NOCASE) AND at >= ?2 ORDER BY id",
	/* Each name's newest Accept: a scan of the log, for twofa-admin user list only. */
	[STMT_LAST_ACCEPTS]	= "SELECT user, max(at) FROM logins WHERE result = 'accept' AND user IS NOT NULL "
				  "GROUP BY user",
	/* ?1 user, ?2 factor, ?3 salt, ?4 hash, ?5 expires: only for the user's confirmed factor. */
	[STMT_OOB_SET]		= "INSERT OR REPLACE INTO oob_codes (factor_id, user_id, salt, hash, expires, used_at) "
				  "SELECT id, user_id, ?3, ?4, ?5, NULL FROM factors WHERE id = ?2 AND user_id = ?1 "
				  "AND confirmed = 1",
	[STMT_OOB_FIND]		= "SELECT salt, hash FROM oob_codes WHERE factor_id = ?2 AND user_id = ?1",
	/*
	 *	The consume-once, for a code whose hash matched (the salt names
	 *	that code: a newer one has another).  Of racing logins only one
	 *	UPDATE changes the row.  ?1 user, ?2 factor, ?3 now, ?4 salt.
	 */
	[STMT_OOB_USE]		= "UPDATE oob_codes SET used_at = ?3 WHERE factor_id = ?2 AND user_id = ?1 AND salt = ?4 "
				  "AND used_at IS NULL AND expires > ?3 "
				  "AND EXISTS (SELECT 1 FROM factors WHERE id = ?2 AND user_id = ?1 AND confirmed = 1) "
				  "AND (SELECT locked_until FROM users WHERE id = ?1) <= ?3",
	/* Only when the above changed nothing: locked, factor there, used, expired.  No row: user deleted. */
	[STMT_OOB_WHY_NOT]	= "SELECT u.locked_until > ?3, "
				  "EXISTS (SELECT 1 FROM factors f WHERE f.id = ?2 AND f.user_id = u.id AND f.confirmed = 1), "
				  "(SELECT o.used_at IS NOT NULL FROM oob_codes o WHERE o.factor_id = ?2 AND o.salt = ?4), "
				  "(SELECT o.expires <= ?3 FROM oob_codes o WHERE o.factor_id = ?2 AND o.salt = ?4) "
				  "FROM users u WHERE u.id = ?1",
	/*
	 *	Check and count in one statement: the row goes in only if both
	 *	counts of the last hour are under their limits (0: none).
	 *	?1 user, ?2 nas, ?3 now, ?4 per user, ?5 per NAS, ?6 window.
	 */
	[STMT_SEND_ALLOW]	= "INSERT INTO sends (user_id, nas, at) SELECT ?1, ?2, ?3 "
				  "WHERE (?4 = 0 OR (SELECT count(*) FROM sends WHERE user_id = ?1 AND at > ?3 - ?6) < ?4) "
				  "AND (?5 = 0 OR (SELECT count(*) FROM sends WHERE nas = ?2 AND at > ?3 - ?6) < ?5)",
	/* As the login log's prune: the ?2 oldest rows looked at, those before ?1 go. */
	[STMT_PRUNE_SENDS]	= "DELETE FROM sends WHERE id IN (SELECT id FROM sends ORDER BY id LIMIT ?2) AND at <= ?1",
	[STMT_SET_PREFERRED]	= "UPDATE users SET preferred = ?2 WHERE name = ?1",
	[STMT_SET_REPLY]	= "UPDATE users SET reply = ?2 WHERE name = ?1",
	/* Of racing callers with one nonce, the primary key lets one insert. */
	[STMT_STATE_USE]	= "INSERT OR IGNORE INTO used_states (nonce, expires) VALUES (?1, ?2)",
	/* The front of the tree: the ?2 oldest at most, those past ?1. */
	[STMT_STATE_PRUNE]	= "DELETE FROM used_states WHERE (expires, nonce) IN "
				  "(SELECT expires, nonce FROM used_states WHERE expires < ?1 ORDER BY expires LIMIT ?2)",
	/* twofa-admin migrate: every row, in key order. */
	[STMT_DUMP_USED]	= "SELECT factor_id, step, expires FROM factor_used ORDER BY factor_id, step",
	[STMT_DUMP_CODES]	= "SELECT id, user_id, salt, hash, created, used_at FROM backup_codes ORDER BY id",
	[STMT_DUMP_AUDIT]	= "SELECT id, at, actor, action, user, detail FROM audit ORDER BY id",
	[STMT_DUMP_DEVICES]	= "SELECT id, user_id, hash, created, last_used, expires, nas FROM devices ORDER BY id",
	[STMT_BEGIN]		= "BEGIN IMMEDIATE",
	[STMT_BEGIN_READ]	= "BEGIN",	/* deferred: in WAL, reads never wait for a writer */
	[STMT_COMMIT]		= "COMMIT",
	[STMT_ROLLBACK]		= "ROLLBACK",
	/* A device remembered again keeps its id and first date; ?1 user, ?2 hash, ?3 now, ?4 expiry, ?5 NAS. */
	[STMT_DEVICE_REMEMBER]	= "INSERT INTO devices (user_id, hash, created, last_used, expires, nas) "
				  "VALUES (?1, ?2, ?3, ?3, ?4, ?5) ON CONFLICT (user_id, hash) DO UPDATE SET "
				  "last_used = ?3, expires = ?4, nas = ?5",
	[STMT_DEVICE_EXPIRE]	= "DELETE FROM devices WHERE user_id = ?1 AND expires <= ?2",
	[STMT_DEVICE_KNOWN]	= "SELECT 1 FROM devices WHERE user_id = ?1 AND hash = ?2 AND expires > ?3",
	[STMT_DEVICE_LIST]	= "SELECT id, created, last_used, expires, nas FROM devices WHERE user_id = ?1 "
				  "AND expires > ?2 ORDER BY id",
	/* ?2 = 0: every device of the user. */
	[STMT_DEVICE_FORGET]	= "DELETE FROM devices WHERE user_id = ?1 AND (?2 = 0 OR id = ?2)",
};

typedef struct sqlite_store sqlite_store_t;

/** The store's connection. */
typedef struct conn {
	sqlite3			*db;
	sqlite3_stmt		*stmt[STMT_COUNT];
	sqlite_store_t		*store;
	dev_t			dev;		//!< the file it opened, to notice a replaced one
	ino_t			ino;
	bool			broken;		//!< corrupt or I/O error: closed at release, reopened later
} conn_t;

/* In each operation of the table: the backend's handle behind store.c's. */
#define SQLITE_STORE(_h)	sqlite_store_t *store = (sqlite_store_t *) (_h)

/*
 *	The store whose bulk transaction the calling thread holds (begin), if
 *	any: that thread's calls use the connection it holds, without taking
 *	it again; every other thread waits for the connection as usual.
 */
static __thread sqlite_store_t *txn_of_thread;

typedef struct checkpointer checkpointer_t;

struct sqlite_store {
	twofa_store_t		handle;		//!< first: what store.c sees (store_backend.h)
	char			*path;
	unsigned int		busy_timeout_ms;
	pthread_mutex_t		use;		//!< held for one store call, or one batch of them
	twofa_combiner_t	combiner;	//!< the login path's calls, in batches (store_call)
	bool			background_checkpoint;
	checkpointer_t		*checkpointer;	//!< NULL: SQLite checkpoints in the committing thread
	conn_t			*conn;		//!< NULL until the file could be opened
	time_t			last_failure;	//!< of an open, to retry at most once a second
	unsigned int		consumes;	//!< counts consume calls, for the sweep
	unsigned int		logins;		//!< counts logged logins, for the prune
	unsigned int		sends;		//!< counts counted sends, for their prune
	unsigned int		login_keep_days;
	unsigned int		state_uses;	//!< counts state_use calls, for the prune
	int64_t			sweep_user;	//!< where the next sweep of used steps starts
	int64_t			sweep_step;
	int			schema_version;
	char			errmsg[320];	//!< why the last open of the file failed
};

/* The calling thread's last failure, readable after the mutex is released. */
static __thread char thread_errmsg[TWOFA_CALL_ERRMSG];

static void conn_close(conn_t *c)
{
	int i;

	for (i = 0; i < STMT_COUNT; i++) if (c->stmt[i]) sqlite3_finalize(c->stmt[i]);
	if (c->db) sqlite3_close_v2(c->db);
	free(c);
}

static twofa_rcode_t rcode_from_sqlite(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:	return TWOFA_OK;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:	return TWOFA_ERR_BUSY;
	case SQLITE_CONSTRAINT:	return TWOFA_ERR_EXISTS;
	case SQLITE_NOMEM:	return TWOFA_ERR_NO_MEMORY;
	default:		return TWOFA_ERR_STORE;
	}
}

/* Errors after which the connection is not to be trusted: reopen it. */
static bool sqlite_broken(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
	case SQLITE_READONLY:
		return true;
	default:
		return false;
	}
}

static twofa_rcode_t conn_error(conn_t *c, char const *what, int rc)
{
	snprintf(thread_errmsg, sizeof(thread_errmsg), "%s: %s", what, c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
	if (sqlite_broken(rc)) c->broken = true;
	return rcode_from_sqlite(rc);
}

static int conn_exec(conn_t *c, char const *sql)
{
	return sqlite3_exec(c->db, sql, NULL, NULL, NULL);
}

/* Open the connection. */
static twofa_rcode_t conn_open(sqlite_store_t *store, bool create, conn_t **out)
{
	conn_t	*c;
	int	rc, flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;

	c = calloc(1, sizeof(*c));
	if (!c) return TWOFA_ERR_NO_MEMORY;
	c->store = store;
	if (create) flags |= SQLITE_OPEN_CREATE;

	rc = sqlite3_open_v2(store->path, &c->db, flags, NULL);
	if (rc != SQLITE_OK) {
		snprintf(thread_errmsg, sizeof(thread_errmsg), "store %s: %s", store->path,
			 c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
		conn_close(c);
		return TWOFA_ERR_STORE;
	}
	sqlite3_busy_timeout(c->db, (int) store->busy_timeout_ms);
	sqlite3_extended_result_codes(c->db, 0);
	/* recursive_triggers: a REPLACE's delete fires the delete triggers (the migration to 7). */
	conn_exec(c, "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA recursive_triggers = ON");

	*out = c;
	return TWOFA_OK;
}

/* Prepare every statement once, after the schema exists. */
static twofa_rcode_t conn_prepare(conn_t *c)
{
	int i, rc;

	for (i = 0; i < STMT_COUNT; i++) {
		rc = sqlite3_prepare_v3(c->db, statements[i], -1, SQLITE_PREPARE_PERSISTENT, &c->stmt[i], NULL);
		if (rc != SQLITE_OK) return conn_error(c, "prepare", rc);
	}
	return TWOFA_OK;
}

/*
 *	Checkpoints off the login path.  SQLite's automatic checkpoint runs in
 *	the thread whose commit filled the WAL, with the connection held: it
 *	copies the WAL into the database file and syncs both while every
 *	login waits.  With background_checkpoint, a thread of the store's own
 *	does it instead, PASSIVE (it never waits for readers or the writer),
 *	once a commit finds CHECKPOINT_PAGES in the WAL, and once a second.
 *	Back to back at 6000 logins/s (bench/README.md): p99 2.1-9.2 ms,
 *	against 5.7-11.0 ms with checkpoints in the committing thread.
 */
#define CHECKPOINT_PAGES	1000

struct checkpointer {
	sqlite3			*db;		//!< its own connection
	pthread_t		thread;
	pthread_mutex_t		lock;
	pthread_cond_t		wake;
	bool			due;
	bool			stop;
};

/* sqlite3_wal_hook: runs after each commit, in the committing thread. */
static int wal_grown(void *arg, sqlite3 *db, char const *name, int pages)
{
	checkpointer_t *ck = arg;

	if (pages < CHECKPOINT_PAGES) return SQLITE_OK;
	pthread_mutex_lock(&ck->lock);
	if (!ck->due) {
		ck->due = true;
		pthread_cond_signal(&ck->wake);
	}
	pthread_mutex_unlock(&ck->lock);
	return SQLITE_OK;
}

static void *checkpoint_loop(void *arg)
{
	checkpointer_t	*ck = arg;
	struct timespec	at;

	pthread_mutex_lock(&ck->lock);
	while (!ck->stop) {
		if (!ck->due) {
			clock_gettime(CLOCK_MONOTONIC, &at);	/* a stepped clock must not stall it */
			at.tv_sec += 1;
			pthread_cond_timedwait(&ck->wake, &ck->lock, &at);
			if (ck->stop) break;
		}
		ck->due = false;
		pthread_mutex_unlock(&ck->lock);
		sqlite3_wal_checkpoint_v2(ck->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		pthread_mutex_lock(&ck->lock);
	}
	pthread_mutex_unlock(&ck->lock);
	return NULL;
}

static void checkpointer_free(checkpointer_t *ck)
{
	sqlite3_close_v2(ck->db);
	pthread_cond_destroy(&ck->wake);
	pthread_mutex_destroy(&ck->lock);
	free(ck);
}

static void checkpointer_stop(sqlite_store_t *store)
{
	checkpointer_t *ck = store->checkpointer;

	if (!ck) return;
	pthread_mutex_lock(&ck->lock);
	ck->stop = true;
	pthread_cond_signal(&ck->wake);
	pthread_mutex_unlock(&ck->lock);
	pthread_join(ck->thread, NULL);
	checkpointer_free(ck);
	store->checkpointer = NULL;
}

/* Start the checkpointer for the store's connection c, if asked and possible;
 * otherwise SQLite's automatic checkpoint stays on. */
static void checkpointer_start(sqlite_store_t *store, conn_t *c)
{
	checkpointer_t *ck;

	if (!store->background_checkpoint || store->checkpointer || sqlite3_db_readonly(c->db, "main")) return;
	ck = calloc(1, sizeof(*ck));
	if (!ck) return;
	pthread_mutex_init(&ck->lock, NULL);
	{
		pthread_condattr_t attr;

		pthread_condattr_init(&attr);
		pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
		pthread_cond_init(&ck->wake, &attr);
		pthread_condattr_destroy(&attr);
	}
	/* A connection knows the store is in WAL mode only once it has read it. */
	if ((sqlite3_open_v2(store->path, &ck->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) ||
	    (sqlite3_exec(ck->db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL) != SQLITE_OK) ||
	    (pthread_create(&ck->thread, NULL, checkpoint_loop, ck) != 0)) {
		checkpointer_free(ck);
		return;
	}
	store->checkpointer = ck;
	sqlite3_wal_hook(c->db, wal_grown, ck);		/* replaces SQLite's automatic checkpoint */
}

static twofa_rcode_t store_connect(sqlite_store_t *store, bool create, conn_t **out);

/* Close the store's connection (and its checkpointer's); the next call opens the file again. */
static void store_disconnect(sqlite_store_t *store)
{
	checkpointer_stop(store);
	if (store->conn) conn_close(store->conn);
	store->conn = NULL;
}

/*
 *	The file at the store's path is no longer the one open: replaced
 *	(a restore from a backup, rm then init) or deleted.  SQLite would go
 *	on serving the old, unlinked file, deleted users and all.  One
 *	stat() per call (about a microsecond), so the next login sees it.
 */
static bool store_file_replaced(sqlite_store_t *store, conn_t const *c)
{
	struct stat st;

	if (stat(store->path, &st) < 0) return true;
	return (st.st_dev != c->dev) || (st.st_ino != c->ino);
}

/*
 *	Before letting go of a replaced file: empty its WAL.  SQLite does not
 *	checkpoint a moved or deleted file on close, so its WAL would stay
 *	at PATH-wal, and the next open of PATH would replay the old file's
 *	pages into the new one.  A WAL already replaced at that path is
 *	not touched: this works on the file the connection holds open.
 */
static void forget_wal(conn_t *c)
{
	sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
}

/* Take the store's connection, opening it if need be; NULL (unlocked) if it cannot be. */
static conn_t *conn_acquire(sqlite_store_t *store)
{
	time_t	now;
	conn_t	*c;

	thread_errmsg[0] = '\0';
	if (txn_of_thread == store) return store->conn;		/* held since begin */
	pthread_mutex_lock(&store->use);
	if (store->conn) {
		/* Not inside a bulk transaction (begin/commit): its writes would be lost. */
		if (!sqlite3_get_autocommit(store->conn->db) || !store_file_replaced(store, store->conn)) return store->conn;
		forget_wal(store->conn);
		store_disconnect(store);
	}

	/* A missing, unreadable or corrupt store: try again at most once a second. */
	now = time(NULL);
	if (store->last_failure == now) {
		snprintf(thread_errmsg, sizeof(thread_errmsg), "%s", store->errmsg);
		goto fail;
	}
	if (store_connect(store, false, &c) != TWOFA_OK) {
		store->last_failure = now;
		snprintf(store->errmsg, sizeof(store->errmsg), "%s", thread_errmsg);
		goto fail;
	}
	store->conn = c;
	checkpointer_start(store, c);
	return c;

fail:
	pthread_mutex_unlock(&store->use);
	return NULL;
}

/*
 *	Cleanup handler: the end of a store call gives the connection back.
 *	A connection that met a corrupt page or an I/O error is closed, so
 *	that the next call opens the file afresh (a repaired or restored
 *	store is then used without a restart).
 */
static void conn_release(conn_t **c)
{
	sqlite_store_t *store;

	if (!*c) return;
	store = (*c)->store;
	if (txn_of_thread == store) return;				/* held until commit or rollback */
	if ((*c)->broken && sqlite3_get_autocommit((*c)->db)) {
		snprintf(store->errmsg, sizeof(store->errmsg), "store %.100s: %.200s", store->path, thread_errmsg);
		store_disconnect(store);
		store->last_failure = time(NULL);
	}
	pthread_mutex_unlock(&store->use);
}

/* PRAGMA user_version, or -1. */
static int schema_version(conn_t *c)
{
	sqlite3_stmt	*stmt;
	int		v = -1;

	if (sqlite3_prepare_v2(c->db, "PRAGMA user_version", -1, &stmt, NULL) != SQLITE_OK) return -1;
	if (sqlite3_step(stmt) == SQLITE_ROW) v = sqlite3_column_int(stmt, 0);
	sqlite3_finalize(stmt);
	return v;
}

/* Run the migrations this store needs, in one transaction.  A store that
 * is up to date is only read, so a read-only store still opens. */
static twofa_rcode_t migrate(conn_t *c, int *version)
{
	int	rc, v;
	char	sql[64];

	v = schema_version(c);
	if (v == SCHEMA_VERSION) {
		*version = v;
		return TWOFA_OK;
	}

	rc = conn_exec(c, "BEGIN IMMEDIATE");
	if (rc != SQLITE_OK) return conn_error(c, "migrate", rc);

	v = schema_version(c);		/* again, under the write lock */
	if (v < 0) {
		rc = SQLITE_ERROR;
		goto error;
	}
	if (v > SCHEMA_VERSION) {
		conn_exec(c, "ROLLBACK");
		snprintf(thread_errmsg, sizeof(thread_errmsg), "schema version %d is newer than this build (%d)", v, SCHEMA_VERSION);
		return TWOFA_ERR_STORE;
	}
	for (; v < SCHEMA_VERSION; v++) {
		rc = conn_exec(c, migrations[v]);
		if (rc != SQLITE_OK) goto error;
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
		rc = conn_exec(c, sql);
		if (rc != SQLITE_OK) goto error;
	}
	rc = conn_exec(c, "COMMIT");
	if (rc != SQLITE_OK) goto error;
	*version = v;
	return TWOFA_OK;

error:
	{
		twofa_rcode_t ret = conn_error(c, "migrate", rc);

		conn_exec(c, "ROLLBACK");
		return ret;
	}
}

static void store_run_batch(void *ctx, twofa_call_t *batch);

static int _store_free(sqlite_store_t *store)
{
	store_disconnect(store);
	pthread_mutex_destroy(&store->use);
	twofa_combiner_destroy(&store->combiner);
	return 0;
}

/*
 *	Open the file, bring its schema up to date and prepare every
 *	statement: at twofa_store_open(), and again whenever the file was
 *	missing, replaced or broken.  On failure thread_errmsg says why,
 *	with the path.
 */
static twofa_rcode_t store_connect(sqlite_store_t *store, bool create, conn_t **out)
{
	conn_t		*c;
	struct stat	st;
	twofa_rcode_t	rc;

	*out = NULL;
	if (!create && (stat(store->path, &st) < 0)) {
		snprintf(thread_errmsg, sizeof(thread_errmsg), "store %s: %s", store->path, strerror(errno));
		return (errno == ENOENT) ? TWOFA_ERR_NOT_FOUND : TWOFA_ERR_STORE;
	}
	rc = conn_open(store, create, &c);
	if (rc != TWOFA_OK) return rc;
	if (stat(store->path, &st) == 0) {
		c->dev = st.st_dev;
		c->ino = st.st_ino;
	}
	/* WAL: readers never wait for the writer.  Persistent, so a read-only store keeps it. */
	if (!sqlite3_db_readonly(c->db, "main")) conn_exec(c, "PRAGMA journal_mode = WAL");
	if ((rc = migrate(c, &store->schema_version)) != TWOFA_OK ||
	    (rc = conn_prepare(c)) != TWOFA_OK) {
		char detail[sizeof(thread_errmsg)];

		if (!thread_errmsg[0]) conn_error(c, "open", SQLITE_ERROR);
		memcpy(detail, thread_errmsg, sizeof(detail));
		snprintf(thread_errmsg, sizeof(thread_errmsg), "store %s: %.200s", store->path, detail);
		conn_close(c);
		return rc ? rc : TWOFA_ERR_STORE;
	}
	*out = c;
	return TWOFA_OK;
}

static twofa_rcode_t sqlite_open(TALLOC_CTX *ctx, char const *path, twofa_store_config_t const *config,
				 twofa_store_t **out)
{
	sqlite_store_t	*store;
	conn_t		*c;
	twofa_rcode_t	rc;

	*out = NULL;
	thread_errmsg[0] = '\0';

	store = talloc_zero(ctx, sqlite_store_t);
	if (!store) return TWOFA_ERR_NO_MEMORY;
	store->handle.ops = &twofa_store_sqlite_ops;
	store->path = talloc_strdup(store, path);
	store->busy_timeout_ms = config->sqlite.busy_timeout_ms;
	store->background_checkpoint = config->sqlite.background_checkpoint;
	store->login_keep_days = config->login_keep_days;
	store->sweep_user = store->sweep_step = INT64_MIN;
	pthread_mutex_init(&store->use, NULL);
	twofa_combiner_init(&store->combiner, 1, store_run_batch, store);
	talloc_set_destructor(store, _store_free);
	*out = &store->handle;

	rc = store_connect(store, config->create, &c);
	if (rc != TWOFA_OK) {
		snprintf(store->errmsg, sizeof(store->errmsg), "%s", thread_errmsg);
		store->last_failure = time(NULL);
		return rc;
	}
	store->conn = c;
	checkpointer_start(store, c);

	return TWOFA_OK;
}

static char const *sqlite_errmsg(twofa_store_t *handle)
{
	SQLITE_STORE(handle);

	if (thread_errmsg[0]) return thread_errmsg;
	if (store && store->errmsg[0]) return store->errmsg;
	return "no detail";
}

static int sqlite_schema_version(twofa_store_t *handle)
{
	SQLITE_STORE(handle);
	return store->schema_version;
}

/*
 *	Statement helpers: bind, step, reset.
 */
static sqlite3_stmt *stmt_start(conn_t *c, stmt_t which)
{
	sqlite3_stmt *stmt = c->stmt[which];

	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	return stmt;
}

static void stmt_done(sqlite3_stmt *stmt)
{
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
}

static void bind_text(sqlite3_stmt *stmt, int i, char const *s)
{
	if (s) sqlite3_bind_text(stmt, i, s, (int) strlen(s), SQLITE_TRANSIENT);
	else sqlite3_bind_null(stmt, i);
}

/* Run a statement that returns no rows; *changes gets the rows it changed. */
static twofa_rcode_t stmt_run(conn_t *c, sqlite3_stmt *stmt, char const *what, int *changes)
{
	int rc = sqlite3_step(stmt);
	twofa_rcode_t ret = TWOFA_OK;

	if (rc != SQLITE_DONE) ret = conn_error(c, what, rc);
	else if (changes) *changes = sqlite3_changes(c->db);
	stmt_done(stmt);
	return ret;
}

/* Run an UPDATE ... RETURNING one value; *value gets it, 0 if no row changed. */
static twofa_rcode_t stmt_run_returning(conn_t *c, sqlite3_stmt *stmt, char const *what, int64_t *value)
{
	int		rc = sqlite3_step(stmt);
	twofa_rcode_t	ret = TWOFA_OK;

	*value = 0;
	if (rc == SQLITE_ROW) {
		*value = sqlite3_column_int64(stmt, 0);
		rc = sqlite3_step(stmt);	/* finish the statement so the write commits */
	}
	if (rc != SQLITE_DONE) ret = conn_error(c, what, rc);
	stmt_done(stmt);
	return ret;
}

/* A statement without parameters or rows: BEGIN IMMEDIATE, COMMIT, ROLLBACK. */
static twofa_rcode_t stmt_run_plain(conn_t *c, stmt_t which, char const *what)
{
	return stmt_run(c, stmt_start(c, which), what, NULL);
}

/*
 *	Every store call: take the connection, and give it back on every
 *	way out of the function (the cleanup attribute runs conn_release).
 */
#define CONN_USE(_c)	conn_t *_c CC_CLEANUP(conn_release) = NULL
#define CC_CLEANUP(_f)	__attribute__((cleanup(_f)))
#define CONN_OR_FAIL(_c, _store) \
	do { (_c) = conn_acquire(_store); if (!(_c)) return TWOFA_ERR_STORE; } while (0)

/*
 *	The login path's calls (get user, consume step, record a failure or a
 *	success) are combined (combine.h): under load the leader runs every
 *	queued call in one transaction, so that several logins share one
 *	commit (one WAL append, one round of file locks) and wait once for
 *	the connection, not once each.  (Before the leader handed the calls
 *	queued meanwhile to the next, 1 to 4 % of the threads that combined
 *	ran 5 to 32 batches: bench/README.md.)
 */
typedef struct {
	twofa_rcode_t	(*run)(conn_t *c, void *arg);
	void		*arg;
	bool		writes;		//!< false: a read, which a batch of reads need not lock the file for
} sqlite_op_t;

/* Run one call; keep its outcome and its error text for its own thread. */
static void call_run(conn_t *c, twofa_call_t *call)
{
	sqlite_op_t *op = call->op;

	thread_errmsg[0] = '\0';
	call->rc = op->run(c, op->arg);
	memcpy(call->errmsg, thread_errmsg, sizeof(call->errmsg));
}

static bool store_failed(twofa_rcode_t rc)
{
	return (rc == TWOFA_ERR_STORE) || (rc == TWOFA_ERR_BUSY) || (rc == TWOFA_ERR_NO_MEMORY);
}

/*
 *	Several calls in one transaction.  If any of it fails, none of it
 *	was kept (SQLite rolls back, or we do): every call then runs again
 *	on its own, so that each gets its own outcome and no write is
 *	reported done that was not.  Calls may run twice, so they must
 *	start from their inputs alone.
 */
static void batch_run(conn_t *c, twofa_call_t *batch)
{
	twofa_call_t	*call;
	bool		writes = false;
	char		busy[TWOFA_CALL_ERRMSG];

	if (!batch->next || !sqlite3_get_autocommit(c->db)) goto one_by_one;	/* one call, or inside begin() */
	for (call = batch; call; call = call->next) writes |= ((sqlite_op_t *) call->op)->writes;
	/*
	 *	A batch with a write takes the write lock at once (a deferred
	 *	transaction that later writes may fail with BUSY, unretried).
	 *	A batch of reads (round ones) must not wait behind another
	 *	process's write transaction: WAL gives it the last commit.
	 */
	switch (stmt_run_plain(c, writes ? STMT_BEGIN : STMT_BEGIN_READ, "begin")) {
	case TWOFA_OK:
		break;
	case TWOFA_ERR_BUSY:
		/*
		 *	Another process kept the write lock for busy_timeout: the
		 *	writes fail now, as one alone would, rather than each wait
		 *	busy_timeout again in turn (the last of n, and every
		 *	login queued behind it, n + 1 times as long).  Reads need
		 *	no lock in WAL mode: they run.
		 */
		memcpy(busy, thread_errmsg, sizeof(busy));
		for (call = batch; call; call = call->next) {
			if (!((sqlite_op_t *) call->op)->writes) {
				call_run(c, call);
				continue;
			}
			call->rc = TWOFA_ERR_BUSY;
			memcpy(call->errmsg, busy, sizeof(call->errmsg));
		}
		return;
	default:
		goto one_by_one;
	}

	for (call = batch; call; call = call->next) {
		call_run(c, call);
		if (sqlite3_get_autocommit(c->db)) goto one_by_one;		/* SQLite rolled it back */
		if (store_failed(call->rc)) goto rollback;
	}
	if (stmt_run_plain(c, STMT_COMMIT, "commit") == TWOFA_OK) return;

rollback:
	if (!sqlite3_get_autocommit(c->db)) stmt_run_plain(c, STMT_ROLLBACK, "rollback");
one_by_one:
	for (call = batch; call; call = call->next) call_run(c, call);
}

/* The combiner's run_batch: the batch on the store's one connection. */
static void store_run_batch(void *ctx, twofa_call_t *batch)
{
	sqlite_store_t	*store = ctx;
	twofa_call_t	*call;
	conn_t		*c = conn_acquire(store);

	if (!c) {
		for (call = batch; call; call = call->next) {
			call->rc = TWOFA_ERR_STORE;
			memcpy(call->errmsg, thread_errmsg, sizeof(call->errmsg));
		}
		return;
	}
	batch_run(c, batch);
	conn_release(&c);
}

/* A login-path call: run it, or have it run with others (see above). */
static twofa_rcode_t store_call(sqlite_store_t *store, bool writes, twofa_rcode_t (*run)(conn_t *c, void *arg),
				void *arg)
{
	sqlite_op_t	op = { .run = run, .arg = arg, .writes = writes };
	twofa_call_t	call = { .op = &op };

	/* Inside this thread's bulk transaction: its own, never batched with other threads' calls. */
	if (txn_of_thread == store) {
		thread_errmsg[0] = '\0';
		return run(store->conn, arg);
	}
	twofa_combiner_call(&store->combiner, &call);
	memcpy(thread_errmsg, call.errmsg, sizeof(thread_errmsg));
	return call.rc;
}

static char *column_strdup(TALLOC_CTX *ctx, sqlite3_stmt *stmt, int col)
{
	unsigned char const *s = sqlite3_column_text(stmt, col);

	return s ? talloc_strdup(ctx, (char const *) s) : NULL;
}

/* The user columns of a row of USER_COLUMNS into a new twofa_user_t. */
static twofa_user_t *user_from_row(TALLOC_CTX *ctx, sqlite3_stmt *stmt)
{
	twofa_user_t *u = talloc_zero(ctx, twofa_user_t);

	if (!u) return NULL;
	u->id = sqlite3_column_int64(stmt, 0);
	u->name = column_strdup(u, stmt, 1);
	u->password_hash = column_strdup(u, stmt, 2);
	u->created = sqlite3_column_int64(stmt, 3);
	u->fail_count = sqlite3_column_int(stmt, 4);
	u->lock_count = sqlite3_column_int(stmt, 5);
	u->locked_until = sqlite3_column_int64(stmt, 6);
	u->password_failures = sqlite3_column_int(stmt, 7);
	u->password_next_try = sqlite3_column_int64(stmt, 8);
	u->backup_codes_left = sqlite3_column_int(stmt, 9);
	u->exempt = sqlite3_column_int(stmt, 10) != 0;
	if (sqlite3_column_type(stmt, COL_PREFERRED) == SQLITE_TEXT) {
		twofa_factor_kind_from_name((char const *) sqlite3_column_text(stmt, COL_PREFERRED), &u->preferred);
	}
	u->reply = column_strdup(u, stmt, COL_REPLY);
	return u;
}

/* The factor columns of a row of USER_COLUMNS, if any, added to u.  A kind this
 * build does not know (a newer one wrote it) is left out.  @return false if out of memory. */
static bool factor_from_row(twofa_user_t *u, sqlite3_stmt *stmt)
{
	twofa_factor_t		*f;
	twofa_factor_kind_t	kind;
	unsigned char const	*text;
	int			c = COL_FACTOR;

	if (sqlite3_column_type(stmt, c) == SQLITE_NULL) return true;		/* no factor */
	text = sqlite3_column_text(stmt, c + 1);
	if (!text || !twofa_factor_kind_from_name((char const *) text, &kind)) return true;

	u->factors = talloc_realloc(u, u->factors, twofa_factor_t, u->num_factors + 1);
	if (!u->factors) return false;
	f = &u->factors[u->num_factors++];
	memset(f, 0, sizeof(*f));
	f->id = sqlite3_column_int64(stmt, c);
	f->kind = kind;
	f->confirmed = sqlite3_column_int(stmt, c + 2) != 0;
	if (sqlite3_column_type(stmt, c + 3) == SQLITE_BLOB) {
		f->sealed_len = sqlite3_column_bytes(stmt, c + 3);
		f->sealed = talloc_memdup(u, sqlite3_column_blob(stmt, c + 3), f->sealed_len);
		if (!f->sealed) return false;
	}
	text = sqlite3_column_text(stmt, c + 4);
	if (!text || (twofa_hash_from_name((char const *) text, &f->totp.hash) < 0)) f->totp.hash = TWOFA_HASH_SHA1;
	f->totp.digits = sqlite3_column_int(stmt, c + 5);
	f->totp.period = sqlite3_column_int(stmt, c + 6);
	f->address = column_strdup(u, stmt, c + 7);
	f->last_step = sqlite3_column_int64(stmt, c + 8);
	f->created = sqlite3_column_int64(stmt, c + 9);
	return true;
}

/*
 *	Read the rows of USER_COLUMNS, each user's rows together, into *list
 *	(a talloc array under ctx, grown as needed): a new user id starts a
 *	user, every row adds its factor.  At most max users.
 */
static twofa_rcode_t users_from_rows(conn_t *c, sqlite3_stmt *stmt, TALLOC_CTX *ctx, char const *what,
				     twofa_user_t ***list, size_t *count, size_t max)
{
	twofa_user_t	*u = NULL;
	size_t		size = *count;
	int		rc;

	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (!u || (u->id != sqlite3_column_int64(stmt, 0))) {
			if (*count == max) break;
			if (*count == size) {
				size = size ? 2 * size : 16;
				*list = talloc_realloc(ctx, *list, twofa_user_t *, size);
				if (!*list) return TWOFA_ERR_NO_MEMORY;
			}
			u = user_from_row(*list, stmt);
			if (!u) return TWOFA_ERR_NO_MEMORY;
			(*list)[(*count)++] = u;
		}
		if (!factor_from_row(u, stmt)) return TWOFA_ERR_NO_MEMORY;
	}
	if ((rc != SQLITE_DONE) && (rc != SQLITE_ROW)) return conn_error(c, what, rc);
	return TWOFA_OK;
}

typedef struct {
	char const	*name;
	TALLOC_CTX	*ctx;
	twofa_user_t	**out;
} get_user_args_t;

static twofa_rcode_t get_user_run(conn_t *c, void *arg)
{
	get_user_args_t	*a = arg;
	twofa_user_t	**list = NULL;
	size_t		count = 0;
	sqlite3_stmt	*stmt;
	twofa_rcode_t	ret;

	TALLOC_FREE(*a->out);		/* from a first run of a failed batch */
	stmt = stmt_start(c, STMT_GET_USER);
	bind_text(stmt, 1, a->name);
	ret = users_from_rows(c, stmt, a->ctx, "get user", &list, &count, 1);
	stmt_done(stmt);
	if ((ret == TWOFA_OK) && !count) ret = TWOFA_ERR_NOT_FOUND;
	if (ret == TWOFA_OK) *a->out = talloc_steal(a->ctx, list[0]);
	talloc_free(list);
	return ret;
}

static twofa_rcode_t sqlite_get_user(twofa_store_t *handle, TALLOC_CTX *ctx, char const *name, twofa_user_t **out)
{
	SQLITE_STORE(handle);
	get_user_args_t a = { .name = name, .ctx = ctx, .out = out };

	*out = NULL;
	return store_call(store, false, get_user_run, &a);
}

static twofa_rcode_t sqlite_add_user(twofa_store_t *handle, char const *name, char const *password_hash)
{
	SQLITE_STORE(handle);
	CONN_USE(c);
	sqlite3_stmt	*stmt;

	int		changes = 0;
	twofa_rcode_t	rc;

	CONN_OR_FAIL(c, store);
	stmt = stmt_start(c, STMT_ADD_USER);
	bind_text(stmt, 1, name);
	bind_text(stmt, 2, password_hash);
	sqlite3_bind_int64(stmt, 3, time(NULL));
	rc = stmt_run(c, stmt, "add user", &changes);
	if ((rc == TWOFA_OK) && (changes == 0)) return TWOFA_ERR_EXISTS;
	return rc;
}

/* A statement keyed by user name that must change one row. */
static twofa_rcode_t run_by_name(sqlite_store_t *store, stmt_t which, char const *what, char const *name,
				 char const *text2, int64_t const *int2, twofa_rcode_t none)
{
	CONN_USE(c);
	sqlite3_stmt	*stmt;
	int		changes = 0;
	twofa_rcode_t	rc;

	CONN_OR_FAIL(c, store);
	stmt = stmt_start(c, which);
	bind_text(stmt, 1, name);
	if (text2) bind_text(stmt, 2, text2);
	if (int2) sqlite3_bind_int64(stmt, 2, *int2);
	rc = stmt_run(c, stmt, what, &changes);
	if ((rc == TWOFA_OK) && (changes == 0)) return none;
	return rc;
}

static twofa_rcode_t sqlite_set_password(twofa_store_t *handle, char const *name, char const *password_hash)
{
	SQLITE_STORE(handle);
	return run_by_name(store, STMT_SET_PASSWORD, "set password", name, password_hash, NULL, TWOFA_ERR_NOT_FOUND);
}

static twofa_rcode_t user_id_of(conn_t *c, char const *name, int64_t *id);

/*
 *	An admin call of several statements is all or nothing: in a
 *	transaction of its own, or, inside the caller's bulk transaction
 *	(begin()), in that one.  own_txn_open says whether it opened one;
 *	own_txn_close commits it if rc is TWOFA_OK, else rolls it back.
 */
static twofa_rcode_t own_txn_open(conn_t *c, bool *own)
{
	*own = sqlite3_get_autocommit(c->db);
	return *own ? stmt_run_plain(c, STMT_BEGIN, "begin") : TWOFA_OK;
}

static twofa_rcode_t own_txn_close(conn_t *c, bool own, twofa_rcode_t rc)
{
	if (!own) return rc;
	if (rc == TWOFA_OK) rc = stmt_run_plain(c, STMT_COMMIT, "commit");
	if ((rc != TWOFA_OK) && !sqlite3_get_autocommit(c->db)) stmt_run_plain(c, STMT_ROLLBACK, "rollback");
	return rc;
}

/*
 *	A user and every row of theirs.  The sends counted against them go
 *	too: a new user gets the id after the largest, so one made with the
 *	deleted newest user's name would get their id, and their sends.
 */
static twofa_rcode_t delete_user(conn_t *c, char const *name)
{
	sqlite3_stmt	*stmt;
	int64_t		user_id;
	twofa_rcode_t	rc;

	if ((rc = user_id_of(c, name, &user_id)) != TWOFA_OK) return rc;
	stmt = stmt_start(c, STMT_FORGET_SENDS);
	sqlite3_bind_int64(stmt, 1, user_id);
	if ((rc = stmt_run(c, stmt, "forget sends", NULL)) != TWOFA_OK) return rc;
	stmt = stmt_start(c, STMT_DELETE_USER);
	sqlite3_bind_int64(stmt, 1, user_id);
	return stmt_run(c, stmt, "delete user", NULL);
}

static twofa_rcode_t sqlite_delete_user(twofa_store_t *handle, char const *name)
{
	SQLITE_STORE(handle);
	CONN_USE(c);
	bool		own;
	twofa_rcode_t	rc;

	CONN_OR_FAIL(c, store);
	if ((rc = own_txn_open(c, &own)) != TWOFA_OK) return rc;
	return own_txn_close(c, own, delete_user(c, name));
}

static twofa_rcode_t sqlite_unlock(twofa_store_t *handle, char const *name)
{
	SQLITE_STORE(handle);
	return run_by_name(store, STMT_UNLOCK, "unlock", name, NULL, NULL, TWOFA_ERR_NOT_FOUND);
}

static twofa_rcode_t sqlite_set_exempt(twofa_store_t *handle, char const *name, bool exempt)
{
	SQLITE_STORE(handle);
	int64_t value = exempt ? 1 : 0;

	return run_by_name(store, STMT_SET_EXEMPT, "set exempt", name, NULL, &value, TWOFA_ERR_NOT_FOUND);
}

/* A statement keyed by user name (?1) and factor kind (?2), with ?3 if given. */
static twofa_rcode_t run_by_kind(sqlite_store_t *store, stmt_t which, char const *what, char const *name,
				 twofa_factor_kind_t kind, int64_t const *int3)
{
	CONN_USE(c);
	sqlite3_stmt	*stmt;
	int		changes = 0;
	twofa_rcode_t	rc;

	CONN_OR_FAIL(c, store);
	stmt = stmt_start(c, which);
	bind_text(stmt, 1, name);
	bind_text(stmt, 2, twofa_factor_kind_name(kind));
	if (int3) sqlite3_bind_int64(stmt, 3, *int3);
	rc = stmt_run(c, stmt, what, &changes);
	if ((rc == TWOFA_OK) && (changes == 0)) return TWOFA_ERR_NOT_ENROLLED;
	return rc;
}

static twofa_rcode_t sqlite_factor_remove(twofa_store_t *handle, char const *name, twofa_factor_kind_t kind)
{
	SQLITE_STORE(handle);
	return run_by_kind(store, STMT_FACTOR_REMOVE, "remove factor", name, kind, NULL);
}

static twofa_rcode_t sqlite_factor_confirm(twofa_store_t *handle, char const *name, twofa_factor_kind_t kind,
					 int64_t step)
{
	SQLITE_STORE(handle);
	return run_by_kind(store, STMT_FACTOR_CONFIRM, "confirm factor", name, kind, &step);
}

/* Each listed user's newest Accept, from the login log. */
static twofa_rcode_t last_accepts(conn_t *c, twofa_user_t **list, size_t count)
{
	sqlite3_stmt	*stmt = stmt_start(c, STMT_LAST_ACCEPTS);
	int		rc;
	size_t		i;

	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		char const *name = (char const *) sqlite3_column_text(stmt, 0);

		/* The log holds the name as sent, in any case: the newest of its spellings. */
		for (i = 0; name && (i < count); i++) {
			if ((strcasecmp(list[i]->name, name) == 0) &&
			    (sqlite3_column_int64(stmt, 1) > list[i]->last_accept)) {
				list[i]->last_accept = sqlite3_column_int64(stmt, 1);
			}
		}
	}
	stmt_done(stmt);
	return (rc == SQLITE_DONE) ? TWOFA_OK : conn_error(c, "list users", rc);
}

static twofa_rcode_t sqlite_list_users(twofa_store_t *handle, TALLOC_CTX *ctx, twofa_user_t ***out, size_t *count)
{
	SQLITE_STORE(handle);
	CONN_USE(c);
	sqlite3_stmt	*stmt;
	twofa_user_t	**list = NULL;
	size_t		n = 0;
	twofa_rcode_t	rc;

	CONN_OR_FAIL(c, store);
	stmt = stmt_start(c, STMT_LIST_USERS);
	rc = users_from_rows(c, stmt, ctx, "list users", &list, &n, SIZE_MAX);
	stmt_done(stmt);
	if (rc == TWOFA_OK) rc = last_accepts(c, list, n);
	if (rc != TWOFA_OK) {
		talloc_free(list);
		return rc;
	}
	if (!list && !(list = talloc_array(ctx, twofa_user_t *, 0))) return TWOFA_ERR_NO_MEMORY;
	*out = list;
	*count = n;
	return TWOFA_OK;
}

/* Bind a factor's secret and TOTP parameters from ?first on: secret, hash, digits, period. */
static void bind_factor(sqlite3_stmt *stmt, int first, twofa_factor_t const *f)
{
	if (f->sealed) sqlite3_bind_blob(stmt, first, f->sealed, (int) f->sealed_len, SQLITE_TRANSIENT);
	else sqlite3_bind_null(stmt, first);
	if (f->kind == TWOFA_FACTOR_TOTP) {
		bind_text(stmt, first + 1, twofa_hash_name(f->totp.hash));
		sqlite3_bind_int(stmt, first + 2, (int) f->totp.digits);
		sqlite3_bind_int(stmt, first + 3, (int) f->totp.period);
	}
}

static twofa_rcode_t sqlite_factor_set(twofa_store_t *handle, char const *name, twofa_factor_t const *factor)
{
	SQLITE_STORE(handle);
	CONN_USE(c);
	sqlite3_stmt	*stmt;
	int		changes = 0;
	twofa_rcode_t	rc;

	if ((factor->kind < TWOFA_FACTOR_TOTP) || (factor->kind > TWOFA_FACTOR_KIND_LAST) ||
	    (factor->sealed_len > INT_MAX)) return TWOFA_ERR_MALFORMED;
	CONN_OR_FAIL(c, store);
	stmt = stmt_start(c, STMT_FACTOR_SET);
	bind_text(stmt, 1, name);
	bind_text(stmt, 2, twofa_factor_kind_name(factor->kind));
	bind_factor(stmt, 3, factor);
	sqlite3_bind_int(stmt, 7, factor->confirmed ? 1 : 0);
	bind_text(stmt, 8, factor->address);
	sqlite3_bind_int64(stmt, 9, time(NULL));
	rc = stmt_run(c, stmt, "set factor", &changes);
	if ((rc == TWOFA_OK) && (changes == 0)) return TWOFA_ERR_NOT_FOUND;
	return rc;
}

/* Bind the consume statement's parameters (both statements share them). */
static void bind_consume(sqlite3_stmt *stmt, int64_t user_id, int64_t factor_id, int64_t step, time_t now)
{
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_int64(stmt, 2, step);
	sqlite3_bind_int64(stmt, 3, factor_id);
	sqlite3_bind_int64(stmt, 4, now);
}

/* The consume changed nothing: say why.  Every answer is a reject, so
 * this read need not be atomic with the update. */
static twofa_rcode_t why_not_consumed(conn_t *c, int64_t user_id, int64_t factor_id, int64_t step, time_t now)
{
	sqlite3_stmt	*stmt = stmt_start(c, STMT_WHY_NOT_CONSUMED);
	int		rc;
	twofa_rcode_t	ret;

	bind_consume(stmt, user_id, factor_id, step, now);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_DONE) {
		ret = TWOFA_ERR_NOT_FOUND;			/* deleted since round one */
	} else if (rc != SQLITE_ROW) {
		ret = conn_error(c, "consume step", rc);
	} else if (sqlite3_column_int(stmt, 0)) {
		ret = TWOFA_ERR_LOCKED;
	} else if (!sqlite3_column_int(stmt, 1)) {
		ret = TWOFA_ERR_NOT_ENROLLED;			/* removed or replaced since */
	} else {
		ret = TWOFA_ERR_REPLAYED;
	}
	stmt_done(stmt);
	return ret;
}

typedef struct {
	int64_t			user_id;
	int64_t			factor_id;
	int64_t			step;
	time_t			now;
	twofa_login_t const	*login;		//!< written with a success, if not NULL
} consume_args_t;

/* Every SWEEP_EVERY consumes: delete the expired among the next SWEEP_ROWS used steps. */
static twofa_rcode_t sweep_used_steps(conn_t *c, time_t now)
{
	sqlite_store_t	*store = c->store;
	sqlite3_stmt	*stmt;
	int64_t		end_user = INT64_MAX, end_step = INT64_MAX;	/* past the last record */
	int		rc;
	twofa_rcode_t	ret;

	if ((store->consumes++ % SWEEP_EVERY) != 0) return TWOFA_OK;

	stmt = stmt_start(c, STMT_SWEEP_END);
	sqlite3_bind_int64(stmt, 1, store->sweep_user);
	sqlite3_bind_int64(stmt, 2, store->sweep_step);
	sqlite3_bind_int(stmt, 3, SWEEP_ROWS - 1);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		end_user = sqlite3_column_int64(stmt, 0);
		end_step = sqlite3_column_int64(stmt, 1);
	}
	stmt_done(stmt);
	if ((rc != SQLITE_ROW) && (rc != SQLITE_DONE)) return conn_error(c, "sweep used steps", rc);

	stmt = stmt_start(c, STMT_SWEEP_USED);
	sqlite3_bind_int64(stmt, 1, store->sweep_user);
	sqlite3_bind_int64(stmt, 2, store->sweep_step);
	sqlite3_bind_int64(stmt, 3, end_user);
	sqlite3_bind_int64(stmt, 4, end_step);
	sqlite3_bind_int64(stmt, 5, now);
	ret = stmt_run(c, stmt, "sweep used steps", NULL);
	if (ret != TWOFA_OK) return ret;

	if (rc == SQLITE_ROW) {
		store->sweep_user = end_user;
		store->sweep_step = end_step;
	} else {
		store->sweep_user = store->sweep_step = INT64_MIN;	/* swept to the end: start over */
	}
	return TWOFA_OK;
}

static twofa_rcode_t log_login_in(conn_t *c, twofa_login_t const *l);
static twofa_rcode_t state_first(conn_t *c, twofa_login_t const *login);

static twofa_rcode_t consume_run(conn_t *c, void *arg)
{
	consume_args_t	*a = arg;
	sqlite3_stmt	*stmt;
	int		changes = 0;
	twofa_rcode_t	rc;

	/* A failed sweep fails the call: SQLite may have ended the batch's transaction. */
	rc = sweep_used_steps(c, a->now);
	if (rc != TWOFA_OK) return rc;
	if ((rc = state_first(c, a->login)) != TWOFA_OK) return rc;

	stmt = stmt_start(c, STMT_CONSUME_STEP);
	bind_consume(stmt, a->user_id, a->factor_id, a->step, a->now);
	sqlite3_bind_int(stmt, 5, USED_STEP_PERIODS);
	rc = stmt_run(c, stmt, "consume step", &changes);
	if (rc != TWOFA_OK) return rc;
	if (changes == 1) return a->login ? log_login_in(c, a->login) : TWOFA_OK;

	return why_not_consumed(c, a->user_id, a->factor_id, a->step, a->now);
}

static twofa_rcode_t sqlite_factor_consume_step(twofa_store_t *handle, int64_t user_id, int64_t factor_id,
					      int64_t step, time_t now, twofa_login_t const *login)
{
	SQLITE_STORE(handle);
	consume_args_t a = { .user_id = user_id, .factor_id = factor_id, .step = step, .now = now, .login = login };

	return store_call(store, true, consume_run, &a);
}

/*
 *	Enrolment at login.
 */
typedef struct {
	int64_t			user_id;
	twofa_factor_t const	*factor;
	int64_t			step;
	time_t			now;
	twofa_login_t const	*login;
} enrol_args_t;

static twofa_rcode_t enrol_run(conn_t *c, void *arg)
{
	enrol_args_t const	*a = arg;
	sqlite3_stmt		*stmt;
	int			changes = 0;
	twofa_rcode_t		rc;

	if ((rc = state_first(c, a->login)) != TWOFA_OK) return rc;
	stmt = stmt_start(c, STMT_FACTOR_ENROL);

	sqlite3_bind_int64(stmt, 1, a->user_id);
	bind_text(stmt, 2, twofa_factor_kind_name(a->factor->kind));
	bind_factor(stmt, 3, a->factor);
	sqlite3_bind_int64(stmt, 7, a->step);
	sqlite3_bind_int64(stmt, 8, a->now);
	bind_text(stmt, 9, a->factor->address);
	rc = stmt_run(c, stmt, "enrol factor", &changes);
	if (rc != TWOFA_OK) return rc;
	if (changes == 0) return TWOFA_ERR_EXISTS;
	return a->login ? log_login_in(c, a->login) : TWOFA_OK;
}

static twofa_rcode_t sqlite_factor_enrol(twofa_store_t *handle, int64_t user_id, twofa_factor_t const *factor,
				       int64_t step, time_t now, twofa_login_t const *login)
{
	SQLITE_STORE(handle);
	enrol_args_t a = { .user_id = user_id, .factor = factor, .step = step, .now = now, .login = login };

	/* A TOTP factor needs its secret; an SMS or email one its address. */
	if ((factor->kind == TWOFA_FACTOR_TOTP) && (!factor->sealed || !factor->sealed_len)) return TWOFA_ERR_MALFORMED;
	if ((factor->kind != TWOFA_FACTOR_TOTP) && !factor->address) return TWOFA_ERR_MALFORMED;
	if ((factor->kind < TWOFA_FACTOR_TOTP) || (factor->kind > TWOFA_FACTOR_KIND_LAST) ||
	    (factor->sealed_len > INT_MAX)) return TWOFA_ERR_MALFORMED;
	return store_call(store, true, enrol_run, &a);
}

/*
 *	A failure counter (failed codes, failed first factors): one UPDATE
 *	... RETURNING of the user's row, bound as ?1 user, ?2 free or
 *	maximum failures, ?3 now, ?4 first wait, ?5 longest wait; the value
 *	returned is the end of the lock or wait, 0 if none.
 */
typedef struct {
	stmt_t		which;
	char const	*what;
	int64_t		user_id;
	unsigned int	failures;
	time_t		now;
	unsigned int	first_wait;
	unsigned int	longest_wait;
	time_t		until;		//!< out
} counter_args_t;

static twofa_rcode_t counter_run(conn_t *c, void *arg)
{
	counter_args_t	*a = arg;
	sqlite3_stmt	*stmt = stmt_start(c, a->which);
	int64_t		until;
	twofa_rcode_t	ret;

	sqlite3_bind_int64(stmt, 1, a->user_id);
	sqlite3_bind_int(stmt, 2, (int) a->failures);
	sqlite3_bind_int64(stmt, 3, a->now);
	sqlite3_bind_int64(stmt, 4, a->first_wait);
	sqlite3_bind_int64(stmt, 5, a->longest_wait);
	ret = stmt_run_returning(c, stmt, a->what, &until);
	a->until = (time_t) until;
	return ret;
}

/* Run a counter; *until (may be NULL) gets its lock or wait end, 0 on failure or none. */
static twofa_rcode_t count_failure(sqlite_store_t *store, counter_args_t *a, time_t *until)
{
	twofa_rcode_t rc = store_call(store, true, counter_run, a);

	if (until) *until = (rc == TWOFA_OK) ? a->until : 0;
	return rc;
}

static twofa_rcode_t sqlite_record_failure(twofa_store_t *handle, int64_t user_id, twofa_lockout_t const *policy,
					 time_t now, time_t *locked_until)
{
	SQLITE_STORE(handle);
	counter_args_t a = { .which = STMT_RECORD_FAILURE, .what = "record failure", .user_id = user_id,
			     .failures = policy->max_failures, .now = now, .first_wait = policy->lock_seconds,
			     .longest_wait = policy->max_lock_seconds };

	return count_failure(store, &a, locked_until);
}

/* A login-path write keyed by user id alone (?1): a counter back to 0. */
typedef struct {
	stmt_t		which;
	char const	*what;
	int64_t		user_id;
} by_id_args_t;

static twofa_rcode_t by_id_run(conn_t *c, void *arg)
{
	by_id_args_t const	*a = arg;
	sqlite3_stmt		*stmt = stmt_start(c, a->which);

	sqlite3_bind_int64(stmt, 1, a->user_id);
	return stmt_run(c, stmt, a->what, NULL);
}

static twofa_rcode_t sqlite_record_success(twofa_store_t *handle, int64_t user_id)
{
	SQLITE_STORE(handle);
	by_id_args_t a = { .which = STMT_RECORD_SUCCESS, .what = "record success", .user_id = user_id };

	return store_call(store, true, by_id_run, &a);
}

static twofa_rcode_t sqlite_record_password_failure(twofa_store_t *handle, int64_t user_id,
						  twofa_password_throttle_t const *policy, time_t now, time_t *next_try)
{
	SQLITE_STORE(handle);
	counter_args_t a = { .which = STMT_PASSWORD_FAILURE, .what = "record password failure", .user_id = user_id,
			     .failures = policy->free_failures, .now = now, .first_wait = policy->delay_seconds,
			     .longest_wait = policy->max_delay_seconds };

	return count_failure(store, &a, next_try);
}

static twofa_rcode_t sqlite_record_password_success(twofa_store_t *handle, int64_t user_id)
{
	SQLITE_STORE(handle);
	by_id_args_t a = { .which = STMT_PASSWORD_SUCCESS, .what = "record password success", .user_id = user_id };

	return store_call(store, true, by_id_run, &a);
}

static twofa_rcode_t sqlite_audit(twofa_store_t *handle, char const *actor, char const *action,
				char const *user, char const *detail)
{
	SQLITE_STORE(handle);
	CONN_USE(c);
	sqlite3_stmt	*stmt;

	CONN_OR_FAIL(c, store);
	stmt = stmt_start(c, STMT_AUDIT);
	sqlite3_bind_int64(stmt, 1, time(NULL));
	bind_text(stmt, 2, actor);
	bind_text(stmt, 3, action);
	bind_text(stmt, 4, user);
	bind_text(stmt, 5, detail);
	return stmt_run(c, stmt, "audit", NULL);
}

/*
 *	Login log.
 */
/* Bind s, cut to TWOFA_LOGIN_FIELD_MAX bytes (a RADIUS attribute holds no more). */
static void bind_field(sqlite3_stmt *stmt, int i, char const *s)
{
	if (!s) {
		sqlite3_bind_null(stmt, i);
		return;
	}
	sqlite3_bind_text(stmt, i, s, (int) strnlen(s, TWOFA_LOGIN_FIELD_MAX), SQLITE_TRANSIENT);
}

/* Every TWOFA_LOGIN_PRUNE_EVERY logins: the expired among the oldest rows go. */
static twofa_rcode_t prune_logins(conn_t *c, time_t now, unsigned int keep_days)
{
	sqlite3_stmt *stmt;

	if (!keep_days || ((c->store->logins++ % TWOFA_LOGIN_PRUNE_EVERY) != 0)) return TWOFA_OK;
	stmt = stmt_start(c, STMT_PRUNE_LOGINS);
	sqlite3_bind_int64(stmt, 1, (int64_t) now - (int64_t) keep_days * 86400);
	sqlite3_bind_int(stmt, 2, TWOFA_LOGIN_PRUNE_ROWS);
	return stmt_run(c, stmt, "prune logins", NULL);
}

/* Write one login's row, in the call of the caller (a consume's, or its own). */
static twofa_rcode_t log_login_in(conn_t *c, twofa_login_t const *l)
{
	sqlite3_stmt		*stmt;
	twofa_rcode_t		rc;

	/* A failed prune fails the call: SQLite may have ended the batch's transaction. */
	rc = prune_logins(c, l->at, c->store->login_keep_days);
	if (rc != TWOFA_OK) return rc;

	stmt = stmt_start(c, STMT_LOG_LOGIN);
	sqlite3_bind_int64(stmt, 1, l->at);
	bind_field(stmt, 2, l->user);
	bind_field(stmt, 3, l->nas);
	bind_field(stmt, 4, l->calling_station_id);
	bind_field(stmt, 5, l->method ? l->method : "none");
	bind_field(stmt, 6, l->result ? l->result : "reject");
	bind_field(stmt, 7, l->reason ? l->reason : "unknown");
	return stmt_run(c, stmt, "log login", NULL);
}

static twofa_rcode_t log_login_run(conn_t *c, void *arg)
{
	return log_login_in(c, arg);
}

static twofa_rcode_t sqlite_log_login(twofa_store_t *handle, twofa_login_t const *login)
{
	SQLITE_STORE(handle);
	return store_call(store, true, log_login_run, (void *) login);
}

static twofa_rcode_t sqlite_list_logins(twofa_store_t *handle, TALLOC_CTX *ctx, char const *user, time_t since,
				      twofa_login_t **out, size_t *count)
{
	SQLITE_STORE(handle);
	CONN_USE(c);
	sqlite3_stmt	*stmt;
	twofa_login_t	*list;
	size_t		n = 0, size = 64;
	int		rc;

	CONN_OR_FAIL(c, store);
	list = talloc_zero_array(ctx, twofa_login_t, size);
	if (!list) return TWOFA_ERR_NO_MEMORY;

	stmt = stmt_start(c, STMT_LIST_LOGINS);
	bind_text(stmt, 1, user);
	sqlite3_bind_int64(stmt, 2, since);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		twofa_login_t *l;

		if (n == size) {
			size *= 2;
			list = talloc_realloc(ctx, list, twofa_login_t, size);
			if (!list) break;
		}
		l = &list[n++];
		l->id = sqlite3_column_int64(stmt, 0);
		l->at = sqlite3_column_int64(stmt, 1);
		l->user = column_strdup(list, stmt, 2);
		l->nas = column_strdup(list, stmt, 3);
		l->calling_station_id = column_strdup(list, stmt, 4);
		l->method = column_strdup(list, stmt, 5);
		l->result = column_strdup(list, stmt, 6);
		l->reason = column_strdup(list, stmt, 7);
	}
	if (!list || (rc != SQLITE_DONE)) {
		twofa_rcode_t ret = list ? conn_error(c, "list logins", rc) : TWOFA_ERR_NO_MEMORY;

		stmt_done(stmt);
		talloc_free(list);
		return ret;
	}
	stmt_done(stmt);
	*out = list;
	*count = n;
	return TWOFA_OK;
}

/*
 *	Sealed States: a nonce used once.
 */
typedef struct {
	uint8_t const	*nonce;
	size_t		len;
	time_t		expires;
	time_t		now;
} state_use_args_t;

static twofa_rcode_t state_use_run(conn_t *c, void *arg)
{
	state_use_args_t const	*a = arg;
	sqlite3_stmt		*stmt;
	int			changes = 0;
	twofa_rcode_t		rc;

	if ((c->store->state_uses++ % TWOFA_STATE_PRUNE_EVERY) == 0) {
		stmt = stmt_start(c, STMT_STATE_PRUNE);
		sqlite3_bind_int64(stmt, 1, a->now);
		sqlite3_bind_int(stmt, 2, TWOFA_STATE_PRUNE_ROWS);
		rc = stmt_run(c, stmt, "prune states", NULL);
		if (rc != TWOFA_OK) return rc;	/* SQLite may have ended the batch's transaction */
	}
	stmt = stmt_start(c, STMT_STATE_USE);
	sqlite3_bind_blob(stmt, 1, a->nonce, (int) a->len, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, a->expires);
	rc = stmt_run(c, stmt, "use state", &changes);
	if (rc != TWOFA_OK) return rc;
	return (changes == 1) ? TWOFA_OK : TWOFA_ERR_REPLAYED;
}

/*
 *	A consume answering a sealed State records the State first, in its
 *	own call (the same transaction when batched): of two answers in one
 *	State only one goes on, and the State is spent even if the code fails.
 *	EXPIRED: answered before, the challenge is over.
 */
static twofa_rcode_t state_first(conn_t *c, twofa_login_t const *login)
{
	state_use_args_t	a;
	twofa_rcode_t		rc;

	if (!login || !login->state_nonce) return TWOFA_OK;
	a = (state_use_args_t) { .nonce = login->state_nonce, .len = login->state_nonce_len,
				 .expires = login->state_expires, .now = login->at };
	rc = state_use_run(c, &a);
	return (rc == TWOFA_ERR_REPLAYED) ? TWOFA_ERR_EXPIRED : rc;
}

static twofa_rcode_t sqlite_state_use(twofa_store_t *handle, uint8_t const *nonce, size_t len, time_t expires,
				      time_t now)
{
	SQLITE_STORE(handle);
	state_use_args_t a = { .nonce = nonce, .len = len, .expires = expires, .now = now };

	return store_call(store, true, state_use_run, &a);
}

/*
 *	Bulk transactions.  The handle keeps the connection (and its mutex)
 *	for the thread that began it, until commit or rollback.
 */
static twofa_rcode_t sqlite_begin(twofa_store_t *handle, twofa_store_txn_t **txn)
{
	SQLITE_STORE(handle);
	twofa_store_txn_t	*t;
	conn_t			*c;
	twofa_rcode_t		rc;

	if (txn_of_thread == store) return TWOFA_ERR_EXISTS;	/* one at a time */
	t = talloc_zero(store, twofa_store_txn_t);
	if (!t) return TWOFA_ERR_NO_MEMORY;
	t->store = handle;
	if (!(c = conn_acquire(store))) {
		talloc_free(t);
		return TWOFA_ERR_STORE;
	}
	rc = stmt_run_plain(c, STMT_BEGIN, "begin");
	if (rc != TWOFA_OK) {
		conn_release(&c);
		talloc_free(t);
		return rc;
	}
	txn_of_thread = store;
	*txn = t;
	return TWOFA_OK;
}

/* COMMIT or ROLLBACK, then let the connection go; a failed commit is rolled back. */
static twofa_rcode_t txn_end(twofa_store_txn_t *txn, stmt_t which, char const *what)
{
	sqlite_store_t	*store = (sqlite_store_t *) txn->store;
	conn_t		*c = store->conn;
	twofa_rcode_t	rc;

	if (txn_of_thread != store) return TWOFA_ERR_STORE;	/* another thread's, or ended */
	rc = stmt_run_plain(c, which, what);
	if (!sqlite3_get_autocommit(c->db)) stmt_run_plain(c, STMT_ROLLBACK, "rollback");
	txn_of_thread = NULL;
	conn_release(&c);
	talloc_free(txn);
	return rc;
}

static twofa_rcode_t sqlite_commit(twofa_store_txn_t *txn)
{
	return txn_end(txn, STMT_COMMIT, "commit");
}

static twofa_rcode_t sqlite_rollback(twofa_store_txn_t *txn)
{
	return txn_end(txn, STMT_ROLLBACK, "rollback");
}

/*
 *	Backup codes.
 */
/* The first column of a one-row query keyed by ?1 (and ?2 now, if given); NOT_FOUND if no row. */
static twofa_rcode_t query_int(conn_t *c, stmt_t which, char const *what, int64_t key, time_t const *now,
			       int64_t *value)
{
	sqlite3_stmt	*stmt = stmt_start(c, which);
	int		rc;
	twofa_rcode_t	ret = TWOFA_OK;

	sqlite3_bind_int64(stmt, 1, key);
	if (now) sqlite3_bind_int64(stmt, 2, *now);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) *value = sqlite3_column_int64(stmt, 0);
	else if (rc == SQLITE_DONE) ret = TWOFA_ERR_NOT_FOUND;
	else ret = conn_error(c, what, rc);
	stmt_done(stmt);
	return ret;
}

static twofa_rcode_t backup_replace(conn_t *c, char const *name, twofa_backup_hash_t const *codes,
				    unsigned int count, unsigned int *voided)
{
	sqlite3_stmt	*stmt;
	int64_t		user_id, unused = 0;
	time_t		now = time(NULL);
	unsigned int	i;
	twofa_rcode_t	rc;

	if ((rc = user_id_of(c, name, &user_id)) != TWOFA_OK) return rc;	/* NOT_FOUND, or the store's error */

	rc = query_int(c, STMT_BACKUP_COUNT, "count backup codes", user_id, NULL, &unused);
	if (rc != TWOFA_OK) return rc;
	stmt = stmt_start(c, STMT_BACKUP_CLEAR);
	sqlite3_bind_int64(stmt, 1, user_id);
	rc = stmt_run(c, stmt, "void backup codes", NULL);
	if (rc != TWOFA_OK) return rc;

	for (i = 0; i < count; i++) {
		stmt = stmt_start(c, STMT_BACKUP_ADD);
		sqlite3_bind_int64(stmt, 1, user_id);
		sqlite3_bind_blob(stmt, 2, codes[i].salt, sizeof(codes[i].salt), SQLITE_STATIC);
		sqlite3_bind_blob(stmt, 3, codes[i].hash, sizeof(codes[i].hash), SQLITE_STATIC);
		sqlite3_bind_int64(stmt, 4, now);
		rc = stmt_run(c, stmt, "add backup code", NULL);
		if (rc != TWOFA_OK) return rc;
	}
	if (voided) *voided = (unsigned int) unused;
	return TWOFA_OK;
}

static twofa_rcode_t sqlite_backup_set(twofa_store_t *handle, char const *name, twofa_backup_hash_t const *codes,
				     unsigned int count, unsigned int *voided)
{
	SQLITE_STORE(handle);
	CONN_USE(c);
	bool		own;
	twofa_rcode_t	rc;

	if (voided) *voided = 0;
	if ((count > TWOFA_BACKUP_COUNT_MAX) || (count && !codes)) return TWOFA_ERR_MALFORMED;
	CONN_OR_FAIL(c, store);

	/* The old set goes and the new one comes in one transaction: never both, never neither. */
	if ((rc = own_txn_open(c, &own)) != TWOFA_OK) return rc;
	rc = own_txn_close(c, own, backup_replace(c, name, codes, count, voided));
	if ((rc != TWOFA_OK) && voided) *voided = 0;
	return rc;
}

typedef struct {
	int64_t		user_id;
	uint8_t const	*bkey;
	char const	*code;
	time_t		now;
	twofa_login_t const *login;	//!< written with a success, if not NULL
	unsigned int	left;		//!< out
} backup_consume_args_t;

/* The id of the user's unused code that code matches, or 0. */
static twofa_rcode_t backup_find(conn_t *c, backup_consume_args_t const *a, int64_t *found)
{
	sqlite3_stmt	*stmt = stmt_start(c, STMT_BACKUP_UNUSED);
	int		rc;

	*found = 0;
	sqlite3_bind_int64(stmt, 1, a->user_id);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (twofa_backup_code_matches(a->bkey, sqlite3_column_blob(stmt, 1), sqlite3_column_bytes(stmt, 1),
					      sqlite3_column_blob(stmt, 2), sqlite3_column_bytes(stmt, 2), a->code)) {
			*found = sqlite3_column_int64(stmt, 0);
			break;
		}
	}
	if ((rc != SQLITE_ROW) && (rc != SQLITE_DONE)) {
		twofa_rcode_t ret = conn_error(c, "find backup code", rc);

		stmt_done(stmt);
		return ret;
	}
	stmt_done(stmt);
	return TWOFA_OK;
}

static twofa_rcode_t backup_consume_run(conn_t *c, void *arg)
{
	backup_consume_args_t	*a = arg;
	sqlite3_stmt		*stmt;
	int64_t			id, value = 0;
	int			changes = 0;
	twofa_rcode_t		rc;

	a->left = 0;
	if ((rc = state_first(c, a->login)) != TWOFA_OK) return rc;
	rc = backup_find(c, a, &id);
	if (rc != TWOFA_OK) return rc;
	if (id) {
		stmt = stmt_start(c, STMT_BACKUP_USE);
		sqlite3_bind_int64(stmt, 1, id);
		sqlite3_bind_int64(stmt, 2, a->user_id);
		sqlite3_bind_int64(stmt, 3, a->now);
		rc = stmt_run(c, stmt, "use backup code", &changes);
		if (rc != TWOFA_OK) return rc;
		if (changes == 1) {
			rc = query_int(c, STMT_BACKUP_COUNT, "count backup codes", a->user_id, NULL, &value);
			if (rc == TWOFA_OK) a->left = (unsigned int) value;
			else if (rc != TWOFA_ERR_NOT_FOUND) return rc;
			return a->login ? log_login_in(c, a->login) : TWOFA_OK;
		}
	}

	/* Not used: say why.  Every answer is a reject, so this read need not be atomic with the update. */
	rc = query_int(c, STMT_BACKUP_WHY_NOT, "use backup code", a->user_id, &a->now, &value);
	if (rc != TWOFA_OK) return rc;				/* NOT_FOUND: deleted since round one */
	if (value) return TWOFA_ERR_LOCKED;
	return id ? TWOFA_ERR_REPLAYED : TWOFA_ERR_BAD_CODE;
}

static twofa_rcode_t sqlite_backup_consume(twofa_store_t *handle, int64_t user_id,
					 uint8_t const bkey[TWOFA_BACKUP_KEY_LEN], char const *code,
					 time_t now, unsigned int *left, twofa_login_t const *login)
{
	SQLITE_STORE(handle);
	backup_consume_args_t	a = { .user_id = user_id, .bkey = bkey, .code = code, .now = now, .login = login };
	twofa_rcode_t		rc;

	if (left) *left = 0;
	if (!bkey || !code || (strlen(code) != TWOFA_BACKUP_CODE_LEN)) return TWOFA_ERR_MALFORMED;
	rc = store_call(store, true, backup_consume_run, &a);
	if ((rc == TWOFA_OK) && left) *left = a.left;
	return rc;
}

/*
 *	Reset: every factor and counter of one user, in one transaction.
 */
static twofa_rcode_t reset_user(conn_t *c, char const *name, unsigned int *factors_removed, unsigned int *codes_voided)
{
	sqlite3_stmt	*stmt;
	int64_t		user_id, unused = 0;
	int		changes = 0;
	twofa_rcode_t	rc;

	if ((rc = user_id_of(c, name, &user_id)) != TWOFA_OK) return rc;	/* NOT_FOUND, or the store's error */

	/* The factor_removed trigger takes their used steps with them. */
	stmt = stmt_start(c, STMT_FACTOR_CLEAR);
	sqlite3_bind_int64(stmt, 1, user_id);
	rc = stmt_run(c, stmt, "remove factors", &changes);
	if (rc != TWOFA_OK) return rc;
	*factors_removed = (unsigned int) changes;

	rc = query_int(c, STMT_BACKUP_COUNT, "count backup codes", user_id, NULL, &unused);
	if (rc != TWOFA_OK) return rc;
	*codes_voided = (unsigned int) unused;
	stmt = stmt_start(c, STMT_BACKUP_CLEAR);
	sqlite3_bind_int64(stmt, 1, user_id);
	rc = stmt_run(c, stmt, "void backup codes", NULL);
	if (rc != TWOFA_OK) return rc;

	stmt = stmt_start(c, STMT_RESET_USER);
	sqlite3_bind_int64(stmt, 1, user_id);
	return stmt_run(c, stmt, "reset counters", NULL);
}

static twofa_rcode_t sqlite_reset_user(twofa_store_t *handle, char const *name, unsigned int *factors_removed,
				     unsigned int *codes_voided)
{
	SQLITE_STORE(handle);
	CONN_USE(c);
	bool		own;
	unsigned int	removed = 0, voided = 0;
	twofa_rcode_t	rc;

	if (factors_removed) *factors_removed = 0;
	if (codes_voided) *codes_voided = 0;
	CONN_OR_FAIL(c, store);

	/* All of it or none: never a user left with half their factors. */
	if ((rc = own_txn_open(c, &own)) != TWOFA_OK) return rc;
	rc = own_txn_close(c, own, reset_user(c, name, &removed, &voided));
	if (rc != TWOFA_OK) return rc;
	if (factors_removed) *factors_removed = removed;
	if (codes_voided) *codes_voided = voided;
	return TWOFA_OK;
}

/*
 *	SMS and email codes.
 */
static twofa_rcode_t sqlite_oob_set(twofa_store_t *handle, int64_t user_id, int64_t factor_id,
				    twofa_oob_hash_t const *code, time_t expires)
{
	SQLITE_STORE(handle);
	CONN_USE(c);
	sqlite3_stmt	*stmt;
	int		changes = 0;
	twofa_rcode_t	rc;

	CONN_OR_FAIL(c, store);
	stmt = stmt_start(c, STMT_OOB_SET);
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_int64(stmt, 2, factor_id);
	sqlite3_bind_blob(stmt, 3, code->salt, sizeof(code->salt), SQLITE_STATIC);
	sqlite3_bind_blob(stmt, 4, code->hash, sizeof(code->hash), SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 5, expires);
	rc = stmt_run(c, stmt, "set code", &changes);
	if ((rc == TWOFA_OK) && (changes == 0)) return TWOFA_ERR_NOT_ENROLLED;
	return rc;
}

typedef struct {
	int64_t			user_id;
	int64_t			factor_id;
	uint8_t const		*okey;
	char const		*answer;
	unsigned int		digits;
	time_t			now;
	twofa_login_t const	*login;		//!< written with a success, if not NULL
} oob_consume_args_t;

/* The factor's code, if it matches the answer: *matched, and its salt in salt. */
static twofa_rcode_t oob_find(conn_t *c, oob_consume_args_t const *a, bool *matched, twofa_oob_hash_t *code)
{
	sqlite3_stmt	*stmt = stmt_start(c, STMT_OOB_FIND);
	int		rc;

	*matched = false;
	sqlite3_bind_int64(stmt, 1, a->user_id);
	sqlite3_bind_int64(stmt, 2, a->factor_id);
	rc = sqlite3_step(stmt);
	if ((rc == SQLITE_ROW) && (sqlite3_column_bytes(stmt, 0) == sizeof(code->salt)) &&
	    (sqlite3_column_bytes(stmt, 1) == sizeof(code->hash))) {
		memcpy(code->salt, sqlite3_column_blob(stmt, 0), sizeof(code->salt));
		memcpy(code->hash, sqlite3_column_blob(stmt, 1), sizeof(code->hash));
		*matched = twofa_oob_code_matches(a->okey, code, a->answer, strlen(a->answer), a->digits);
	}
	stmt_done(stmt);
	if ((rc != SQLITE_ROW) && (rc != SQLITE_DONE)) return conn_error(c, "find code", rc);
	return TWOFA_OK;
}

/* Not used: say why.  Every answer is a reject, so this read need not be atomic with the update. */
static twofa_rcode_t oob_why_not(conn_t *c, oob_consume_args_t const *a, bool matched, twofa_oob_hash_t const *code)
{
	sqlite3_stmt	*stmt = stmt_start(c, STMT_OOB_WHY_NOT);
	int		rc;
	twofa_rcode_t	ret;

	sqlite3_bind_int64(stmt, 1, a->user_id);
	sqlite3_bind_int64(stmt, 2, a->factor_id);
	sqlite3_bind_int64(stmt, 3, a->now);
	sqlite3_bind_blob(stmt, 4, code->salt, sizeof(code->salt), SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_DONE) ret = TWOFA_ERR_NOT_FOUND;		/* user deleted since */
	else if (rc != SQLITE_ROW) ret = conn_error(c, "use code", rc);
	else if (sqlite3_column_int(stmt, 0)) ret = TWOFA_ERR_LOCKED;
	else if (!sqlite3_column_int(stmt, 1)) ret = TWOFA_ERR_NOT_ENROLLED;
	else if (!matched) ret = TWOFA_ERR_BAD_CODE;
	else if (sqlite3_column_int(stmt, 2)) ret = TWOFA_ERR_REPLAYED;
	else if (sqlite3_column_int(stmt, 3)) ret = TWOFA_ERR_EXPIRED;
	else ret = TWOFA_ERR_BAD_CODE;					/* replaced meanwhile */
	stmt_done(stmt);
	return ret;
}

static twofa_rcode_t oob_consume_run(conn_t *c, void *arg)
{
	oob_consume_args_t	*a = arg;
	twofa_oob_hash_t	code;
	sqlite3_stmt		*stmt;
	bool			matched;
	int			changes = 0;
	twofa_rcode_t		rc;

	memset(&code, 0, sizeof(code));
	if ((rc = state_first(c, a->login)) != TWOFA_OK) return rc;
	rc = oob_find(c, a, &matched, &code);
	if (rc != TWOFA_OK) return rc;
	if (matched) {
		stmt = stmt_start(c, STMT_OOB_USE);
		sqlite3_bind_int64(stmt, 1, a->user_id);
		sqlite3_bind_int64(stmt, 2, a->factor_id);
		sqlite3_bind_int64(stmt, 3, a->now);
		sqlite3_bind_blob(stmt, 4, code.salt, sizeof(code.salt), SQLITE_STATIC);
		rc = stmt_run(c, stmt, "use code", &changes);
		if (rc != TWOFA_OK) return rc;
		if (changes == 1) return a->login ? log_login_in(c, a->login) : TWOFA_OK;
	}
	return oob_why_not(c, a, matched, &code);
}

static twofa_rcode_t sqlite_oob_consume(twofa_store_t *handle, int64_t user_id, int64_t factor_id,
					uint8_t const okey[TWOFA_OOB_KEY_LEN], char const *answer, unsigned int digits,
					time_t now, twofa_login_t const *login)
{
	SQLITE_STORE(handle);
	oob_consume_args_t a = { .user_id = user_id, .factor_id = factor_id, .okey = okey, .answer = answer,
				 .digits = digits, .now = now, .login = login };

	if (!okey || !answer || !twofa_oob_code_well_formed(answer, strlen(answer), digits)) return TWOFA_ERR_MALFORMED;
	return store_call(store, true, oob_consume_run, &a);
}

typedef struct {
	int64_t		user_id;
	char const	*nas;
	time_t		now;
	unsigned int	per_user;
	unsigned int	per_nas;
} send_allow_args_t;

static twofa_rcode_t send_allow_run(conn_t *c, void *arg)
{
	send_allow_args_t const	*a = arg;
	sqlite3_stmt		*stmt;
	int			changes = 0;
	twofa_rcode_t		rc;

	/* Every TWOFA_SEND_PRUNE_EVERY sends: the expired among the oldest rows go. */
	if ((c->store->sends++ % TWOFA_SEND_PRUNE_EVERY) == 0) {
		stmt = stmt_start(c, STMT_PRUNE_SENDS);
		sqlite3_bind_int64(stmt, 1, (int64_t) a->now - TWOFA_SEND_WINDOW);
		sqlite3_bind_int(stmt, 2, TWOFA_SEND_PRUNE_ROWS);
		rc = stmt_run(c, stmt, "prune sends", NULL);
		if (rc != TWOFA_OK) return rc;
	}
	stmt = stmt_start(c, STMT_SEND_ALLOW);
	sqlite3_bind_int64(stmt, 1, a->user_id);
	bind_field(stmt, 2, a->nas ? a->nas : "");
	sqlite3_bind_int64(stmt, 3, a->now);
	sqlite3_bind_int64(stmt, 4, a->per_user);
	sqlite3_bind_int64(stmt, 5, a->per_nas);
	sqlite3_bind_int64(stmt, 6, TWOFA_SEND_WINDOW);
	rc = stmt_run(c, stmt, "count send", &changes);
	if ((rc == TWOFA_OK) && (changes == 0)) return TWOFA_ERR_THROTTLED;
	return rc;
}

static twofa_rcode_t sqlite_send_allow(twofa_store_t *handle, int64_t user_id, char const *nas, time_t now,
				       unsigned int per_user, unsigned int per_nas)
{
	SQLITE_STORE(handle);
	send_allow_args_t a = { .user_id = user_id, .nas = nas, .now = now, .per_user = per_user, .per_nas = per_nas };

	return store_call(store, true, send_allow_run, &a);
}

static twofa_rcode_t sqlite_set_reply(twofa_store_t *handle, char const *name, char const *reply)
{
	SQLITE_STORE(handle);

	return run_by_name(store, STMT_SET_REPLY, "set reply", name, (reply && *reply) ? reply : NULL, NULL,
			   TWOFA_ERR_NOT_FOUND);
}

static twofa_rcode_t sqlite_set_preferred(twofa_store_t *handle, char const *name, twofa_factor_kind_t kind)
{
	SQLITE_STORE(handle);

	if (kind && ((kind < TWOFA_FACTOR_TOTP) || (kind > TWOFA_FACTOR_KIND_LAST))) return TWOFA_ERR_MALFORMED;
	return run_by_name(store, STMT_SET_PREFERRED, "set preferred method", name,
			   kind ? twofa_factor_kind_name(kind) : NULL, NULL, TWOFA_ERR_NOT_FOUND);
}

/*
 *	Remembered devices (devices.h).  Remember and known are on the login
 *	path: through store_call, batched with the other logins' calls.
 */
typedef struct {
	int64_t		user_id;
	uint8_t const	*hash;
	time_t		now;
	time_t		expires;
	char const	*nas;
} device_args_t;

static twofa_rcode_t device_remember_run(conn_t *c, void *arg)
{
	device_args_t const	*a = arg;
	sqlite3_stmt		*stmt = stmt_start(c, STMT_DEVICE_EXPIRE);
	twofa_rcode_t		rc;

	sqlite3_bind_int64(stmt, 1, a->user_id);
	sqlite3_bind_int64(stmt, 2, a->now);
	if ((rc = stmt_run(c, stmt, "expire devices", NULL)) != TWOFA_OK) return rc;

	stmt = stmt_start(c, STMT_DEVICE_REMEMBER);
	sqlite3_bind_int64(stmt, 1, a->user_id);
	sqlite3_bind_blob(stmt, 2, a->hash, TWOFA_DEVICE_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, a->now);
	sqlite3_bind_int64(stmt, 4, a->expires);
	bind_field(stmt, 5, a->nas);
	return stmt_run(c, stmt, "remember device", NULL);
}

static twofa_rcode_t sqlite_device_remember(twofa_store_t *handle, int64_t user_id,
					    uint8_t const hash[TWOFA_DEVICE_HASH_LEN], time_t now, time_t expires,
					    char const *nas)
{
	SQLITE_STORE(handle);
	device_args_t a = { .user_id = user_id, .hash = hash, .now = now, .expires = expires, .nas = nas };

	return store_call(store, true, device_remember_run, &a);
}

static twofa_rcode_t device_known_run(conn_t *c, void *arg)
{
	device_args_t const	*a = arg;
	sqlite3_stmt		*stmt = stmt_start(c, STMT_DEVICE_KNOWN);
	int			rc;

	sqlite3_bind_int64(stmt, 1, a->user_id);
	sqlite3_bind_blob(stmt, 2, a->hash, TWOFA_DEVICE_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, a->now);
	rc = sqlite3_step(stmt);
	stmt_done(stmt);
	if (rc == SQLITE_ROW) return TWOFA_OK;
	if (rc == SQLITE_DONE) return TWOFA_ERR_NOT_FOUND;
	return conn_error(c, "device known", rc);
}

static twofa_rcode_t sqlite_device_known(twofa_store_t *handle, int64_t user_id,
					 uint8_t const hash[TWOFA_DEVICE_HASH_LEN], time_t now)
{
	SQLITE_STORE(handle);
	device_args_t a = { .user_id = user_id, .hash = hash, .now = now };

	return store_call(store, false, device_known_run, &a);
}

/* The id of the user named name: NOT_FOUND if none. */
static twofa_rcode_t user_id_of(conn_t *c, char const *name, int64_t *id)
{
	sqlite3_stmt	*stmt = stmt_start(c, STMT_USER_ID);
	int		rc;

	bind_text(stmt, 1, name);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) *id = sqlite3_column_int64(stmt, 0);
	stmt_done(stmt);
	if (rc == SQLITE_ROW) return TWOFA_OK;
	if (rc == SQLITE_DONE) return TWOFA_ERR_NOT_FOUND;
	return conn_error(c, "user id", rc);
}

static twofa_rcode_t sqlite_device_list(twofa_store_t *handle, TALLOC_CTX *ctx, char const *name, time_t now,
					twofa_device_t **out, size_t *count)
{
	SQLITE_STORE(handle);
	CONN_USE(c);
	sqlite3_stmt	*stmt;
	twofa_device_t	*list;
	int64_t		user_id = 0;
	size_t		n = 0;
	twofa_rcode_t	ret;
	int		rc;

	*out = NULL;
	*count = 0;
	CONN_OR_FAIL(c, store);
	if ((ret = user_id_of(c, name, &user_id)) != TWOFA_OK) return ret;
	if (!(list = talloc_zero_array(ctx, twofa_device_t, 0))) return TWOFA_ERR_NO_MEMORY;

	stmt = stmt_start(c, STMT_DEVICE_LIST);
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_int64(stmt, 2, now);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		twofa_device_t *d;

		list = talloc_realloc(ctx, list, twofa_device_t, n + 1);
		if (!list) break;
		d = &list[n++];
		d->id = sqlite3_column_int64(stmt, 0);
		d->created = sqlite3_column_int64(stmt, 1);
		d->last_used = sqlite3_column_int64(stmt, 2);
		d->expires = sqlite3_column_int64(stmt, 3);
		d->nas = column_strdup(list, stmt, 4);
	}
	if (!list || (rc != SQLITE_DONE)) {
		ret = list ? conn_error(c, "list devices", rc) : TWOFA_ERR_NO_MEMORY;
		stmt_done(stmt);
		talloc_free(list);
		return ret;
	}
	stmt_done(stmt);
	*out = list;
	*count = n;
	return TWOFA_OK;
}

static twofa_rcode_t sqlite_device_forget(twofa_store_t *handle, char const *name, int64_t id,
					  unsigned int *forgotten)
{
	SQLITE_STORE(handle);
	CONN_USE(c);
	sqlite3_stmt	*stmt;
	int64_t		user_id = 0;
	int		changes = 0;
	twofa_rcode_t	rc;

	if (forgotten) *forgotten = 0;
	CONN_OR_FAIL(c, store);
	if ((rc = user_id_of(c, name, &user_id)) != TWOFA_OK) return rc;
	stmt = stmt_start(c, STMT_DEVICE_FORGET);
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_int64(stmt, 2, id);
	rc = stmt_run(c, stmt, "forget devices", &changes);
	if ((rc == TWOFA_OK) && forgotten) *forgotten = (unsigned int) changes;
	return rc;
}

/*
 *	The whole store (twofa-admin migrate), in one read transaction.
 */
static void *blob_dup(TALLOC_CTX *ctx, sqlite3_stmt *stmt, int col, size_t *len)
{
	*len = (size_t) sqlite3_column_bytes(stmt, col);
	return talloc_memdup(ctx, sqlite3_column_blob(stmt, col), *len ? *len : 1);
}

/* Grow *array (of size elements, *count used) by one; NULL if out of memory. */
#define GROW(_ctx, _array, _count, _type) \
	((_array) = talloc_realloc((_ctx), (_array), _type, (_count) + 1), \
	 (_array) ? memset(&(_array)[(_count)++], 0, sizeof(_type)) : NULL)

static twofa_rcode_t dump_rows(conn_t *c, twofa_store_dump_t *d)
{
	sqlite3_stmt	*stmt;
	twofa_rcode_t	rc;
	int		step;

	stmt = stmt_start(c, STMT_LIST_USERS);
	rc = users_from_rows(c, stmt, d, "dump users", &d->users, &d->num_users, SIZE_MAX);
	stmt_done(stmt);
	if (rc != TWOFA_OK) return rc;

	stmt = stmt_start(c, STMT_DUMP_USED);
	while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
		twofa_used_step_t *u = GROW(d, d->used, d->num_used, twofa_used_step_t);

		if (!u) goto oom;
		u->factor_id = sqlite3_column_int64(stmt, 0);
		u->step = sqlite3_column_int64(stmt, 1);
		u->expires = sqlite3_column_int64(stmt, 2);
	}
	stmt_done(stmt);
	if (step != SQLITE_DONE) return conn_error(c, "dump used steps", step);

	stmt = stmt_start(c, STMT_DUMP_CODES);
	while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
		twofa_backup_row_t *b = GROW(d, d->codes, d->num_codes, twofa_backup_row_t);

		if (!b) goto oom;
		b->id = sqlite3_column_int64(stmt, 0);
		b->user_id = sqlite3_column_int64(stmt, 1);
		if (!(b->salt = blob_dup(d->codes, stmt, 2, &b->salt_len)) ||
		    !(b->hash = blob_dup(d->codes, stmt, 3, &b->hash_len))) goto oom;
		b->created = sqlite3_column_int64(stmt, 4);
		b->used_at = sqlite3_column_int64(stmt, 5);
	}
	stmt_done(stmt);
	if (step != SQLITE_DONE) return conn_error(c, "dump backup codes", step);

	stmt = stmt_start(c, STMT_DUMP_AUDIT);
	while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
		twofa_audit_row_t *a = GROW(d, d->audit, d->num_audit, twofa_audit_row_t);

		if (!a) goto oom;
		a->id = sqlite3_column_int64(stmt, 0);
		a->at = sqlite3_column_int64(stmt, 1);
		a->actor = column_strdup(d, stmt, 2);
		a->action = column_strdup(d, stmt, 3);
		a->user = column_strdup(d, stmt, 4);
		a->detail = column_strdup(d, stmt, 5);
	}
	stmt_done(stmt);
	if (step != SQLITE_DONE) return conn_error(c, "dump audit", step);

	stmt = stmt_start(c, STMT_LIST_LOGINS);
	sqlite3_bind_null(stmt, 1);
	sqlite3_bind_int64(stmt, 2, INT64_MIN);
	while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
		twofa_login_t *l = GROW(d, d->logins, d->num_logins, twofa_login_t);

		if (!l) goto oom;
		l->id = sqlite3_column_int64(stmt, 0);
		l->at = sqlite3_column_int64(stmt, 1);
		l->user = column_strdup(d, stmt, 2);
		l->nas = column_strdup(d, stmt, 3);
		l->calling_station_id = column_strdup(d, stmt, 4);
		l->method = column_strdup(d, stmt, 5);
		l->result = column_strdup(d, stmt, 6);
		l->reason = column_strdup(d, stmt, 7);
	}
	stmt_done(stmt);
	if (step != SQLITE_DONE) return conn_error(c, "dump logins", step);

	stmt = stmt_start(c, STMT_DUMP_DEVICES);
	while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
		twofa_device_row_t *v = GROW(d, d->devices, d->num_devices, twofa_device_row_t);

		if (!v) goto oom;
		v->id = sqlite3_column_int64(stmt, 0);
		v->user_id = sqlite3_column_int64(stmt, 1);
		if (!(v->hash = blob_dup(d->devices, stmt, 2, &v->hash_len))) goto oom;
		v->created = sqlite3_column_int64(stmt, 3);
		v->last_used = sqlite3_column_int64(stmt, 4);
		v->expires = sqlite3_column_int64(stmt, 5);
		v->nas = column_strdup(d->devices, stmt, 6);
	}
	stmt_done(stmt);
	if (step != SQLITE_DONE) return conn_error(c, "dump devices", step);
	return TWOFA_OK;

oom:
	stmt_done(stmt);
	return TWOFA_ERR_NO_MEMORY;
}

static twofa_rcode_t sqlite_dump(twofa_store_t *handle, TALLOC_CTX *ctx, twofa_store_dump_t **out)
{
	SQLITE_STORE(handle);
	twofa_store_dump_t	*d;
	twofa_rcode_t		rc;
	bool			own_transaction;

	if (!(d = talloc_zero(ctx, twofa_store_dump_t))) return TWOFA_ERR_NO_MEMORY;
	d->schema_version = store->schema_version;
	{
		CONN_USE(c);

		c = conn_acquire(store);
		if (!c) {
			talloc_free(d);
			return TWOFA_ERR_STORE;
		}
		own_transaction = sqlite3_get_autocommit(c->db);
		rc = own_transaction ? stmt_run_plain(c, STMT_BEGIN_READ, "begin") : TWOFA_OK;
		if (rc == TWOFA_OK) rc = dump_rows(c, d);
		if (own_transaction && !sqlite3_get_autocommit(c->db)) stmt_run_plain(c, STMT_COMMIT, "commit");
	}
	if (rc != TWOFA_OK) {
		talloc_free(d);
		return rc;
	}
	*out = d;
	return TWOFA_OK;
}

twofa_store_ops_t const twofa_store_sqlite_ops = {
	.scheme			= "sqlite",
	.open			= sqlite_open,
	.errmsg			= sqlite_errmsg,
	.schema_version		= sqlite_schema_version,
	.get_user		= sqlite_get_user,
	.add_user		= sqlite_add_user,
	.set_password		= sqlite_set_password,
	.delete_user		= sqlite_delete_user,
	.set_exempt		= sqlite_set_exempt,
	.reset_user		= sqlite_reset_user,
	.list_users		= sqlite_list_users,
	.factor_set		= sqlite_factor_set,
	.factor_confirm		= sqlite_factor_confirm,
	.factor_remove		= sqlite_factor_remove,
	.factor_enrol		= sqlite_factor_enrol,
	.factor_consume_step	= sqlite_factor_consume_step,
	.backup_set		= sqlite_backup_set,
	.backup_consume		= sqlite_backup_consume,
	.record_failure		= sqlite_record_failure,
	.record_success		= sqlite_record_success,
	.record_password_failure = sqlite_record_password_failure,
	.record_password_success = sqlite_record_password_success,
	.unlock			= sqlite_unlock,
	.audit			= sqlite_audit,
	.log_login		= sqlite_log_login,
	.list_logins		= sqlite_list_logins,
	.dump			= sqlite_dump,
	.load			= NULL,		/* PostgreSQL to SQLite: not yet */
	.begin			= sqlite_begin,
	.commit			= sqlite_commit,
	.rollback		= sqlite_rollback,
	.oob_set		= sqlite_oob_set,
	.oob_consume		= sqlite_oob_consume,
	.send_allow		= sqlite_send_allow,
	.set_preferred		= sqlite_set_preferred,
	.set_reply		= sqlite_set_reply,
	.state_use		= sqlite_state_use,
	.device_remember	= sqlite_device_remember,
	.device_known		= sqlite_device_known,
	.device_list		= sqlite_device_list,
	.device_forget		= sqlite_device_forget,
};
