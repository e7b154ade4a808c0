/*
 * store_pg.c	The PostgreSQL backend of store.h; the only file that includes libpq-fe.h.
 *
 *		store = postgresql://USER@HOST:PORT/DB?sslmode=verify-full&...
 *		(libpq's URL; a password in it is refused: it would show in
 *		radiusd's debug output.  The password comes from
 *		postgresql { password_file }, read at each new connection and
 *		wiped, else from libpq's own PGPASSFILE or ~/.pgpass.)
 *
 *		Several radiusd and twofa-admin share one database.  Each
 *		process keeps a pool of at most pool_size connections; a call
 *		takes one for itself, never across a login or network I/O of
 *		its own, and gives it back.  The login path's calls of one
 *		statement each (a user's read, a TOTP consume, the counters,
 *		a State spent, a login's row) are batched under load: one
 *		connection, one pipeline, one round trip (login_call).
 *		Statements are prepared on a
 *		connection the first time it runs them.  Every call waits at
 *		most statement_timeout for a connection and as long again for
 *		the answer (the server also cancels at statement_timeout): a
 *		database down, stopped or slow gives TWOFA_ERR_STORE or
 *		TWOFA_ERR_BUSY in bounded time, and a connection that failed is
 *		closed and made again by a later call (no restart).
 *
 *		Consume-once: each is one statement whose row lock decides
 *		(the loser of a race waits for the winner's commit and then
 *		finds the row changed): the TOTP step is a high-water mark in
 *		the factor's row (UPDATE ... WHERE last_step < step), a backup
 *		or SMS/email code an UPDATE ... WHERE used_at IS NULL, the
 *		lockout one UPDATE ... RETURNING, a sealed State's nonce an
 *		INSERT ... ON CONFLICT DO NOTHING into used_states (the loser
 *		waits on the winner's key).  A successful consume writes its
 *		login's row in the same statement (a data-modifying WITH).  A
 *		consume answering a sealed State records the nonce first, in
 *		the same transaction: the TOTP consume in its one statement,
 *		the others in a transaction kept unless the store failed (the
 *		State stays spent whatever the answer, as SQLite's).
 *		The send limits are checked and counted in a transaction
 *		under advisory locks on the user and on the NAS, so that two
 *		servers cannot both take the last slot.
 *
 *		Clocks: locks and throttles (whether one holds, when it ends)
 *		use the database's clock, so that servers with different clocks
 *		agree; the caller's "now" is used only for what the caller
 *		computed with it: the age of a TOTP step (it matched the code
 *		against its own clock), a backup code's used_at and a login's
 *		time.  At each new connection a server clock more than
 *		CLOCK_SKEW_WARN seconds off the database's is reported (warn).
 *
 *		Schema: as SQLite's, version for version (store_sqlite.c), but
 *		a TOTP factor's used steps are one number, factors.last_step,
 *		the newest step used (SQLite keeps recent steps in factor_used,
 *		for its page cache).  A new database is made at version
 *		BASE_VERSION in one go; later versions are appended to
 *		migrations[] with SQLite's numbers.  Migrations run in one
 *		transaction under an advisory lock, so that servers starting
 *		at once do not race.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "combine.h"
#include "store_backend.h"
#include "totp.h"

#define BASE_VERSION		7	//!< a new database is made at this version (SQLite's 7)
#define SCHEMA_VERSION		11
#define USED_STEP_PERIODS	(TWOFA_TOTP_MAX_WINDOW + 1)	//!< as store_sqlite.c
#define MIGRATION_LOCK		"7477666173746f72"		//!< pg_advisory_xact_lock key ("twofastor")
#define MIGRATION_WAIT_MS	60000	//!< another server's migration may take this long
#define CLOCK_SKEW_WARN		5	//!< seconds
#define PASSWORD_MAX		1024
#define RETRY_MS		1000	//!< after a failed connect or an unanswered call, no connect for this long
/* The login path's batches at once, each on a connection of the pool (login_call).  One: two cost
 * 20-30 % more CPU per login, here and in the database, for no more logins/s (bench/README.md). */
#define PIPELINES		1
/*
 *	A used State's nonce is kept this long past its deadline before a
 *	prune may take it: the deadline is by the clock of the server that
 *	sealed it, the prune by the pruning server's, and servers' clocks
 *	may differ a little (CLOCK_SKEW_WARN is where we warn).
 */
#define STATE_KEEP_MARGIN	300	//!< seconds
/* Advisory lock classes (two-int keys: apart from the migration's one-bigint key). */
#define SEND_LOCK_USER		1952867701	//!< "tfsu"
#define SEND_LOCK_NAS		1952867694	//!< "tfsn"

#define STRINGIFY_(_x)	#_x
#define STRINGIFY(_x)	STRINGIFY_(_x)

/* The database's clock, in seconds since the epoch, the same within a statement. */
#define DB_NOW	"floor(extract(epoch FROM statement_timestamp()))::bigint"

/*
 *	The schema at BASE_VERSION: SQLite's tables at version 7, with
 *	PostgreSQL types.  Identity columns keep handing out new ids (a
 *	replaced factor gets a new one, as with SQLite's AUTOINCREMENT).
 *	Names are found in any ASCII case: lower() under the "C" collation
 *	folds ASCII only, as SQLite's NOCASE.
 */
static char const base_schema[] =
	"CREATE TABLE users ("
	"	id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
	"	name text NOT NULL UNIQUE,"
	"	password_hash text,"
	"	created bigint NOT NULL,"
	"	fail_count integer NOT NULL DEFAULT 0,"
	"	lock_count integer NOT NULL DEFAULT 0,"
	"	locked_until bigint NOT NULL DEFAULT 0,"
	"	password_failures integer NOT NULL DEFAULT 0,"
	"	password_next_try bigint NOT NULL DEFAULT 0,"
	"	exempt boolean NOT NULL DEFAULT false);"
	"CREATE INDEX users_name_nocase ON users (lower(name COLLATE \"C\"));"
	"CREATE TABLE factors ("
	"	id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
	"	user_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"	kind text NOT NULL,"
	"	confirmed boolean NOT NULL DEFAULT false,"
	"	secret bytea,"
	"	hash text,"
	"	digits integer,"
	"	period integer,"
	"	address text,"
	"	last_step bigint NOT NULL DEFAULT -1,"	/* the newest used step: the high-water mark */
	"	created bigint NOT NULL,"
	"	UNIQUE (user_id, kind));"
	"CREATE TABLE backup_codes ("
	"	id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
	"	user_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"	salt bytea NOT NULL,"
	"	hash bytea NOT NULL,"
	"	created bigint NOT NULL,"
	"	used_at bigint);"
	"CREATE INDEX backup_codes_user ON backup_codes (user_id, used_at);"
	"CREATE TABLE audit ("
	"	id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
	"	at bigint NOT NULL,"
	"	actor text NOT NULL,"
	"	action text NOT NULL,"
	"	\"user\" text,"
	"	detail text);"
	"CREATE TABLE logins ("
	"	id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
	"	at bigint NOT NULL,"
	"	\"user\" text,"
	"	nas text,"
	"	calling_station_id text,"
	"	method text NOT NULL,"
	"	result text NOT NULL,"
	"	reason text NOT NULL);";

/*
 *	Migrations after BASE_VERSION: entry brings the schema to version,
 *	the same number as SQLite's migration of the same meaning.  Append
 *	only; never edit a released entry.
 */
static struct {
	int		version;
	char const	*sql;
} const migrations[] = {
	/*
	 * 8: SMS and email codes, one row per factor (a new code replaces
	 * the one before), gone with their factor (a replaced factor is a
	 * delete and an insert here) or their user.  Sends, for the per-user
	 * and per-NAS limits: rows of the last hour, pruned in id order; no
	 * foreign key, they age out.  The preferred method: a kind's name,
	 * NULL for the default order.
	 */
	{ 8,	"CREATE TABLE oob_codes ("
		"	factor_id bigint PRIMARY KEY REFERENCES factors(id) ON DELETE CASCADE,"
		"	user_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
		"	salt bytea NOT NULL,"
		"	hash bytea NOT NULL,"
		"	expires bigint NOT NULL,"
		"	used_at bigint);"
		"CREATE TABLE sends ("
		"	id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
		"	user_id bigint NOT NULL,"
		"	nas text NOT NULL,"
		"	at bigint NOT NULL);"
		"CREATE INDEX sends_user ON sends (user_id, at);"
		"CREATE INDEX sends_nas ON sends (nas, at);"
		"ALTER TABLE users ADD COLUMN preferred text;" },
	/*
	 * 9: the nonces of sealed States answered, each kept until its
	 * State's deadline (and STATE_KEEP_MARGIN): one answer per State on
	 * any radiusd sharing the database.  Keyed by deadline first, as
	 * SQLite's: new keys land at the end of the index, the prune takes
	 * the front.
	 */
	{ 9,	"CREATE TABLE used_states ("
		"	expires bigint NOT NULL,"
		"	nonce bytea NOT NULL,"
		"	PRIMARY KEY (expires, nonce));" },
	/*
	 * 10: remembered devices: a keyed hash of the user's id and the
	 * device's normalised Calling-Station-Id, never the name in clear;
	 * looked up by (user_id, hash), the unique index.
	 */
	{ 10,	"CREATE TABLE devices ("
		"	id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
		"	user_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
		"	hash bytea NOT NULL,"
		"	created bigint NOT NULL,"
		"	last_used bigint NOT NULL,"
		"	expires bigint NOT NULL,"
		"	nas text,"
		"	UNIQUE (user_id, hash));" },
	/*
	 * 11: a user's own reply attributes on Accept ("Class=vpn-users,
	 * Filter-Id=x", a policy_file rule's reply= syntax); NULL: none.
	 */
	{ 11,	"ALTER TABLE users ADD COLUMN reply text;" },
	{ 0, NULL }
};

typedef enum {
	STMT_GET_USER = 0,
	STMT_ADD_USER,
	STMT_SET_PASSWORD,
	STMT_DELETE_USER,
	STMT_LIST_USERS,
	STMT_USER_ID_LOCK,
	STMT_FACTOR_DELETE,
	STMT_FACTOR_INSERT,
	STMT_FACTOR_CONFIRM,
	STMT_FACTOR_REMOVE,
	STMT_FACTOR_CLEAR,
	STMT_ENROL_LOCK_USER,
	STMT_ENROL_CLEAR_PENDING,
	STMT_ENROL_INSERT,
	STMT_CONSUME_STEP,
	STMT_WHY_NOT_CONSUMED,
	STMT_RECORD_FAILURE,
	STMT_RECORD_SUCCESS,
	STMT_PASSWORD_FAILURE,
	STMT_PASSWORD_SUCCESS,
	STMT_UNLOCK,
	STMT_SET_EXEMPT,
	STMT_RESET_USER,
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
	STMT_DUMP_CODES,
	STMT_DUMP_AUDIT,
	STMT_LOAD_EMPTY,
	STMT_LOAD_USER,
	STMT_LOAD_FACTOR,
	STMT_LOAD_CODE,
	STMT_LOAD_AUDIT,
	STMT_LOAD_LOGIN,
	STMT_USER_ID,
	STMT_STATE_USE,
	STMT_STATE_PRUNE,
	STMT_OOB_SET,
	STMT_OOB_FIND,
	STMT_OOB_USE,
	STMT_OOB_WHY_NOT,
	STMT_SEND_LOCK,
	STMT_SEND_ALLOW,
	STMT_PRUNE_SENDS,
	STMT_SET_PREFERRED,
	STMT_SET_REPLY,
	STMT_DEVICE_EXPIRE,
	STMT_DEVICE_REMEMBER,
	STMT_DEVICE_KNOWN,
	STMT_DEVICE_LIST,
	STMT_DEVICE_FORGET,
	STMT_DUMP_DEVICES,
	STMT_LOAD_DEVICE,
	STMT_COUNT
} stmt_t;

/* A user's row, once per factor (once with NULL factor columns if none): user_from_row(). */
#define USER_COLUMNS \
	"u.id, u.name, u.password_hash, u.created, u.fail_count, u.lock_count, u.locked_until, " \
	"u.password_failures, u.password_next_try, " \
	"(SELECT count(*) FROM backup_codes b WHERE b.user_id = u.id AND b.used_at IS NULL), " \
	"u.exempt, u.preferred, u.reply, " \
	"f.id, f.kind, f.confirmed, f.secret, f.hash, f.digits, f.period, f.address, f.last_step, f.created " \
	"FROM users u LEFT JOIN factors f ON f.user_id = u.id "
enum { COL_PREFERRED = 11, COL_REPLY = 12, COL_FACTOR = 13 };	/* the first factor column */

/* The login's columns, bound from $first on by bind_login(). */
#define LOGIN_COLUMNS	"at, \"user\", nas, calling_station_id, method, result, reason"
#define LOGIN_VALUES(_a, _b, _c, _d, _e, _f, _g) \
	"$" #_a "::bigint, $" #_b "::text, $" #_c "::text, $" #_d "::text, $" #_e "::text, $" #_f "::text, $" #_g "::text"

/*
 *	Every parameter carries its type (PREPARE infers none from NULL).
 */
static char const *statements[STMT_COUNT] = {
	/*
	 *	The exact spelling (the unique index), else the name in any
	 *	ASCII case, the oldest such user; the second search runs only
	 *	if the first found nothing.  Its OFFSET 0 keeps it on the nocase
	 *	index: folded into "ORDER BY id LIMIT 1", a planner without
	 *	statistics walked the primary key over every user for a name
	 *	nobody has (a cost growing with the store, and a sign of which
	 *	names exist).
	 */
	[STMT_GET_USER]		= "SELECT " USER_COLUMNS "WHERE u.id = (SELECT id FROM ("
				  "(SELECT id FROM users WHERE name = $1::text) UNION ALL "
				  "(SELECT id FROM (SELECT id FROM users WHERE lower(name COLLATE \"C\") = "
				  "lower($1::text COLLATE \"C\") AND name <> $1::text OFFSET 0) AS nocase "
				  "ORDER BY id LIMIT 1)) AS m LIMIT 1) ORDER BY f.kind COLLATE \"C\"",
	/* A name that differs from another only in case is taken already. */
	[STMT_ADD_USER]		= "INSERT INTO users (name, password_hash, created) SELECT $1::text, $2::text, " DB_NOW " "
				  "WHERE NOT EXISTS (SELECT 1 FROM users WHERE lower(name COLLATE \"C\") = "
				  "lower($1::text COLLATE \"C\"))",
	[STMT_SET_PASSWORD]	= "UPDATE users SET password_hash = $2::text WHERE name = $1::text",
	[STMT_DELETE_USER]	= "DELETE FROM users WHERE name = $1::text",
	[STMT_LIST_USERS]	= "SELECT " USER_COLUMNS "ORDER BY u.name COLLATE \"C\", u.id, f.kind COLLATE \"C\"",
	/* Every change of a user's factors takes the user's row first: they run one after the other. */
	[STMT_USER_ID_LOCK]	= "SELECT id FROM users WHERE name = $1::text FOR UPDATE",
	[STMT_FACTOR_DELETE]	= "DELETE FROM factors WHERE user_id = $1::bigint AND kind = $2::text",
	/* $1 user id, $2 kind, $3 confirmed, $4 secret, $5 hash, $6 digits, $7 period, $8 address, $9 last step. */
	[STMT_FACTOR_INSERT]	= "INSERT INTO factors (user_id, kind, confirmed, secret, hash, digits, period, address, "
				  "last_step, created) VALUES ($1::bigint, $2::text, $3::boolean, $4::bytea, $5::text, "
				  "$6::integer, $7::integer, $8::text, $9::bigint, " DB_NOW ")",
	[STMT_FACTOR_CONFIRM]	= "UPDATE factors SET confirmed = true, last_step = $3::bigint "
				  "WHERE NOT confirmed AND kind = $2::text AND user_id = (SELECT id FROM users WHERE name = $1::text)",
	[STMT_FACTOR_REMOVE]	= "DELETE FROM factors WHERE kind = $2::text AND user_id = (SELECT id FROM users WHERE name = $1::text)",
	[STMT_FACTOR_CLEAR]	= "DELETE FROM factors WHERE user_id = $1::bigint",
	/* Enrolment at login: the user's row, locked; is a lock on (database clock)? */
	[STMT_ENROL_LOCK_USER]	= "SELECT locked_until > " DB_NOW " FROM users WHERE id = $1::bigint FOR UPDATE",
	[STMT_ENROL_CLEAR_PENDING] = "DELETE FROM factors WHERE user_id = $1::bigint AND kind = $2::text AND NOT confirmed",
	/*
	 *	Confirmed at once, its confirming step used; only if no factor
	 *	of the kind is left (the pending one was deleted before; a
	 *	confirmed one, another login's, is kept).  $1 user id, $2 kind,
	 *	$3 secret, $4 hash, $5 digits, $6 period, $7 step, $8 address
	 *	(SMS, email: sms_ask_number).
	 */
	[STMT_ENROL_INSERT]	= "INSERT INTO factors (user_id, kind, confirmed, secret, hash, digits, period, last_step, "
				  "created, address) SELECT $1::bigint, $2::text, true, $3::bytea, $4::text, $5::integer, "
				  "$6::integer, $7::bigint, " DB_NOW ", $8::text "
				  "WHERE NOT EXISTS (SELECT 1 FROM factors WHERE user_id = $1::bigint AND kind = $2::text)",
	/*
	 *	The consume-once: one statement.  The factor's row holds the
	 *	newest used step; of two callers with the same step, the second
	 *	waits for the first's row lock, then finds last_step < step
	 *	false and changes nothing.  It also checks again what round
	 *	one read: the same factor (a replaced one has a new id), still
	 *	the user's and confirmed, and no lock (database clock).  A step
	 *	whose record SQLite would have forgotten is refused as there
	 *	(its age by the caller's clock, $5).  With $6 not NULL, the
	 *	login's row is written by the same statement if the step was
	 *	taken.  With $13 not NULL (the sealed State answered), its
	 *	nonce is recorded first (s), and nothing is taken if it was
	 *	there already: the second column says whether it was new.
	 *	$1 user, $2 step, $3 factor id, $4 USED_STEP_PERIODS, $5 now,
	 *	$6..$12 the login, $13 the State's nonce, $14 its deadline.
	 */
	[STMT_CONSUME_STEP]	= "WITH s AS (INSERT INTO used_states (expires, nonce) SELECT $14::bigint, $13::bytea "
				  "WHERE $13::bytea IS NOT NULL ON CONFLICT DO NOTHING RETURNING 1), "
				  "c AS (UPDATE factors SET last_step = $2::bigint "
				  "WHERE id = $3::bigint AND user_id = $1::bigint AND confirmed AND last_step < $2::bigint "
				  "AND ($2::bigint + $4::bigint) * period > $5::bigint "
				  "AND ($13::bytea IS NULL OR EXISTS (SELECT 1 FROM s)) "
				  "AND (SELECT locked_until FROM users WHERE id = $1::bigint) <= " DB_NOW " RETURNING id), "
				  "l AS (INSERT INTO logins (" LOGIN_COLUMNS ") SELECT " LOGIN_VALUES(6, 7, 8, 9, 10, 11, 12)
				  " FROM c WHERE $6::bigint IS NOT NULL) "
				  "SELECT (SELECT count(*) FROM c), $13::bytea IS NULL OR EXISTS (SELECT 1 FROM s)",
	/* Only when the above changed nothing: which condition failed.  $1 user, $2 factor id. */
	[STMT_WHY_NOT_CONSUMED]	= "SELECT u.locked_until > " DB_NOW ", EXISTS (SELECT 1 FROM factors f "
				  "WHERE f.id = $2::bigint AND f.user_id = u.id AND f.confirmed) FROM users u WHERE u.id = $1::bigint",
	/*
	 *	One statement, each SET expression over the old row, the row
	 *	locked (racing failures count one after the other).  $2 max
	 *	failures, $3 first lock, $4 longest lock; the lock ends by the
	 *	database's clock.  An existing lock is kept as it is.
	 */
	[STMT_RECORD_FAILURE]	= "UPDATE users SET "
				  "fail_count = CASE WHEN fail_count + 1 >= $2::integer THEN 0 ELSE fail_count + 1 END, "
				  "lock_count = CASE WHEN fail_count + 1 >= $2::integer THEN lock_count + 1 ELSE lock_count END, "
				  "locked_until = CASE WHEN fail_count + 1 >= $2::integer "
				  "THEN " DB_NOW " + LEAST($3::bigint << LEAST(lock_count, 20), $4::bigint) ELSE locked_until END "
				  "WHERE id = $1::bigint RETURNING CASE WHEN locked_until > " DB_NOW " THEN locked_until ELSE 0 END",
	[STMT_RECORD_SUCCESS]	= "UPDATE users SET fail_count = 0, lock_count = 0, locked_until = 0 "
				  "WHERE id = $1::bigint AND (fail_count > 0 OR lock_count > 0 OR locked_until > 0)",
	/* First-factor failures: as SQLite's; $2 free failures, $3 first wait, $4 longest wait. */
	[STMT_PASSWORD_FAILURE]	= "UPDATE users SET password_failures = password_failures + 1, "
				  "password_next_try = CASE WHEN password_failures + 1 > $2::integer "
				  "THEN " DB_NOW " + LEAST($3::bigint << LEAST(password_failures - $2::integer, 20), $4::bigint) "
				  "ELSE 0 END WHERE id = $1::bigint RETURNING password_next_try",
	[STMT_PASSWORD_SUCCESS]	= "UPDATE users SET password_failures = 0, password_next_try = 0 "
				  "WHERE id = $1::bigint AND (password_failures > 0 OR password_next_try > 0)",
	[STMT_UNLOCK]		= "UPDATE users SET fail_count = 0, lock_count = 0, locked_until = 0, "
				  "password_failures = 0, password_next_try = 0 WHERE name = $1::text",
	[STMT_SET_EXEMPT]	= "UPDATE users SET exempt = $2::boolean WHERE name = $1::text",
	[STMT_RESET_USER]	= "UPDATE users SET fail_count = 0, lock_count = 0, locked_until = 0, "
				  "password_failures = 0, password_next_try = 0 WHERE id = $1::bigint",
	[STMT_BACKUP_COUNT]	= "SELECT count(*) FROM backup_codes WHERE user_id = $1::bigint AND used_at IS NULL",
	[STMT_BACKUP_CLEAR]	= "DELETE FROM backup_codes WHERE user_id = $1::bigint",
	[STMT_BACKUP_ADD]	= "INSERT INTO backup_codes (user_id, salt, hash, created) "
				  "VALUES ($1::bigint, $2::bytea, $3::bytea, " DB_NOW ")",
	[STMT_BACKUP_UNUSED]	= "SELECT id, salt, hash FROM backup_codes WHERE user_id = $1::bigint AND used_at IS NULL ORDER BY id",
	/*
	 *	The consume-once of a backup code: of two logins with the same
	 *	code, the second waits for the first's row lock, then finds
	 *	used_at set.  No lock (database clock).  The count left is the
	 *	statement's snapshot, taken before its own change.  $1 code id,
	 *	$2 user id, $3 now (used_at), $4..$10 the login.
	 */
	[STMT_BACKUP_USE]	= "WITH c AS (UPDATE backup_codes SET used_at = $3::bigint WHERE id = $1::bigint "
				  "AND user_id = $2::bigint AND used_at IS NULL "
				  "AND (SELECT locked_until FROM users WHERE id = $2::bigint) <= " DB_NOW " RETURNING id), "
				  "l AS (INSERT INTO logins (" LOGIN_COLUMNS ") SELECT " LOGIN_VALUES(4, 5, 6, 7, 8, 9, 10)
				  " FROM c WHERE $4::bigint IS NOT NULL) "
				  "SELECT count(*), (SELECT count(*) FROM backup_codes WHERE user_id = $2::bigint "
				  "AND used_at IS NULL) - count(*) FROM c",
	[STMT_BACKUP_WHY_NOT]	= "SELECT locked_until > " DB_NOW " FROM users WHERE id = $1::bigint",
	[STMT_AUDIT]		= "INSERT INTO audit (at, actor, action, \"user\", detail) "
				  "VALUES (" DB_NOW ", $1::text, $2::text, $3::text, $4::text)",
	[STMT_LOG_LOGIN]	= "INSERT INTO logins (" LOGIN_COLUMNS ") VALUES (" LOGIN_VALUES(1, 2, 3, 4, 5, 6, 7) ")",
	/* As SQLite's: only the $2 oldest rows are looked at; those older than $1 go. */
	[STMT_PRUNE_LOGINS]	= "DELETE FROM logins WHERE id IN (SELECT id FROM logins ORDER BY id LIMIT $2::integer) "
				  "AND at < $1::bigint",
	[STMT_LIST_LOGINS]	= "SELECT id, at, \"user\", nas, calling_station_id, method, result, reason FROM logins "
				  "WHERE ($1::text IS NULL OR lower(\"user\" COLLATE \"C\") = lower($1::text COLLATE \"C\")) "
				  "AND at >= $2::bigint ORDER BY id",
	[STMT_LAST_ACCEPTS]	= "SELECT \"user\", max(at) FROM logins WHERE result = 'accept' AND \"user\" IS NOT NULL "
				  "GROUP BY \"user\"",
	/* twofa-admin migrate. */
	[STMT_DUMP_CODES]	= "SELECT id, user_id, salt, hash, created, coalesce(used_at, 0) FROM backup_codes ORDER BY id",
	[STMT_DUMP_AUDIT]	= "SELECT id, at, actor, action, \"user\", detail FROM audit ORDER BY id",
	[STMT_LOAD_EMPTY]	= "SELECT EXISTS (SELECT 1 FROM users) OR EXISTS (SELECT 1 FROM logins)",
	[STMT_LOAD_USER]	= "INSERT INTO users (id, name, password_hash, created, fail_count, lock_count, locked_until, "
				  "password_failures, password_next_try, exempt, preferred, reply) VALUES ($1::bigint, $2::text, "
				  "$3::text, $4::bigint, $5::integer, $6::integer, $7::bigint, $8::integer, $9::bigint, "
				  "$10::boolean, $11::text, $12::text)",
	[STMT_LOAD_FACTOR]	= "INSERT INTO factors (id, user_id, kind, confirmed, secret, hash, digits, period, address, "
				  "last_step, created) VALUES ($1::bigint, $2::bigint, $3::text, $4::boolean, $5::bytea, "
				  "$6::text, $7::integer, $8::integer, $9::text, $10::bigint, $11::bigint)",
	[STMT_LOAD_CODE]	= "INSERT INTO backup_codes (id, user_id, salt, hash, created, used_at) VALUES ($1::bigint, "
				  "$2::bigint, $3::bytea, $4::bytea, $5::bigint, NULLIF($6::bigint, 0))",
	/* Audit rows get ids of this store (init wrote one already), in the source's order. */
	[STMT_LOAD_AUDIT]	= "INSERT INTO audit (at, actor, action, \"user\", detail) "
				  "VALUES ($1::bigint, $2::text, $3::text, $4::text, $5::text)",
	[STMT_LOAD_LOGIN]	= "INSERT INTO logins (id, " LOGIN_COLUMNS ") VALUES ($1::bigint, "
				  LOGIN_VALUES(2, 3, 4, 5, 6, 7, 8) ")",
	[STMT_USER_ID]		= "SELECT id FROM users WHERE name = $1::text",
	/* Of racing callers with one nonce, the second waits for the first's key, then inserts nothing. */
	[STMT_STATE_USE]	= "INSERT INTO used_states (expires, nonce) VALUES ($1::bigint, $2::bytea) "
				  "ON CONFLICT DO NOTHING",
	/* The front of the index: the $2 oldest at most, those past $1; rows another prune holds are skipped. */
	[STMT_STATE_PRUNE]	= "DELETE FROM used_states WHERE (expires, nonce) IN (SELECT expires, nonce FROM used_states "
				  "WHERE expires < $1::bigint ORDER BY expires LIMIT $2::integer FOR UPDATE SKIP LOCKED)",
	/* $1 user, $2 factor, $3 salt, $4 hash, $5 expires: only for the user's confirmed factor. */
	[STMT_OOB_SET]		= "INSERT INTO oob_codes (factor_id, user_id, salt, hash, expires, used_at) "
				  "SELECT id, user_id, $3::bytea, $4::bytea, $5::bigint, NULL FROM factors "
				  "WHERE id = $2::bigint AND user_id = $1::bigint AND confirmed "
				  "ON CONFLICT (factor_id) DO UPDATE SET user_id = EXCLUDED.user_id, salt = EXCLUDED.salt, "
				  "hash = EXCLUDED.hash, expires = EXCLUDED.expires, used_at = NULL",
	[STMT_OOB_FIND]		= "SELECT salt, hash FROM oob_codes WHERE factor_id = $2::bigint AND user_id = $1::bigint",
	/*
	 *	The consume-once, for a code whose hash matched (the salt names
	 *	that code: a newer one has another).  Of racing logins the
	 *	second waits for the first's row lock, then finds used_at set.
	 *	Expiry by the caller's clock ($3, as it set it), the lock by the
	 *	database's.  $1 user, $2 factor, $3 now, $4 salt, $5..$11 the login.
	 */
	[STMT_OOB_USE]		= "WITH c AS (UPDATE oob_codes SET used_at = $3::bigint WHERE factor_id = $2::bigint "
				  "AND user_id = $1::bigint AND salt = $4::bytea AND used_at IS NULL AND expires > $3::bigint "
				  "AND EXISTS (SELECT 1 FROM factors WHERE id = $2::bigint AND user_id = $1::bigint AND confirmed) "
				  "AND (SELECT locked_until FROM users WHERE id = $1::bigint) <= " DB_NOW " RETURNING factor_id), "
				  "l AS (INSERT INTO logins (" LOGIN_COLUMNS ") SELECT " LOGIN_VALUES(5, 6, 7, 8, 9, 10, 11)
				  " FROM c WHERE $5::bigint IS NOT NULL) "
				  "SELECT count(*) FROM c",
	/* Only when the above changed nothing: locked, factor there, used, expired.  No row: user deleted. */
	[STMT_OOB_WHY_NOT]	= "SELECT u.locked_until > " DB_NOW ", "
				  "EXISTS (SELECT 1 FROM factors f WHERE f.id = $2::bigint AND f.user_id = u.id AND f.confirmed), "
				  "(SELECT o.used_at IS NOT NULL FROM oob_codes o WHERE o.factor_id = $2::bigint AND o.salt = $4::bytea), "
				  "(SELECT o.expires <= $3::bigint FROM oob_codes o WHERE o.factor_id = $2::bigint "
				  "AND o.salt = $4::bytea) FROM users u WHERE u.id = $1::bigint",
	/*
	 *	The send limits: this user's and this NAS's sends are counted
	 *	one transaction at a time (held to its end: the count below then
	 *	sees the previous holder's row).  Always the user's first, so
	 *	two transactions never wait on each other in a circle.
	 */
	[STMT_SEND_LOCK]	= "SELECT pg_advisory_xact_lock(" STRINGIFY(SEND_LOCK_USER) ", ($1::bigint % 2147483647)::integer), "
				  "pg_advisory_xact_lock(" STRINGIFY(SEND_LOCK_NAS) ", hashtext($2::text))",
	/* Counted only if both counts of the last hour are under their limits (0: none).
	 * $1 user, $2 nas, $3 now, $4 per user, $5 per NAS, $6 window. */
	[STMT_SEND_ALLOW]	= "INSERT INTO sends (user_id, nas, at) SELECT $1::bigint, $2::text, $3::bigint "
				  "WHERE ($4::bigint = 0 OR (SELECT count(*) FROM sends WHERE user_id = $1::bigint "
				  "AND at > $3::bigint - $6::bigint) < $4::bigint) "
				  "AND ($5::bigint = 0 OR (SELECT count(*) FROM sends WHERE nas = $2::text "
				  "AND at > $3::bigint - $6::bigint) < $5::bigint)",
	/* As the login log's prune: the $2 oldest rows looked at, those before $1 go. */
	[STMT_PRUNE_SENDS]	= "DELETE FROM sends WHERE id IN (SELECT id FROM sends ORDER BY id LIMIT $2::integer "
				  "FOR UPDATE SKIP LOCKED) AND at <= $1::bigint",
	[STMT_SET_PREFERRED]	= "UPDATE users SET preferred = $2::text WHERE name = $1::text",
	[STMT_SET_REPLY]	= "UPDATE users SET reply = $2::text WHERE name = $1::text",
	[STMT_DEVICE_EXPIRE]	= "DELETE FROM devices WHERE user_id = $1::bigint AND expires <= $2::bigint",
	/* A device remembered again keeps its id and first date; $1 user, $2 hash, $3 now, $4 expiry, $5 NAS. */
	[STMT_DEVICE_REMEMBER]	= "INSERT INTO devices (user_id, hash, created, last_used, expires, nas) "
				  "VALUES ($1::bigint, $2::bytea, $3::bigint, $3::bigint, $4::bigint, $5::text) "
				  "ON CONFLICT (user_id, hash) DO UPDATE SET last_used = EXCLUDED.last_used, "
				  "expires = EXCLUDED.expires, nas = EXCLUDED.nas",
	[STMT_DEVICE_KNOWN]	= "SELECT 1 FROM devices WHERE user_id = $1::bigint AND hash = $2::bytea AND expires > $3::bigint",
	[STMT_DEVICE_LIST]	= "SELECT id, created, last_used, expires, nas FROM devices WHERE user_id = $1::bigint "
				  "AND expires > $2::bigint ORDER BY id",
	/* $2 = 0: every device of the user. */
	[STMT_DEVICE_FORGET]	= "DELETE FROM devices WHERE user_id = $1::bigint AND ($2::bigint = 0 OR id = $2::bigint)",
	[STMT_DUMP_DEVICES]	= "SELECT id, user_id, hash, created, last_used, expires, nas FROM devices ORDER BY id",
	[STMT_LOAD_DEVICE]	= "INSERT INTO devices (id, user_id, hash, created, last_used, expires, nas) VALUES "
				  "($1::bigint, $2::bigint, $3::bytea, $4::bigint, $5::bigint, $6::bigint, $7::text)",
};

/* After a load with ids: every identity goes on after the largest id. */
static char const load_sequences[] =
	"SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT coalesce(max(id), 0) + 1 FROM users), false), "
	"setval(pg_get_serial_sequence('factors', 'id'), (SELECT coalesce(max(id), 0) + 1 FROM factors), false), "
	"setval(pg_get_serial_sequence('backup_codes', 'id'), (SELECT coalesce(max(id), 0) + 1 FROM backup_codes), false), "
	"setval(pg_get_serial_sequence('logins', 'id'), (SELECT coalesce(max(id), 0) + 1 FROM logins), false), "
	"setval(pg_get_serial_sequence('devices', 'id'), (SELECT coalesce(max(id), 0) + 1 FROM devices), false)";

typedef struct pg_store pg_store_t;

/** One connection of the pool. */
typedef struct conn {
	PGconn		*pg;
	pg_store_t	*store;
	bool		prepared[STMT_COUNT];
	bool		broken;		//!< lost, or an answer never came: closed at release
	struct conn	*next;		//!< in the idle list
} conn_t;

struct pg_store {
	twofa_store_t	handle;		//!< first: what store.c sees (store_backend.h)
	char		*url;		//!< "postgresql://...", as libpq takes it
	char		*password_file;	//!< NULL: libpq's own
	bool		home_cert;	//!< the URL names no sslcert (see conn_connect)
	unsigned int	connect_timeout;
	unsigned int	timeout_ms;	//!< statement_timeout
	unsigned int	pool_size;
	unsigned int	login_keep_days;
	void		(*warn)(void *ctx, char const *message);
	void		*warn_ctx;

	pthread_mutex_t	lock;		//!< guards everything below
	pthread_cond_t	freed;		//!< a connection came back, or a slot is free
	conn_t		*idle;
	unsigned int	open;		//!< connections open or being opened
	int64_t		last_failure;	//!< monotonic ms of a failed connect or an unanswered call:
					//!< connects fail at once for RETRY_MS after it
	bool		down;		//!< the last connect failed: the next that works says so
	int		schema_version;
	char		errmsg[320];	//!< why the last connect failed

	twofa_combiner_t combiner;	//!< the login path's calls, pipelined (login_call)

	unsigned int	logins;		//!< counts logged logins, for the prune (atomic)
	unsigned int	state_uses;	//!< counts recorded States, for their prune (atomic)
	unsigned int	sends;		//!< counts sends, for their prune (atomic)
};

#define PG_STORE(_h)	pg_store_t *store = (pg_store_t *) (_h)

/* The calling thread's last failure, and the rcode of its last failed acquire. */
static __thread char		thread_errmsg[TWOFA_CALL_ERRMSG];
static __thread twofa_rcode_t	thread_acquire_rc;

/* The store whose bulk transaction the calling thread holds (begin), and its connection. */
static __thread pg_store_t	*txn_store;
static __thread conn_t		*txn_conn;

static void warn(pg_store_t *store, char const *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(pg_store_t *store, char const *fmt, ...)
{
	char	msg[400];
	va_list	ap;

	if (!store->warn) return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	store->warn(store->warn_ctx, msg);
}

/* libpq's message, on one line (it ends them with newlines). */
static void set_errmsg(char const *what, char const *detail)
{
	size_t n;

	snprintf(thread_errmsg, sizeof(thread_errmsg), "%s: %s", what, detail && *detail ? detail : "no detail");
	for (n = strlen(thread_errmsg); n && ((thread_errmsg[n - 1] == '\n') || (thread_errmsg[n - 1] == ' ')); n--) {
		thread_errmsg[n - 1] = '\0';
	}
	for (n = 0; thread_errmsg[n]; n++) if (thread_errmsg[n] == '\n') thread_errmsg[n] = ' ';
}

/*
 *	Parameters: text, except bytea (binary).  Strings of the login log
 *	are cut to TWOFA_LOGIN_FIELD_MAX bytes and made valid UTF-8 (the
 *	database refuses anything else, and a login's row must never make
 *	its consume fail): a byte that starts no valid sequence becomes '?'.
 */
#define MAX_PARAMS	16

typedef struct {
	int		n;
	char const	*values[MAX_PARAMS];
	int		lengths[MAX_PARAMS];
	int		formats[MAX_PARAMS];
	char		ints[MAX_PARAMS][24];
	char		fields[7][TWOFA_LOGIN_FIELD_MAX + 1];
	int		num_fields;
} params_t;

static void p_int(params_t *p, int64_t v)
{
	snprintf(p->ints[p->n], sizeof(p->ints[0]), "%" PRId64, v);
	p->values[p->n] = p->ints[p->n];
	p->n++;
}

static void p_text(params_t *p, char const *s)
{
	p->values[p->n++] = s;
}

static void p_bool(params_t *p, bool b)
{
	p->values[p->n++] = b ? "true" : "false";
}

static void p_blob(params_t *p, void const *data, size_t len)
{
	p->values[p->n] = data;
	p->lengths[p->n] = (int) len;
	p->formats[p->n++] = 1;
}

/* The length of the valid UTF-8 sequence at s (at most len bytes), 0 if none. */
static size_t utf8_len(unsigned char const *s, size_t len)
{
	size_t	n, i;
	unsigned int cp;

	if (s[0] < 0x80) return s[0] ? 1 : 0;
	if ((s[0] & 0xe0) == 0xc0) n = 2, cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0) n = 3, cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0) n = 4, cp = s[0] & 0x07;
	else return 0;
	if (n > len) return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80) return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp > 0x10ffff) || ((cp >= 0xd800) && (cp <= 0xdfff))) return 0;
	return n;
}

static void p_field(params_t *p, char const *s)
{
	char			*out;
	unsigned char const	*in = (unsigned char const *) s;
	size_t			len, i = 0, o = 0, n;

	if (!s) {
		p_text(p, NULL);
		return;
	}
	out = p->fields[p->num_fields++];
	len = strnlen(s, TWOFA_LOGIN_FIELD_MAX);
	while (i < len) {
		n = utf8_len(in + i, len - i);
		if (!n) {
			out[o++] = '?';
			i++;
			continue;
		}
		memcpy(out + o, in + i, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
	p_text(p, out);
}

/* A login's seven columns; a NULL login: seven NULLs (the consume writes no row). */
static void p_login(params_t *p, twofa_login_t const *l)
{
	if (!l) {
		int i;

		for (i = 0; i < 7; i++) p_text(p, NULL);
		return;
	}
	p_int(p, l->at);
	p_field(p, l->user);
	p_field(p, l->nas);
	p_field(p, l->calling_station_id);
	p_field(p, l->method ? l->method : "none");
	p_field(p, l->result ? l->result : "reject");
	p_field(p, l->reason ? l->reason : "unknown");
}

/*
 *	Results.
 */
/* An integer column, or a boolean one as 1 or 0 (text form: 't', 'f'). */
static int64_t col_int(PGresult const *r, int row, int col)
{
	char const *v;

	if (PQgetisnull(r, row, col)) return 0;
	v = PQgetvalue(r, row, col);
	if ((v[0] == 't') || (v[0] == 'f')) return v[0] == 't';
	return strtoll(v, NULL, 10);
}

static bool col_bool(PGresult const *r, int row, int col)
{
	return !PQgetisnull(r, row, col) && (PQgetvalue(r, row, col)[0] == 't');
}

static char *col_str(TALLOC_CTX *ctx, PGresult const *r, int row, int col)
{
	if (PQgetisnull(r, row, col)) return NULL;
	return talloc_strdup(ctx, PQgetvalue(r, row, col));
}

/* A bytea column (text form, hex) as bytes under ctx; NULL if NULL or out of memory. */
static uint8_t *col_blob(TALLOC_CTX *ctx, PGresult const *r, int row, int col, size_t *len)
{
	unsigned char	*raw;
	uint8_t		*out;

	*len = 0;
	if (PQgetisnull(r, row, col)) return NULL;
	raw = PQunescapeBytea((unsigned char const *) PQgetvalue(r, row, col), len);
	if (!raw) return NULL;
	out = talloc_memdup(ctx, raw, *len ? *len : 1);
	PQfreemem(raw);
	return out;
}

/*
 *	Talking to the server, within a deadline.
 */
static int64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static twofa_rcode_t conn_lost(conn_t *c, char const *what)
{
	set_errmsg(what, PQerrorMessage(c->pg));
	c->broken = true;
	return TWOFA_ERR_STORE;
}

/* SQLSTATE to an rcode: a race lost, a lock or timeout, a broken connection. */
static twofa_rcode_t rcode_from_result(conn_t *c, PGresult const *r, char const *what)
{
	char const *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

	/* The primary message only: DETAIL may quote a value (a name in a unique violation). */
	set_errmsg(what, PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY));
	if ((PQstatus(c->pg) != CONNECTION_OK) || !state || (strncmp(state, "08", 2) == 0) ||
	    (strncmp(state, "57P", 3) == 0)) {		/* 57P01 admin shutdown, ... */
		c->broken = true;
		return TWOFA_ERR_STORE;
	}
	if (strcmp(state, "23505") == 0) return TWOFA_ERR_EXISTS;		/* unique_violation */
	if ((strcmp(state, "57014") == 0) ||					/* query_canceled: statement_timeout */
	    (strcmp(state, "55P03") == 0) ||					/* lock_not_available */
	    (strcmp(state, "40001") == 0) || (strcmp(state, "40P01") == 0)) {	/* serialization, deadlock */
		return TWOFA_ERR_BUSY;
	}
	if (strncmp(state, "53", 2) == 0) return TWOFA_ERR_BUSY;		/* too many connections, ... */
	return TWOFA_ERR_STORE;
}

/* Until libpq holds a whole result, at most until deadline.  @return 1 ready, 0 no answer in time, -1 lost. */
static int wait_result(conn_t *c, int64_t deadline)
{
	while (PQisBusy(c->pg)) {
		struct pollfd	pfd = { .fd = PQsocket(c->pg), .events = POLLIN };
		int64_t		left = deadline - monotonic_ms();
		int		n;

		if (left <= 0) return 0;
		n = poll(&pfd, 1, (int) left);
		if ((n < 0) && (errno == EINTR)) continue;
		if (n == 0) return 0;
		if ((n < 0) || !PQconsumeInput(c->pg)) return -1;
	}
	return 1;
}

/*
 *	No answer in time: the connection is given up (it may answer later,
 *	out of turn), and so that the next calls do not each spend
 *	connect_timeout on a database that takes connections and never
 *	answers, the pool makes none for RETRY_MS.
 */
static twofa_rcode_t gave_up(conn_t *c, char const *what, unsigned int timeout_ms)
{
	snprintf(thread_errmsg, sizeof(thread_errmsg), "%s: no answer from the database within %u ms", what, timeout_ms);
	c->broken = true;
	pthread_mutex_lock(&c->store->lock);
	c->store->last_failure = monotonic_ms();
	snprintf(c->store->errmsg, sizeof(c->store->errmsg), "%s", thread_errmsg);
	pthread_mutex_unlock(&c->store->lock);
	return TWOFA_ERR_BUSY;
}

/* Wait for the answer to what was sent, at most timeout_ms; *out gets the result (the first error if any). */
static twofa_rcode_t conn_wait(conn_t *c, char const *what, unsigned int timeout_ms, PGresult **out)
{
	int64_t		deadline = monotonic_ms() + timeout_ms;
	PGresult	*r, *kept = NULL;
	twofa_rcode_t	rc;

	*out = NULL;
	for (;;) {
		int ready = wait_result(c, deadline);

		if (ready <= 0) {
			if (kept) PQclear(kept);
			return ready ? conn_lost(c, what) : gave_up(c, what, timeout_ms);
		}
		r = PQgetResult(c->pg);
		if (!r) break;
		if (!kept || ((PQresultStatus(kept) != PGRES_FATAL_ERROR) && (PQresultStatus(r) == PGRES_FATAL_ERROR))) {
			if (kept) PQclear(kept);
			kept = r;
		} else {
			PQclear(r);
		}
		if (PQstatus(c->pg) != CONNECTION_OK) break;
	}
	if (!kept) return conn_lost(c, what);
	switch (PQresultStatus(kept)) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
		*out = kept;
		return TWOFA_OK;
	default:
		rc = rcode_from_result(c, kept, what);
		PQclear(kept);
		return rc;
	}
}

/* SQL without parameters (BEGIN, COMMIT, the schema): the simple protocol. */
static twofa_rcode_t conn_exec_sql(conn_t *c, char const *sql, char const *what, unsigned int timeout_ms,
				   PGresult **out)
{
	PGresult	*r;
	twofa_rcode_t	rc;

	if (!PQsendQuery(c->pg, sql)) return conn_lost(c, what);
	rc = conn_wait(c, what, timeout_ms, &r);
	if (rc != TWOFA_OK) return rc;
	if (out) *out = r;
	else PQclear(r);
	return TWOFA_OK;
}

static twofa_rcode_t conn_plain(conn_t *c, char const *sql)
{
	return conn_exec_sql(c, sql, sql, c->store->timeout_ms, NULL);
}

/* Prepare the statement on c if it is not yet (before a pipeline, outside it). */
static twofa_rcode_t stmt_prepare(conn_t *c, stmt_t which, char const *what)
{
	char		name[16];
	PGresult	*r;
	twofa_rcode_t	rc;

	if (c->prepared[which]) return TWOFA_OK;
	snprintf(name, sizeof(name), "twofa_%d", (int) which);
	if (!PQsendPrepare(c->pg, name, statements[which], 0, NULL)) return conn_lost(c, what);
	if ((rc = conn_wait(c, what, c->store->timeout_ms, &r)) != TWOFA_OK) return rc;
	PQclear(r);
	c->prepared[which] = true;
	return TWOFA_OK;
}

/*
 *	Run a prepared statement (prepared on this connection the first time);
 *	*out (may be NULL) gets its rows, *changes (may be NULL) the rows it
 *	changed.
 */
static twofa_rcode_t stmt_run(conn_t *c, stmt_t which, params_t const *p, char const *what, PGresult **out,
			      int *changes)
{
	char		name[16];
	PGresult	*r;
	twofa_rcode_t	rc;

	if ((rc = stmt_prepare(c, which, what)) != TWOFA_OK) return rc;
	snprintf(name, sizeof(name), "twofa_%d", (int) which);
	if (!PQsendQueryPrepared(c->pg, name, p ? p->n : 0, p ? p->values : NULL, p ? p->lengths : NULL,
				 p ? p->formats : NULL, 0)) return conn_lost(c, what);
	rc = conn_wait(c, what, c->store->timeout_ms, &r);
	if (rc != TWOFA_OK) return rc;
	if (changes) *changes = atoi(PQcmdTuples(r));
	if (out) *out = r;
	else PQclear(r);
	return TWOFA_OK;
}

/* A statement returning one row of one integer; NOT_FOUND if no row. */
static twofa_rcode_t stmt_int(conn_t *c, stmt_t which, params_t const *p, char const *what, int64_t *value)
{
	PGresult	*r;
	twofa_rcode_t	rc = stmt_run(c, which, p, what, &r, NULL);

	if (rc != TWOFA_OK) return rc;
	if (PQntuples(r) < 1) rc = TWOFA_ERR_NOT_FOUND;
	else *value = col_int(r, 0, 0);
	PQclear(r);
	return rc;
}

static bool store_failed(twofa_rcode_t rc)
{
	return (rc == TWOFA_ERR_STORE) || (rc == TWOFA_ERR_BUSY) || (rc == TWOFA_ERR_NO_MEMORY);
}

/*
 *	A transaction around fn, unless the thread's bulk transaction is
 *	open already (then fn runs in it).  Committed if fn says TWOFA_OK,
 *	or, with keep, any answer but a store failure (a consume's: the
 *	State it recorded first stays spent whatever the code was); else
 *	rolled back.
 */
static twofa_rcode_t transaction_run(conn_t *c, twofa_rcode_t (*fn)(conn_t *c, void *arg), void *arg, bool keep)
{
	bool		own = (PQtransactionStatus(c->pg) == PQTRANS_IDLE);
	twofa_rcode_t	rc, end;

	if (own && ((rc = conn_plain(c, "BEGIN")) != TWOFA_OK)) return rc;
	rc = fn(c, arg);
	if (!own) return rc;
	if ((rc == TWOFA_OK) ||
	    (keep && !store_failed(rc) && (PQtransactionStatus(c->pg) == PQTRANS_INTRANS))) {
		end = conn_plain(c, "COMMIT");
		if (end != TWOFA_OK) rc = end;
	}
	if (!c->broken && (PQtransactionStatus(c->pg) != PQTRANS_IDLE)) conn_plain(c, "ROLLBACK");
	return rc;
}

static twofa_rcode_t in_transaction(conn_t *c, twofa_rcode_t (*fn)(conn_t *c, void *arg), void *arg)
{
	return transaction_run(c, fn, arg, false);
}

/*
 *	Connections.
 */
/* The password file's first line into buf; refused if group or others may read it. */
static twofa_rcode_t read_password(char const *path, char *buf, size_t len)
{
	struct stat	st;
	ssize_t		n;
	int		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0) {
		snprintf(thread_errmsg, sizeof(thread_errmsg), "password_file %s: %s", path, strerror(errno));
		return TWOFA_ERR_STORE;
	}
	if ((fstat(fd, &st) < 0) || !S_ISREG(st.st_mode) || (st.st_mode & 077)) {
		snprintf(thread_errmsg, sizeof(thread_errmsg), "password_file %s: group or others may access it "
			 "(mode %04o), it must be mode 0600", path, (unsigned int) (st.st_mode & 07777));
		close(fd);
		return TWOFA_ERR_STORE;
	}
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0) {
		snprintf(thread_errmsg, sizeof(thread_errmsg), "password_file %s: empty or unreadable", path);
		return TWOFA_ERR_STORE;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return TWOFA_OK;
}

/* The schema's version: 0 if there is none yet. */
static twofa_rcode_t read_version(conn_t *c, unsigned int timeout_ms, int *version)
{
	PGresult	*r;
	twofa_rcode_t	rc;

	bool		exists;

	/*
	 *	Two queries: one naming a table that is not there fails whatever
	 *	its CASE says.  pg_tables is read with the statement's snapshot,
	 *	so under the lock it sees another server's committed migration.
	 */
	rc = conn_exec_sql(c, "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = current_schema() "
			   "AND tablename = 'schema_version')", "schema version", timeout_ms, &r);
	if (rc != TWOFA_OK) return rc;
	exists = col_bool(r, 0, 0);
	PQclear(r);
	*version = 0;
	if (!exists) return TWOFA_OK;
	rc = conn_exec_sql(c, "SELECT max(version) FROM schema_version", "schema version", timeout_ms, &r);
	if (rc != TWOFA_OK) return rc;
	*version = (int) col_int(r, 0, 0);
	PQclear(r);
	return TWOFA_OK;
}

/* Bring the schema to SCHEMA_VERSION: in one transaction, under the advisory lock. */
static twofa_rcode_t migrate_locked(conn_t *c, bool create, int *version)
{
	int		v;
	size_t		i;
	char		sql[96];
	twofa_rcode_t	rc;

	/* Another server's migration may take longer than a call: wait for it up to MIGRATION_WAIT_MS. */
	rc = conn_exec_sql(c, "SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = 0", "migrate",
			   MIGRATION_WAIT_MS, NULL);
	if (rc != TWOFA_OK) return rc;
	rc = conn_exec_sql(c, "SELECT pg_advisory_xact_lock(x'" MIGRATION_LOCK "'::bigint)", "migration lock",
			   MIGRATION_WAIT_MS, NULL);
	if (rc != TWOFA_OK) return rc;
	if ((rc = read_version(c, MIGRATION_WAIT_MS, &v)) != TWOFA_OK) return rc;	/* again, under the lock */
	if (v == 0) {
		if (!create) {
			snprintf(thread_errmsg, sizeof(thread_errmsg), "the database holds no rlm_twofa store "
				 "(twofa-admin init makes one)");
			return TWOFA_ERR_NOT_FOUND;
		}
		rc = conn_exec_sql(c, base_schema, "create schema", MIGRATION_WAIT_MS, NULL);
		if (rc != TWOFA_OK) return rc;
		snprintf(sql, sizeof(sql), "CREATE TABLE schema_version (version integer NOT NULL); "
			 "INSERT INTO schema_version VALUES (%d)", BASE_VERSION);
		if ((rc = conn_exec_sql(c, sql, "create schema", MIGRATION_WAIT_MS, NULL)) != TWOFA_OK) return rc;
		v = BASE_VERSION;
	}
	for (i = 0; migrations[i].sql; i++) {
		if (migrations[i].version <= v) continue;
		rc = conn_exec_sql(c, migrations[i].sql, "migrate", MIGRATION_WAIT_MS, NULL);
		if (rc != TWOFA_OK) return rc;
		snprintf(sql, sizeof(sql), "UPDATE schema_version SET version = %d", migrations[i].version);
		if ((rc = conn_exec_sql(c, sql, "migrate", MIGRATION_WAIT_MS, NULL)) != TWOFA_OK) return rc;
		v = migrations[i].version;
	}
	*version = v;
	return TWOFA_OK;
}

/* Migrations, if the schema needs any.  One that is up to date is only read. */
static twofa_rcode_t migrate(conn_t *c, bool create, int *version)
{
	int		v;
	twofa_rcode_t	rc;

	if ((rc = read_version(c, c->store->timeout_ms, &v)) != TWOFA_OK) return rc;
	if (v > SCHEMA_VERSION) {
		snprintf(thread_errmsg, sizeof(thread_errmsg), "schema version %d is newer than this build (%d)",
			 v, SCHEMA_VERSION);
		return TWOFA_ERR_STORE;
	}
	if (v == SCHEMA_VERSION) {
		*version = v;
		return TWOFA_OK;
	}
	if ((rc = conn_plain(c, "BEGIN")) != TWOFA_OK) return rc;
	rc = migrate_locked(c, create, version);
	if (rc == TWOFA_OK) rc = conn_plain(c, "COMMIT");
	if ((rc != TWOFA_OK) && !c->broken) conn_plain(c, "ROLLBACK");
	if ((rc == TWOFA_OK) && (*version > SCHEMA_VERSION)) rc = TWOFA_ERR_STORE;
	return rc;
}

/* A server clock far from the database's: say so once per connection. */
static void check_clock(conn_t *c)
{
	PGresult	*r;
	int64_t		skew;

	if (conn_exec_sql(c, "SELECT " DB_NOW, "clock", c->store->timeout_ms, &r) != TWOFA_OK) return;
	skew = (int64_t) time(NULL) - col_int(r, 0, 0);
	PQclear(r);
	if ((skew > CLOCK_SKEW_WARN) || (skew < -CLOCK_SKEW_WARN)) {
		warn(c->store, "this server's clock is %" PRId64 " s %s the database's: TOTP codes are checked "
		     "by this server's clock, locks by the database's", skew < 0 ? -skew : skew,
		     skew < 0 ? "behind" : "ahead of");
	}
}

static void conn_close(conn_t *c)
{
	if (c->pg) PQfinish(c->pg);
	free(c);
}

/* Connect, check the schema (migrate with create or an older one), and the clock. */
static twofa_rcode_t conn_connect(pg_store_t *store, bool create, conn_t **out)
{
	char		password[PASSWORD_MAX], timeout[16], options[64];
	char const	*keys[10], *values[10];
	int		n = 0;
	conn_t		*c;
	twofa_rcode_t	rc;

	*out = NULL;
	if (!(c = calloc(1, sizeof(*c)))) return TWOFA_ERR_NO_MEMORY;
	c->store = store;

	snprintf(timeout, sizeof(timeout), "%u", store->connect_timeout);
	snprintf(options, sizeof(options), "-c statement_timeout=%u -c lock_timeout=%u", store->timeout_ms,
		 store->timeout_ms);
	keys[n] = "dbname";		values[n++] = store->url;	/* first: what follows overrides it */
	keys[n] = "connect_timeout";	values[n++] = timeout;
	keys[n] = "options";		values[n++] = options;
	keys[n] = "application_name";	values[n++] = "rlm_twofa";
	keys[n] = "client_encoding";	values[n++] = "UTF8";
	/*
	 *	No sslcert in the URL: none at all, rather than libpq's default
	 *	$HOME/.postgresql/postgresql.crt.  radiusd keeps root's HOME
	 *	when it becomes freerad, and libpq refuses to connect when it
	 *	may not look into that home; a path under a file is "not there"
	 *	to it (ENOTDIR), so it goes on without a client certificate.
	 */
	if (store->home_cert) {
		keys[n] = "sslcert";	values[n++] = "/dev/null/no-client-certificate";
	}
	if (store->password_file) {
		if ((rc = read_password(store->password_file, password, sizeof(password))) != TWOFA_OK) {
			free(c);
			return rc;
		}
		keys[n] = "password";	values[n++] = password;
	}
	keys[n] = NULL;			values[n] = NULL;

	c->pg = PQconnectdbParams(keys, values, 1);
	OPENSSL_cleanse(password, sizeof(password));
	if (!c->pg) {
		free(c);
		return TWOFA_ERR_NO_MEMORY;
	}
	if (PQstatus(c->pg) != CONNECTION_OK) {
		set_errmsg("connect", PQerrorMessage(c->pg));
		conn_close(c);
		return TWOFA_ERR_STORE;
	}
	rc = migrate(c, create, &store->schema_version);
	if (rc != TWOFA_OK) {
		conn_close(c);
		return rc;
	}
	check_clock(c);
	*out = c;
	return TWOFA_OK;
}

/* An idle connection the server has closed meanwhile (a restart): noticed without waiting. */
static bool conn_usable(conn_t *c)
{
	if (c->broken || (PQstatus(c->pg) != CONNECTION_OK)) return false;
	if (!PQconsumeInput(c->pg)) return false;
	return (PQstatus(c->pg) == CONNECTION_OK) && (PQtransactionStatus(c->pg) == PQTRANS_IDLE);
}

static void deadline_after(struct timespec *ts, unsigned int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long) (ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

/* Open a new connection for the pool's slot already counted in store->open. */
static conn_t *conn_new(pg_store_t *store)
{
	conn_t		*c;
	twofa_rcode_t	rc;
	int64_t		now = monotonic_ms();

	pthread_mutex_lock(&store->lock);
	if (store->last_failure && (now - store->last_failure < RETRY_MS)) {	/* down a moment ago: fail at once */
		snprintf(thread_errmsg, sizeof(thread_errmsg), "%s", store->errmsg);
		store->open--;
		pthread_cond_signal(&store->freed);
		pthread_mutex_unlock(&store->lock);
		thread_acquire_rc = TWOFA_ERR_STORE;
		return NULL;
	}
	pthread_mutex_unlock(&store->lock);

	rc = conn_connect(store, false, &c);

	pthread_mutex_lock(&store->lock);
	if (rc != TWOFA_OK) {
		store->open--;
		store->last_failure = monotonic_ms();
		snprintf(store->errmsg, sizeof(store->errmsg), "%s", thread_errmsg);
		if (!store->down) warn(store, "database unreachable: %s", thread_errmsg);
		store->down = true;
		pthread_cond_signal(&store->freed);
		pthread_mutex_unlock(&store->lock);
		thread_acquire_rc = (rc == TWOFA_ERR_BUSY) ? TWOFA_ERR_BUSY : TWOFA_ERR_STORE;
		return NULL;
	}
	if (store->down) warn(store, "database reachable again");
	store->down = false;
	pthread_mutex_unlock(&store->lock);
	return c;
}

/*
 *	Take a connection: an idle one, else a new one while the pool has
 *	room, else wait (at most statement_timeout) for one to come back.
 */
static conn_t *conn_acquire(pg_store_t *store)
{
	struct timespec	deadline;
	conn_t		*c;

	thread_errmsg[0] = '\0';
	if (txn_store == store) return txn_conn;		/* held since begin */
	deadline_after(&deadline, store->timeout_ms);

	pthread_mutex_lock(&store->lock);
	for (;;) {
		while ((c = store->idle)) {
			store->idle = c->next;
			c->next = NULL;
			if (conn_usable(c)) {
				pthread_mutex_unlock(&store->lock);
				return c;
			}
			conn_close(c);
			store->open--;
		}
		if (store->open < store->pool_size) {
			store->open++;
			pthread_mutex_unlock(&store->lock);
			return conn_new(store);
		}
		if (pthread_cond_timedwait(&store->freed, &store->lock, &deadline) == ETIMEDOUT) break;
	}
	pthread_mutex_unlock(&store->lock);
	snprintf(thread_errmsg, sizeof(thread_errmsg), "all %u connections busy for %u ms", store->pool_size,
		 store->timeout_ms);
	thread_acquire_rc = TWOFA_ERR_BUSY;
	return NULL;
}

/* Cleanup handler: give the connection back (closed if broken), unless a bulk transaction holds it. */
static void conn_release(conn_t **cp)
{
	conn_t		*c = *cp;
	pg_store_t	*store;

	if (!c || (c == txn_conn)) return;
	store = c->store;
	/* A transaction left open by a failed call is not handed to the next. */
	if (!c->broken && (PQtransactionStatus(c->pg) != PQTRANS_IDLE)) c->broken = true;
	pthread_mutex_lock(&store->lock);
	if (c->broken) {
		conn_close(c);
		store->open--;
	} else {
		c->next = store->idle;
		store->idle = c;
	}
	pthread_cond_signal(&store->freed);
	pthread_mutex_unlock(&store->lock);
	*cp = NULL;
}

#define CC_CLEANUP(_f)	__attribute__((cleanup(_f)))
#define CONN_USE(_c)	conn_t *_c CC_CLEANUP(conn_release) = NULL
#define CONN_OR_FAIL(_c, _store) \
	do { (_c) = conn_acquire(_store); if (!(_c)) return thread_acquire_rc; } while (0)

/*
 *	Open and the handle's own calls.
 */
static void login_run_batch(void *ctx, twofa_call_t *batch);

static int _store_free(pg_store_t *store)
{
	conn_t *c;

	while ((c = store->idle)) {
		store->idle = c->next;
		conn_close(c);
	}
	pthread_mutex_destroy(&store->lock);
	pthread_cond_destroy(&store->freed);
	twofa_combiner_destroy(&store->combiner);
	return 0;
}

/* The URL as libpq parses it; a password in it is refused.  Does it name an sslcert? */
static twofa_rcode_t check_url(char const *url, bool *sslcert)
{
	char			*err = NULL;
	PQconninfoOption	*opts = PQconninfoParse(url, &err), *o;
	twofa_rcode_t		rc = TWOFA_OK;

	if (!opts) {
		set_errmsg("store URL", err ? err : "not a postgresql:// URL");
		if (err) PQfreemem(err);
		return TWOFA_ERR_MALFORMED;
	}
	*sslcert = false;
	for (o = opts; o->keyword; o++) {
		if ((strcmp(o->keyword, "sslcert") == 0) && o->val && *o->val) *sslcert = true;
		if ((strcmp(o->keyword, "password") == 0) && o->val) {
			snprintf(thread_errmsg, sizeof(thread_errmsg), "store URL: a password in it would be shown "
				 "in logs and debug output: put it in postgresql { password_file } instead");
			rc = TWOFA_ERR_MALFORMED;
		}
	}
	PQconninfoFree(opts);
	return rc;
}

static twofa_rcode_t pg_open(TALLOC_CTX *ctx, char const *location, twofa_store_config_t const *config,
			     twofa_store_t **out)
{
	pg_store_t		*store;
	pthread_condattr_t	attr;
	conn_t			*c;
	bool			sslcert = false;
	twofa_rcode_t		rc;

	*out = NULL;
	thread_errmsg[0] = '\0';
	store = talloc_zero(ctx, pg_store_t);
	if (!store) return TWOFA_ERR_NO_MEMORY;
	store->handle.ops = &twofa_store_pg_ops;
	store->url = talloc_asprintf(store, "postgresql:%s", location);
	if (config->postgresql.password_file && *config->postgresql.password_file) {
		store->password_file = talloc_strdup(store, config->postgresql.password_file);
	}
	store->connect_timeout = config->postgresql.connect_timeout ? config->postgresql.connect_timeout : 5;
	store->timeout_ms = config->postgresql.statement_timeout_ms ? config->postgresql.statement_timeout_ms : 2000;
	store->pool_size = config->postgresql.pool_size ? config->postgresql.pool_size : 8;
	store->login_keep_days = config->login_keep_days;
	store->warn = config->warn;
	store->warn_ctx = config->warn_ctx;
	pthread_mutex_init(&store->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&store->freed, &attr);
	pthread_condattr_destroy(&attr);
	twofa_combiner_init(&store->combiner, PIPELINES, login_run_batch, store);
	talloc_set_destructor(store, _store_free);
	*out = &store->handle;

	if ((rc = check_url(store->url, &sslcert)) != TWOFA_OK) {
		snprintf(store->errmsg, sizeof(store->errmsg), "%s", thread_errmsg);
		return rc;
	}
	store->home_cert = !sslcert;
	rc = conn_connect(store, config->create, &c);
	if (rc != TWOFA_OK) {
		snprintf(store->errmsg, sizeof(store->errmsg), "%s", thread_errmsg);
		store->last_failure = monotonic_ms();
		store->down = true;
		return rc;
	}
	store->idle = c;
	store->open = 1;
	return TWOFA_OK;
}

static char const *pg_errmsg(twofa_store_t *handle)
{
	PG_STORE(handle);

	if (thread_errmsg[0]) return thread_errmsg;
	if (store && store->errmsg[0]) return store->errmsg;
	return "no detail";
}

static int pg_schema_version(twofa_store_t *handle)
{
	PG_STORE(handle);
	return store->schema_version;
}

/*
 *	Users.
 */
/* The user columns of row into a new twofa_user_t. */
static twofa_user_t *user_from_row(TALLOC_CTX *ctx, PGresult const *r, int row)
{
	twofa_user_t *u = talloc_zero(ctx, twofa_user_t);

	if (!u) return NULL;
	u->id = col_int(r, row, 0);
	u->name = col_str(u, r, row, 1);
	u->password_hash = col_str(u, r, row, 2);
	u->created = col_int(r, row, 3);
	u->fail_count = (unsigned int) col_int(r, row, 4);
	u->lock_count = (unsigned int) col_int(r, row, 5);
	u->locked_until = col_int(r, row, 6);
	u->password_failures = (unsigned int) col_int(r, row, 7);
	u->password_next_try = col_int(r, row, 8);
	u->backup_codes_left = (unsigned int) col_int(r, row, 9);
	u->exempt = col_bool(r, row, 10);
	if (!PQgetisnull(r, row, COL_PREFERRED)) {
		twofa_factor_kind_from_name(PQgetvalue(r, row, COL_PREFERRED), &u->preferred);
	}
	u->reply = col_str(u, r, row, COL_REPLY);
	return u;
}

/* The factor columns of row, if any, added to u; a kind this build does not know is left out. */
static bool factor_from_row(twofa_user_t *u, PGresult const *r, int row)
{
	twofa_factor_t		*f;
	twofa_factor_kind_t	kind;
	int			c = COL_FACTOR;

	if (PQgetisnull(r, row, c)) return true;
	if (!twofa_factor_kind_from_name(PQgetvalue(r, row, c + 1), &kind)) return true;
	u->factors = talloc_realloc(u, u->factors, twofa_factor_t, u->num_factors + 1);
	if (!u->factors) return false;
	f = &u->factors[u->num_factors++];
	memset(f, 0, sizeof(*f));
	f->id = col_int(r, row, c);
	f->kind = kind;
	f->confirmed = col_bool(r, row, c + 2);
	if (!PQgetisnull(r, row, c + 3) && !(f->sealed = col_blob(u, r, row, c + 3, &f->sealed_len))) return false;
	if (PQgetisnull(r, row, c + 4) || (twofa_hash_from_name(PQgetvalue(r, row, c + 4), &f->totp.hash) < 0)) {
		f->totp.hash = TWOFA_HASH_SHA1;
	}
	f->totp.digits = (unsigned int) col_int(r, row, c + 5);
	f->totp.period = (unsigned int) col_int(r, row, c + 6);
	f->address = col_str(u, r, row, c + 7);
	f->last_step = col_int(r, row, c + 8);
	f->created = col_int(r, row, c + 9);
	return true;
}

/* The rows of USER_COLUMNS, each user's together, appended to *list (a talloc array under ctx). */
static twofa_rcode_t users_from_rows(PGresult const *r, TALLOC_CTX *ctx, twofa_user_t ***list, size_t *count)
{
	twofa_user_t	*u = NULL;
	size_t		size = *count;
	int		row;

	for (row = 0; row < PQntuples(r); row++) {
		if (!u || (u->id != col_int(r, row, 0))) {
			if (*count == size) {
				size = size ? 2 * size : 16;
				*list = talloc_realloc(ctx, *list, twofa_user_t *, size);
				if (!*list) return TWOFA_ERR_NO_MEMORY;
			}
			if (!(u = user_from_row(*list, r, row))) return TWOFA_ERR_NO_MEMORY;
			(*list)[(*count)++] = u;
		}
		if (!factor_from_row(u, r, row)) return TWOFA_ERR_NO_MEMORY;
	}
	return TWOFA_OK;
}

/*
 *	The login path's calls of one statement each (a user's read in
 *	round one, a TOTP step's consume in round two; a failure or a
 *	success counted, a State spent, a login's row) are combined under
 *	load (combine.h): the leader sends every queued statement on one
 *	connection at once (libpq's pipeline mode) and reads the answers in
 *	order, so that several logins share one round trip, one wake-up of
 *	the server's backend and one commit.  Until the pipeline's sync the
 *	statements are one transaction: if any fails, none was kept, and
 *	each runs again on its own.  They are sent in the order of the rows
 *	they lock (users, then factors, each by id), so that two servers'
 *	batches do not wait on each other in a cycle.  (bench/README.md:
 *	(g1) before and after.)
 */
static twofa_rcode_t prune_states(conn_t *c, time_t now);
static twofa_rcode_t why_not_consumed(conn_t *c, int64_t user_id, int64_t factor_id);

typedef enum {
	LOCKS_NOTHING = 0,
	LOCKS_USER,			//!< a users row (the counters)
	LOCKS_FACTOR,			//!< a factors row (the TOTP high-water step)
} lock_table_t;

typedef struct pg_op pg_op_t;
struct pg_op {
	stmt_t		which;		//!< its one statement
	char const	*what;
	params_t	p;
	lock_table_t	lock_table;	//!< the row it locks: sent in (table, id) order
	int64_t		lock_id;
	/** Run first, outside any transaction (a prune of old rows), with prune_at; NULL: none. */
	twofa_rcode_t	(*prune)(conn_t *c, time_t now);
	time_t		prune_at;
	/** The call's outcome from the statement's rows; may run more statements on c. */
	twofa_rcode_t	(*result)(conn_t *c, pg_op_t *op, PGresult *r);
	void		*arg;
};

/* One op alone: as every other call runs. */
static twofa_rcode_t op_run(conn_t *c, pg_op_t *op)
{
	PGresult	*r;
	twofa_rcode_t	rc;

	/* A failed prune inside a transaction (a bulk one's) would abort it: only outside one. */
	if (op->prune && (PQtransactionStatus(c->pg) == PQTRANS_IDLE) &&
	    ((rc = op->prune(c, op->prune_at)) != TWOFA_OK)) return rc;
	if ((rc = stmt_run(c, op->which, &op->p, op->what, &r, NULL)) != TWOFA_OK) return rc;
	rc = op->result(c, op, r);
	PQclear(r);
	return rc;
}

static void call_alone(conn_t *c, twofa_call_t *call)
{
	thread_errmsg[0] = '\0';
	call->rc = op_run(c, call->op);
	memcpy(call->errmsg, thread_errmsg, sizeof(call->errmsg));
}

static void call_failed(twofa_call_t *call, twofa_rcode_t rc)
{
	call->rc = rc;
	memcpy(call->errmsg, thread_errmsg, sizeof(call->errmsg));
}

static int by_lock_order(void const *a, void const *b)
{
	pg_op_t const *x = (*(twofa_call_t * const *) a)->op, *y = (*(twofa_call_t * const *) b)->op;

	if (x->lock_table != y->lock_table) return (x->lock_table > y->lock_table) ? 1 : -1;
	return (x->lock_id > y->lock_id) - (x->lock_id < y->lock_id);
}

/*
 *	The next result of the pipeline, waiting at most until deadline.
 *	to_end: read on to the NULL that ends a statement's results, keeping
 *	the first.  @return TWOFA_OK, or a failure (connection given up).
 */
static twofa_rcode_t pipeline_result(conn_t *c, int64_t deadline, bool to_end, PGresult **out)
{
	PGresult *r;

	*out = NULL;
	for (;;) {
		int ready = wait_result(c, deadline);

		if (ready <= 0) return ready ? conn_lost(c, "pipeline") : gave_up(c, "pipeline", c->store->timeout_ms);
		r = PQgetResult(c->pg);
		if (!r) return *out ? TWOFA_OK : conn_lost(c, "pipeline");
		if (!*out) *out = r;
		else PQclear(r);
		if (!to_end) return TWOFA_OK;
	}
}

/*
 *	Send every call's statement, then read every answer.  @return false
 *	if a statement failed (the pipeline's transaction was rolled back:
 *	nothing of it kept), so that each runs again on its own; true if each
 *	call has its outcome (a connection lost or silent fails them all).
 */
static bool pipeline_run(conn_t *c, twofa_call_t **calls, size_t n, PGresult **res)
{
	char		name[16];
	pg_op_t		*op;
	PGresult	*sync = NULL;
	int64_t		deadline;
	twofa_rcode_t	rc = TWOFA_OK;
	bool		aborted = false;
	size_t		i;

	for (i = 0; i < n; i++) {
		op = calls[i]->op;
		if (((rc = stmt_prepare(c, op->which, op->what)) != TWOFA_OK) ||
		    (op->prune && ((rc = op->prune(c, op->prune_at)) != TWOFA_OK))) goto failed;
	}
	if (!PQenterPipelineMode(c->pg)) return false;
	for (i = 0; i < n; i++) {
		op = calls[i]->op;
		snprintf(name, sizeof(name), "twofa_%d", (int) op->which);
		if (!PQsendQueryPrepared(c->pg, name, op->p.n, op->p.values, op->p.lengths, op->p.formats, 0)) {
			rc = conn_lost(c, op->what);
			goto failed;
		}
	}
	if (!PQpipelineSync(c->pg)) {
		rc = conn_lost(c, "pipeline");
		goto failed;
	}
	deadline = monotonic_ms() + c->store->timeout_ms;
	for (i = 0; i < n; i++) {
		if ((rc = pipeline_result(c, deadline, true, &res[i])) != TWOFA_OK) goto failed;
		if ((PQresultStatus(res[i]) != PGRES_TUPLES_OK) && (PQresultStatus(res[i]) != PGRES_COMMAND_OK)) {
			aborted = true;
		}
	}
	if ((rc = pipeline_result(c, deadline, false, &sync)) != TWOFA_OK) goto failed;
	if (PQresultStatus(sync) != PGRES_PIPELINE_SYNC) aborted = true;	/* the commit failed */
	PQclear(sync);
	if (!PQexitPipelineMode(c->pg)) {
		rc = conn_lost(c, "pipeline");
		goto failed;
	}
	if (!aborted) return true;
	for (i = 0; i < n; i++) {
		PQclear(res[i]);
		res[i] = NULL;
	}
	return false;

failed:
	c->broken = true;
	for (i = 0; i < n; i++) {
		PQclear(res[i]);
		res[i] = NULL;
		call_failed(calls[i], rc);
	}
	return true;
}

/*
 *	The combiner's run_batch.  A batch of one, or one whose pipeline
 *	failed, runs call by call; there, once the connection is given up
 *	the rest of the batch fails the same without trying (a database
 *	that stopped answering would otherwise cost each the timeout in turn).
 */
static void login_run_batch(void *ctx, twofa_call_t *batch)
{
	pg_store_t	*store = ctx;
	CONN_USE(c);
	twofa_call_t	**calls, *call;
	PGresult	**res;
	size_t		n = 0, i;
	twofa_rcode_t	failed = TWOFA_OK;

	if (!(c = conn_acquire(store))) {
		for (call = batch; call; call = call->next) call_failed(call, thread_acquire_rc);
		return;
	}
	if (!batch->next) {
		call_alone(c, batch);
		return;
	}
	for (call = batch; call; call = call->next) n++;
	calls = talloc_array(NULL, twofa_call_t *, n);
	res = talloc_zero_array(calls, PGresult *, n);
	if (!calls || !res) {
		talloc_free(calls);
		for (call = batch; call; call = call->next) call_alone(c, call);
		return;
	}
	for (i = 0, call = batch; call; call = call->next) calls[i++] = call;
	qsort(calls, n, sizeof(calls[0]), by_lock_order);

	if (pipeline_run(c, calls, n, res)) {
		for (i = 0; i < n; i++) {
			if (!res[i]) continue;		/* failed with the pipeline */
			thread_errmsg[0] = '\0';
			calls[i]->rc = ((pg_op_t *) calls[i]->op)->result(c, calls[i]->op, res[i]);
			memcpy(calls[i]->errmsg, thread_errmsg, sizeof(calls[i]->errmsg));
			PQclear(res[i]);
		}
	} else {
		for (i = 0; i < n; i++) {
			if (failed != TWOFA_OK) {
				call_failed(calls[i], failed);
				continue;
			}
			call_alone(c, calls[i]);
			if (c->broken) failed = calls[i]->rc;
		}
	}
	talloc_free(calls);
}

/* A login-path op: combined with other threads', or alone inside this thread's bulk transaction. */
static twofa_rcode_t login_call(pg_store_t *store, pg_op_t *op)
{
	twofa_call_t call = { .op = op };

	if (txn_store == store) {
		thread_errmsg[0] = '\0';
		return op_run(txn_conn, op);
	}
	twofa_combiner_call(&store->combiner, &call);
	memcpy(thread_errmsg, call.errmsg, sizeof(thread_errmsg));
	return call.rc;
}

typedef struct {
	TALLOC_CTX	*ctx;
	twofa_user_t	**out;
} get_user_args_t;

static twofa_rcode_t get_user_result(conn_t *c, pg_op_t *op, PGresult *r)
{
	get_user_args_t	*a = op->arg;
	twofa_user_t	**list = NULL;
	size_t		count = 0;
	twofa_rcode_t	rc;

	rc = users_from_rows(r, a->ctx, &list, &count);
	if ((rc == TWOFA_OK) && !count) rc = TWOFA_ERR_NOT_FOUND;
	if (rc == TWOFA_OK) *a->out = talloc_steal(a->ctx, list[0]);
	talloc_free(list);
	return rc;
}

static twofa_rcode_t pg_get_user(twofa_store_t *handle, TALLOC_CTX *ctx, char const *name, twofa_user_t **out)
{
	PG_STORE(handle);
	get_user_args_t	a = { .ctx = ctx, .out = out };
	pg_op_t		op = { .which = STMT_GET_USER, .what = "get user", .result = get_user_result, .arg = &a };

	*out = NULL;
	p_text(&op.p, name);
	return login_call(store, &op);
}

static twofa_rcode_t pg_add_user(twofa_store_t *handle, char const *name, char const *password_hash)
{
	PG_STORE(handle);
	CONN_USE(c);
	params_t	p = { 0 };
	int		changes = 0;
	twofa_rcode_t	rc;

	CONN_OR_FAIL(c, store);
	p_text(&p, name);
	p_text(&p, password_hash);
	rc = stmt_run(c, STMT_ADD_USER, &p, "add user", NULL, &changes);
	if ((rc == TWOFA_OK) && (changes == 0)) return TWOFA_ERR_EXISTS;
	return rc;
}

/* A statement keyed by user name ($1, and $2 if given) that must change a row; else none. */
static twofa_rcode_t run_by_name(pg_store_t *store, stmt_t which, char const *what, char const *name,
				 params_t *p, twofa_rcode_t none)
{
	CONN_USE(c);
	int		changes = 0;
	twofa_rcode_t	rc;

	CONN_OR_FAIL(c, store);
	rc = stmt_run(c, which, p, what, NULL, &changes);
	if ((rc == TWOFA_OK) && (changes == 0)) return none;
	return rc;
}

static twofa_rcode_t pg_set_password(twofa_store_t *handle, char const *name, char const *password_hash)
{
	PG_STORE(handle);
	params_t p = { 0 };

	p_text(&p, name);
	p_text(&p, password_hash);
	return run_by_name(store, STMT_SET_PASSWORD, "set password", name, &p, TWOFA_ERR_NOT_FOUND);
}

static twofa_rcode_t pg_delete_user(twofa_store_t *handle, char const *name)
{
	PG_STORE(handle);
	params_t p = { 0 };

	p_text(&p, name);
	return run_by_name(store, STMT_DELETE_USER, "delete user", name, &p, TWOFA_ERR_NOT_FOUND);
}

static twofa_rcode_t pg_unlock(twofa_store_t *handle, char const *name)
{
	PG_STORE(handle);
	params_t p = { 0 };

	p_text(&p, name);
	return run_by_name(store, STMT_UNLOCK, "unlock", name, &p, TWOFA_ERR_NOT_FOUND);
}

static twofa_rcode_t pg_set_exempt(twofa_store_t *handle, char const *name, bool exempt)
{
	PG_STORE(handle);
	params_t p = { 0 };

	p_text(&p, name);
	p_bool(&p, exempt);
	return run_by_name(store, STMT_SET_EXEMPT, "set exempt", name, &p, TWOFA_ERR_NOT_FOUND);
}

static twofa_rcode_t pg_factor_remove(twofa_store_t *handle, char const *name, twofa_factor_kind_t kind)
{
	PG_STORE(handle);
	params_t p = { 0 };

	p_text(&p, name);
	p_text(&p, twofa_factor_kind_name(kind));
	return run_by_name(store, STMT_FACTOR_REMOVE, "remove factor", name, &p, TWOFA_ERR_NOT_ENROLLED);
}

static twofa_rcode_t pg_factor_confirm(twofa_store_t *handle, char const *name, twofa_factor_kind_t kind,
				       int64_t step)
{
	PG_STORE(handle);
	params_t p = { 0 };

	p_text(&p, name);
	p_text(&p, twofa_factor_kind_name(kind));
	p_int(&p, step);
	return run_by_name(store, STMT_FACTOR_CONFIRM, "confirm factor", name, &p, TWOFA_ERR_NOT_ENROLLED);
}

/* Each listed user's newest Accept, from the login log (any spelling of the name). */
static twofa_rcode_t last_accepts(conn_t *c, twofa_user_t **list, size_t count)
{
	PGresult	*r;
	int		row;
	size_t		i;
	twofa_rcode_t	rc = stmt_run(c, STMT_LAST_ACCEPTS, NULL, "list users", &r, NULL);

	if (rc != TWOFA_OK) return rc;
	for (row = 0; row < PQntuples(r); row++) {
		char const	*name = PQgetvalue(r, row, 0);
		time_t		at = col_int(r, row, 1);

		for (i = 0; i < count; i++) {
			if ((strcasecmp(list[i]->name, name) == 0) && (at > list[i]->last_accept)) list[i]->last_accept = at;
		}
	}
	PQclear(r);
	return TWOFA_OK;
}

static twofa_rcode_t pg_list_users(twofa_store_t *handle, TALLOC_CTX *ctx, twofa_user_t ***out, size_t *count)
{
	PG_STORE(handle);
	CONN_USE(c);
	PGresult	*r;
	twofa_user_t	**list = NULL;
	size_t		n = 0;
	twofa_rcode_t	rc;

	CONN_OR_FAIL(c, store);
	if ((rc = stmt_run(c, STMT_LIST_USERS, NULL, "list users", &r, NULL)) != TWOFA_OK) return rc;
	rc = users_from_rows(r, ctx, &list, &n);
	PQclear(r);
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

/*
 *	Factors.
 */
/* A factor's secret and TOTP parameters: secret, hash, digits, period. */
static void p_factor(params_t *p, twofa_factor_t const *f)
{
	p_blob(p, f->sealed, f->sealed_len);
	if (f->kind == TWOFA_FACTOR_TOTP) {
		p_text(p, twofa_hash_name(f->totp.hash));
		p_int(p, f->totp.digits);
		p_int(p, f->totp.period);
	} else {
		p_text(p, NULL);
		p_text(p, NULL);
		p_text(p, NULL);
	}
}

typedef struct {
	char const		*name;
	twofa_factor_t const	*factor;
} factor_set_args_t;

/* The user's row locked, the old factor of the kind deleted, the new one inserted (a new id). */
static twofa_rcode_t factor_set_run(conn_t *c, void *arg)
{
	factor_set_args_t const	*a = arg;
	params_t		p = { 0 };
	int64_t			user_id;
	twofa_rcode_t		rc;

	p_text(&p, a->name);
	if ((rc = stmt_int(c, STMT_USER_ID_LOCK, &p, "set factor", &user_id)) != TWOFA_OK) return rc;
	memset(&p, 0, sizeof(p));
	p_int(&p, user_id);
	p_text(&p, twofa_factor_kind_name(a->factor->kind));
	if ((rc = stmt_run(c, STMT_FACTOR_DELETE, &p, "set factor", NULL, NULL)) != TWOFA_OK) return rc;
	memset(&p, 0, sizeof(p));
	p_int(&p, user_id);
	p_text(&p, twofa_factor_kind_name(a->factor->kind));
	p_bool(&p, a->factor->confirmed);
	p_factor(&p, a->factor);
	p_text(&p, a->factor->address);
	p_int(&p, -1);
	return stmt_run(c, STMT_FACTOR_INSERT, &p, "set factor", NULL, NULL);
}

static twofa_rcode_t pg_factor_set(twofa_store_t *handle, char const *name, twofa_factor_t const *factor)
{
	PG_STORE(handle);
	CONN_USE(c);
	factor_set_args_t a = { .name = name, .factor = factor };

	if ((factor->kind < TWOFA_FACTOR_TOTP) || (factor->kind > TWOFA_FACTOR_KIND_LAST) ||
	    (factor->sealed_len > INT32_MAX)) return TWOFA_ERR_MALFORMED;
	CONN_OR_FAIL(c, store);
	return in_transaction(c, factor_set_run, &a);
}

static twofa_rcode_t log_login_in(conn_t *c, twofa_login_t const *l);
static twofa_rcode_t state_first(conn_t *c, twofa_login_t const *login);
static twofa_rcode_t consume_call(conn_t *c, twofa_rcode_t (*fn)(conn_t *c, void *arg), void *arg,
				  twofa_login_t const *login);
static twofa_rcode_t prune_states(conn_t *c, time_t now);

typedef struct {
	int64_t			user_id;
	twofa_factor_t const	*factor;
	int64_t			step;
	twofa_login_t const	*login;
} enrol_args_t;

/* The user's row locked (racing enrolments run one after the other), no lock on it,
 * a pending factor of the kind replaced, a confirmed one kept. */
static twofa_rcode_t enrol_run(conn_t *c, void *arg)
{
	enrol_args_t const	*a = arg;
	params_t		p = { 0 };
	int64_t			locked = 0;
	int			changes = 0;
	twofa_rcode_t		rc;

	if ((rc = state_first(c, a->login)) != TWOFA_OK) return rc;
	p_int(&p, a->user_id);
	rc = stmt_int(c, STMT_ENROL_LOCK_USER, &p, "enrol factor", &locked);
	if (rc == TWOFA_ERR_NOT_FOUND) return TWOFA_ERR_EXISTS;		/* no such user */
	if (rc != TWOFA_OK) return rc;
	if (locked) return TWOFA_ERR_EXISTS;

	memset(&p, 0, sizeof(p));
	p_int(&p, a->user_id);
	p_text(&p, twofa_factor_kind_name(a->factor->kind));
	rc = stmt_run(c, STMT_ENROL_CLEAR_PENDING, &p, "enrol factor", NULL, NULL);
	if (rc != TWOFA_OK) return rc;
	memset(&p, 0, sizeof(p));
	p_int(&p, a->user_id);
	p_text(&p, twofa_factor_kind_name(a->factor->kind));
	p_factor(&p, a->factor);
	p_int(&p, a->step);
	p_text(&p, a->factor->address);
	rc = stmt_run(c, STMT_ENROL_INSERT, &p, "enrol factor", NULL, &changes);
	if (rc != TWOFA_OK) return rc;
	if (changes == 0) return TWOFA_ERR_EXISTS;
	return a->login ? log_login_in(c, a->login) : TWOFA_OK;
}

static twofa_rcode_t pg_factor_enrol(twofa_store_t *handle, int64_t user_id, twofa_factor_t const *factor,
				     int64_t step, time_t now, twofa_login_t const *login)
{
	PG_STORE(handle);
	CONN_USE(c);
	enrol_args_t	a = { .user_id = user_id, .factor = factor, .step = step, .login = login };
	twofa_rcode_t	rc;

	/* A TOTP factor needs its secret; an SMS or email one its address. */
	if ((factor->kind == TWOFA_FACTOR_TOTP) && (!factor->sealed || !factor->sealed_len)) return TWOFA_ERR_MALFORMED;
	if ((factor->kind != TWOFA_FACTOR_TOTP) && !factor->address) return TWOFA_ERR_MALFORMED;
	if ((factor->kind < TWOFA_FACTOR_TOTP) || (factor->kind > TWOFA_FACTOR_KIND_LAST) ||
	    (factor->sealed_len > INT32_MAX)) return TWOFA_ERR_MALFORMED;
	CONN_OR_FAIL(c, store);
	if (login && login->state_nonce && ((rc = prune_states(c, login->at)) != TWOFA_OK)) return rc;
	/* Kept unless the store failed: the State recorded first stays spent (EXISTS too). */
	return transaction_run(c, enrol_run, &a, true);
}

/* The consume changed nothing: say why.  Every answer is a reject, so this read need not be atomic with it. */
static twofa_rcode_t why_not_consumed(conn_t *c, int64_t user_id, int64_t factor_id)
{
	params_t	p = { 0 };
	PGresult	*r;
	twofa_rcode_t	rc;

	p_int(&p, user_id);
	p_int(&p, factor_id);
	if ((rc = stmt_run(c, STMT_WHY_NOT_CONSUMED, &p, "consume step", &r, NULL)) != TWOFA_OK) return rc;
	if (PQntuples(r) < 1) rc = TWOFA_ERR_NOT_FOUND;			/* deleted since round one */
	else if (col_bool(r, 0, 0)) rc = TWOFA_ERR_LOCKED;
	else if (!col_bool(r, 0, 1)) rc = TWOFA_ERR_NOT_ENROLLED;	/* removed or replaced since */
	else rc = TWOFA_ERR_REPLAYED;
	PQclear(r);
	return rc;
}

typedef struct {
	int64_t		user_id;
	int64_t		factor_id;
} consume_args_t;

static twofa_rcode_t consume_result(conn_t *c, pg_op_t *op, PGresult *r)
{
	consume_args_t	*a = op->arg;

	if (PQntuples(r) < 1) {
		set_errmsg(op->what, "no row");
		return TWOFA_ERR_STORE;
	}
	if (!col_bool(r, 0, 1)) return TWOFA_ERR_EXPIRED;	/* the State was answered before */
	if (col_int(r, 0, 0) == 1) return TWOFA_OK;
	return why_not_consumed(c, a->user_id, a->factor_id);
}

static twofa_rcode_t pg_factor_consume_step(twofa_store_t *handle, int64_t user_id, int64_t factor_id,
					    int64_t step, time_t now, twofa_login_t const *login)
{
	PG_STORE(handle);
	consume_args_t	a = { .user_id = user_id, .factor_id = factor_id };
	pg_op_t		op = { .which = STMT_CONSUME_STEP, .what = "consume step", .lock_table = LOCKS_FACTOR,
			       .lock_id = factor_id, .result = consume_result, .arg = &a };
	params_t	*p = &op.p;

	if (login && login->state_nonce) {
		if (!login->state_nonce_len || (login->state_nonce_len > 64)) return TWOFA_ERR_MALFORMED;
		op.prune = prune_states;
		op.prune_at = login->at;
	}
	p_int(p, user_id);
	p_int(p, step);
	p_int(p, factor_id);
	p_int(p, USED_STEP_PERIODS);
	p_int(p, now);
	p_login(p, login);
	if (login && login->state_nonce) {
		p_blob(p, login->state_nonce, login->state_nonce_len);
		p_int(p, login->state_expires);
	} else {
		p_text(p, NULL);
		p_text(p, NULL);
	}
	return login_call(store, &op);
}

/*
 *	Counters: one UPDATE ... RETURNING each, or one UPDATE.
 */
/* A counter's RETURNING: the lock's or the throttle's end; no row: the user was deleted meanwhile. */
static twofa_rcode_t counted_result(conn_t *c, pg_op_t *op, PGresult *r)
{
	time_t *until = op->arg;

	if (until) *until = (PQntuples(r) > 0) ? (time_t) col_int(r, 0, 0) : 0;
	return TWOFA_OK;
}

static twofa_rcode_t count_failure(pg_store_t *store, stmt_t which, char const *what, int64_t user_id,
				   unsigned int failures, unsigned int first_wait, unsigned int longest_wait,
				   time_t *until)
{
	pg_op_t op = { .which = which, .what = what, .lock_table = LOCKS_USER, .lock_id = user_id,
		       .result = counted_result, .arg = until };

	if (until) *until = 0;
	p_int(&op.p, user_id);
	p_int(&op.p, failures);
	p_int(&op.p, first_wait);
	p_int(&op.p, longest_wait);
	return login_call(store, &op);
}

/* now: unused, the lock ends by the database's clock (see the file's head). */
static twofa_rcode_t pg_record_failure(twofa_store_t *handle, int64_t user_id, twofa_lockout_t const *policy,
				       time_t now, time_t *locked_until)
{
	PG_STORE(handle);
	return count_failure(store, STMT_RECORD_FAILURE, "record failure", user_id, policy->max_failures,
			     policy->lock_seconds, policy->max_lock_seconds, locked_until);
}

static twofa_rcode_t pg_record_password_failure(twofa_store_t *handle, int64_t user_id,
						twofa_password_throttle_t const *policy, time_t now, time_t *next_try)
{
	PG_STORE(handle);
	return count_failure(store, STMT_PASSWORD_FAILURE, "record password failure", user_id,
			     policy->free_failures, policy->delay_seconds, policy->max_delay_seconds, next_try);
}

/* A write keyed by user id alone ($1). */
static twofa_rcode_t run_by_id(pg_store_t *store, stmt_t which, char const *what, int64_t user_id)
{
	CONN_USE(c);
	params_t p = { 0 };

	CONN_OR_FAIL(c, store);
	p_int(&p, user_id);
	return stmt_run(c, which, &p, what, NULL, NULL);
}

static twofa_rcode_t no_rows_result(conn_t *c, pg_op_t *op, PGresult *r)
{
	return TWOFA_OK;
}

static twofa_rcode_t pg_record_success(twofa_store_t *handle, int64_t user_id)
{
	PG_STORE(handle);
	pg_op_t op = { .which = STMT_RECORD_SUCCESS, .what = "record success", .lock_table = LOCKS_USER,
		       .lock_id = user_id, .result = no_rows_result };

	p_int(&op.p, user_id);
	return login_call(store, &op);
}

static twofa_rcode_t pg_record_password_success(twofa_store_t *handle, int64_t user_id)
{
	PG_STORE(handle);
	return run_by_id(store, STMT_PASSWORD_SUCCESS, "record password success", user_id);
}

/*
 *	Audit and login logs.
 */
static twofa_rcode_t pg_audit(twofa_store_t *handle, char const *actor, char const *action,
			      char const *user, char const *detail)
{
	PG_STORE(handle);
	CONN_USE(c);
	params_t p = { 0 };

	CONN_OR_FAIL(c, store);
	p_text(&p, actor);
	p_text(&p, action);
	p_text(&p, user);
	p_text(&p, detail);
	return stmt_run(c, STMT_AUDIT, &p, "audit", NULL, NULL);
}

/* Every TWOFA_LOGIN_PRUNE_EVERY logins of this process: the expired among the oldest rows go. */
static twofa_rcode_t prune_logins(conn_t *c, time_t now)
{
	pg_store_t	*store = c->store;
	params_t	p = { 0 };

	if (!store->login_keep_days ||
	    ((__atomic_fetch_add(&store->logins, 1, __ATOMIC_RELAXED) % TWOFA_LOGIN_PRUNE_EVERY) != 0)) return TWOFA_OK;
	p_int(&p, (int64_t) now - (int64_t) store->login_keep_days * 86400);
	p_int(&p, TWOFA_LOGIN_PRUNE_ROWS);
	return stmt_run(c, STMT_PRUNE_LOGINS, &p, "prune logins", NULL, NULL);
}

static twofa_rcode_t log_login_in(conn_t *c, twofa_login_t const *l)
{
	params_t	p = { 0 };
	twofa_rcode_t	rc;

	/* A failed prune inside a transaction would abort it: only outside one. */
	if (PQtransactionStatus(c->pg) == PQTRANS_IDLE) {
		rc = prune_logins(c, l->at);
		if (rc != TWOFA_OK) return rc;
	}
	p_login(&p, l);
	return stmt_run(c, STMT_LOG_LOGIN, &p, "log login", NULL, NULL);
}

static twofa_rcode_t pg_log_login(twofa_store_t *handle, twofa_login_t const *login)
{
	PG_STORE(handle);
	pg_op_t op = { .which = STMT_LOG_LOGIN, .what = "log login", .prune = prune_logins, .prune_at = login->at,
		       .result = no_rows_result };

	p_login(&op.p, login);
	return login_call(store, &op);
}

/* The rows of STMT_LIST_LOGINS (or the same columns) appended to *list under ctx. */
static twofa_rcode_t logins_from_rows(PGresult const *r, TALLOC_CTX *ctx, twofa_login_t **list, size_t *count)
{
	int row, n = PQntuples(r);

	*list = talloc_zero_array(ctx, twofa_login_t, n ? n : 1);
	if (!*list) return TWOFA_ERR_NO_MEMORY;
	for (row = 0; row < n; row++) {
		twofa_login_t *l = &(*list)[row];

		l->id = col_int(r, row, 0);
		l->at = col_int(r, row, 1);
		l->user = col_str(*list, r, row, 2);
		l->nas = col_str(*list, r, row, 3);
		l->calling_station_id = col_str(*list, r, row, 4);
		l->method = col_str(*list, r, row, 5);
		l->result = col_str(*list, r, row, 6);
		l->reason = col_str(*list, r, row, 7);
	}
	*count = (size_t) n;
	return TWOFA_OK;
}

static twofa_rcode_t pg_list_logins(twofa_store_t *handle, TALLOC_CTX *ctx, char const *user, time_t since,
				    twofa_login_t **out, size_t *count)
{
	PG_STORE(handle);
	CONN_USE(c);
	params_t	p = { 0 };
	PGresult	*r;
	twofa_rcode_t	rc;

	CONN_OR_FAIL(c, store);
	p_text(&p, user);
	p_int(&p, since);
	if ((rc = stmt_run(c, STMT_LIST_LOGINS, &p, "list logins", &r, NULL)) != TWOFA_OK) return rc;
	rc = logins_from_rows(r, ctx, out, count);
	PQclear(r);
	return rc;
}

/*
 *	Backup codes.
 */
typedef struct {
	char const			*name;
	twofa_backup_hash_t const	*codes;
	unsigned int			count;
	unsigned int			voided;		//!< out
} backup_set_args_t;

static twofa_rcode_t backup_set_run(conn_t *c, void *arg)
{
	backup_set_args_t	*a = arg;
	params_t		p = { 0 };
	int64_t			user_id, unused = 0;
	unsigned int		i;
	twofa_rcode_t		rc;

	p_text(&p, a->name);
	if ((rc = stmt_int(c, STMT_USER_ID_LOCK, &p, "set backup codes", &user_id)) != TWOFA_OK) return rc;
	memset(&p, 0, sizeof(p));
	p_int(&p, user_id);
	if ((rc = stmt_int(c, STMT_BACKUP_COUNT, &p, "count backup codes", &unused)) != TWOFA_OK) return rc;
	if ((rc = stmt_run(c, STMT_BACKUP_CLEAR, &p, "void backup codes", NULL, NULL)) != TWOFA_OK) return rc;
	for (i = 0; i < a->count; i++) {
		memset(&p, 0, sizeof(p));
		p_int(&p, user_id);
		p_blob(&p, a->codes[i].salt, sizeof(a->codes[i].salt));
		p_blob(&p, a->codes[i].hash, sizeof(a->codes[i].hash));
		if ((rc = stmt_run(c, STMT_BACKUP_ADD, &p, "add backup code", NULL, NULL)) != TWOFA_OK) return rc;
	}
	a->voided = (unsigned int) unused;
	return TWOFA_OK;
}

static twofa_rcode_t pg_backup_set(twofa_store_t *handle, char const *name, twofa_backup_hash_t const *codes,
				   unsigned int count, unsigned int *voided)
{
	PG_STORE(handle);
	CONN_USE(c);
	backup_set_args_t	a = { .name = name, .codes = codes, .count = count };
	twofa_rcode_t		rc;

	if (voided) *voided = 0;
	if ((count > TWOFA_BACKUP_COUNT_MAX) || (count && !codes)) return TWOFA_ERR_MALFORMED;
	CONN_OR_FAIL(c, store);
	rc = in_transaction(c, backup_set_run, &a);		/* the old set goes and the new one comes together */
	if ((rc == TWOFA_OK) && voided) *voided = a.voided;
	return rc;
}

/* The id of the user's unused code that code matches, or 0. */
static twofa_rcode_t backup_find(conn_t *c, int64_t user_id, uint8_t const *bkey, char const *code, int64_t *found)
{
	params_t	p = { 0 };
	PGresult	*r;
	int		row;
	twofa_rcode_t	rc;

	*found = 0;
	p_int(&p, user_id);
	if ((rc = stmt_run(c, STMT_BACKUP_UNUSED, &p, "find backup code", &r, NULL)) != TWOFA_OK) return rc;
	for (row = 0; row < PQntuples(r) && !*found; row++) {
		size_t	salt_len = 0, hash_len = 0;
		uint8_t	*salt = col_blob(NULL, r, row, 1, &salt_len);
		uint8_t	*hash = col_blob(NULL, r, row, 2, &hash_len);

		if (salt && hash && twofa_backup_code_matches(bkey, salt, salt_len, hash, hash_len, code)) {
			*found = col_int(r, row, 0);
		}
		talloc_free(salt);
		talloc_free(hash);
	}
	PQclear(r);
	return TWOFA_OK;
}

typedef struct {
	int64_t			user_id;
	uint8_t const		*bkey;
	char const		*code;
	time_t			now;
	twofa_login_t const	*login;		//!< written with a success, if not NULL
	unsigned int		left;		//!< out
} backup_consume_args_t;

static twofa_rcode_t backup_consume_run(conn_t *c, void *arg)
{
	backup_consume_args_t	*a = arg;
	params_t		p = { 0 };
	PGresult		*r;
	int64_t			id = 0, locked = 0;
	twofa_rcode_t		rc;

	if ((rc = state_first(c, a->login)) != TWOFA_OK) return rc;
	if ((rc = backup_find(c, a->user_id, a->bkey, a->code, &id)) != TWOFA_OK) return rc;
	if (id) {
		p_int(&p, id);
		p_int(&p, a->user_id);
		p_int(&p, a->now);
		p_login(&p, a->login);
		if ((rc = stmt_run(c, STMT_BACKUP_USE, &p, "use backup code", &r, NULL)) != TWOFA_OK) return rc;
		if (col_int(r, 0, 0) == 1) {
			a->left = (unsigned int) col_int(r, 0, 1);
			PQclear(r);
			return TWOFA_OK;
		}
		PQclear(r);
	}

	/* Not used: say why.  Every answer is a reject, so this read need not be atomic with the update. */
	memset(&p, 0, sizeof(p));
	p_int(&p, a->user_id);
	rc = stmt_int(c, STMT_BACKUP_WHY_NOT, &p, "use backup code", &locked);
	if (rc != TWOFA_OK) return rc;				/* NOT_FOUND: deleted since round one */
	if (locked) return TWOFA_ERR_LOCKED;
	return id ? TWOFA_ERR_REPLAYED : TWOFA_ERR_BAD_CODE;
}

static twofa_rcode_t pg_backup_consume(twofa_store_t *handle, int64_t user_id,
				       uint8_t const bkey[TWOFA_BACKUP_KEY_LEN], char const *code,
				       time_t now, unsigned int *left, twofa_login_t const *login)
{
	PG_STORE(handle);
	CONN_USE(c);
	backup_consume_args_t	a = { .user_id = user_id, .bkey = bkey, .code = code, .now = now, .login = login };
	twofa_rcode_t		rc;

	if (left) *left = 0;
	if (!bkey || !code || (strlen(code) != TWOFA_BACKUP_CODE_LEN)) return TWOFA_ERR_MALFORMED;
	CONN_OR_FAIL(c, store);
	rc = consume_call(c, backup_consume_run, &a, login);
	if ((rc == TWOFA_OK) && left) *left = a.left;
	return rc;
}

/*
 *	Reset: every factor and counter of one user, in one transaction.
 */
typedef struct {
	char const	*name;
	unsigned int	removed;	//!< out
	unsigned int	voided;		//!< out
} reset_args_t;

static twofa_rcode_t reset_run(conn_t *c, void *arg)
{
	reset_args_t	*a = arg;
	params_t	p = { 0 };
	int64_t		user_id, unused = 0;
	int		changes = 0;
	twofa_rcode_t	rc;

	p_text(&p, a->name);
	if ((rc = stmt_int(c, STMT_USER_ID_LOCK, &p, "reset user", &user_id)) != TWOFA_OK) return rc;
	memset(&p, 0, sizeof(p));
	p_int(&p, user_id);
	if ((rc = stmt_run(c, STMT_FACTOR_CLEAR, &p, "remove factors", NULL, &changes)) != TWOFA_OK) return rc;
	a->removed = (unsigned int) changes;
	if ((rc = stmt_int(c, STMT_BACKUP_COUNT, &p, "count backup codes", &unused)) != TWOFA_OK) return rc;
	a->voided = (unsigned int) unused;
	if ((rc = stmt_run(c, STMT_BACKUP_CLEAR, &p, "void backup codes", NULL, NULL)) != TWOFA_OK) return rc;
	return stmt_run(c, STMT_RESET_USER, &p, "reset counters", NULL, NULL);
}

static twofa_rcode_t pg_reset_user(twofa_store_t *handle, char const *name, unsigned int *factors_removed,
				   unsigned int *codes_voided)
{
	PG_STORE(handle);
	CONN_USE(c);
	reset_args_t	a = { .name = name };
	twofa_rcode_t	rc;

	if (factors_removed) *factors_removed = 0;
	if (codes_voided) *codes_voided = 0;
	CONN_OR_FAIL(c, store);
	rc = in_transaction(c, reset_run, &a);		/* all of it or none */
	if (rc != TWOFA_OK) return rc;
	if (factors_removed) *factors_removed = a.removed;
	if (codes_voided) *codes_voided = a.voided;
	return TWOFA_OK;
}

/*
 *	Sealed States: a nonce used once.
 */
/* Every TWOFA_STATE_PRUNE_EVERY nonces of this process: the expired among the oldest go,
 * STATE_KEEP_MARGIN late.  Outside a transaction only: a failed prune would abort it. */
static twofa_rcode_t prune_states(conn_t *c, time_t now)
{
	pg_store_t	*store = c->store;
	params_t	p = { 0 };

	if ((__atomic_fetch_add(&store->state_uses, 1, __ATOMIC_RELAXED) % TWOFA_STATE_PRUNE_EVERY) != 0) return TWOFA_OK;
	if (PQtransactionStatus(c->pg) != PQTRANS_IDLE) return TWOFA_OK;
	p_int(&p, (int64_t) now - STATE_KEEP_MARGIN);
	p_int(&p, TWOFA_STATE_PRUNE_ROWS);
	return stmt_run(c, STMT_STATE_PRUNE, &p, "prune states", NULL, NULL);
}

/* Record a nonce; *fresh: it was not there before. */
static twofa_rcode_t state_insert(conn_t *c, uint8_t const *nonce, size_t len, time_t expires, bool *fresh)
{
	params_t	p = { 0 };
	int		changes = 0;
	twofa_rcode_t	rc;

	*fresh = false;
	p_int(&p, expires);
	p_blob(&p, nonce, len);
	if ((rc = stmt_run(c, STMT_STATE_USE, &p, "use state", NULL, &changes)) != TWOFA_OK) return rc;
	*fresh = (changes == 1);
	return TWOFA_OK;
}

/*
 *	A consume answering a sealed State records the State first, in its
 *	own transaction (consume_call): of two answers in one State only one
 *	goes on, and the State is spent even if the code fails.  EXPIRED:
 *	answered before, the challenge is over.
 */
static twofa_rcode_t state_first(conn_t *c, twofa_login_t const *login)
{
	bool		fresh;
	twofa_rcode_t	rc;

	if (!login || !login->state_nonce) return TWOFA_OK;
	if (!login->state_nonce_len || (login->state_nonce_len > 64)) return TWOFA_ERR_MALFORMED;
	rc = state_insert(c, login->state_nonce, login->state_nonce_len, login->state_expires, &fresh);
	if (rc != TWOFA_OK) return rc;
	return fresh ? TWOFA_OK : TWOFA_ERR_EXPIRED;
}

/* A consume of several statements: with a State to record, all in one transaction kept
 * unless the store failed (see state_first); without, each statement on its own, as before. */
static twofa_rcode_t consume_call(conn_t *c, twofa_rcode_t (*fn)(conn_t *c, void *arg), void *arg,
				  twofa_login_t const *login)
{
	twofa_rcode_t rc;

	if (!login || !login->state_nonce) return fn(c, arg);
	if ((rc = prune_states(c, login->at)) != TWOFA_OK) return rc;
	return transaction_run(c, fn, arg, true);
}

/* A nonce recorded (one row inserted), or there before: the State was answered already. */
static twofa_rcode_t state_used_result(conn_t *c, pg_op_t *op, PGresult *r)
{
	return (atoi(PQcmdTuples(r)) == 1) ? TWOFA_OK : TWOFA_ERR_REPLAYED;
}

static twofa_rcode_t pg_state_use(twofa_store_t *handle, uint8_t const *nonce, size_t len, time_t expires,
				  time_t now)
{
	PG_STORE(handle);
	pg_op_t op = { .which = STMT_STATE_USE, .what = "use state", .prune = prune_states, .prune_at = now,
		       .result = state_used_result };

	p_int(&op.p, expires);
	p_blob(&op.p, nonce, len);
	return login_call(store, &op);
}

/*
 *	SMS and email codes.
 */
static twofa_rcode_t pg_oob_set(twofa_store_t *handle, int64_t user_id, int64_t factor_id,
				twofa_oob_hash_t const *code, time_t expires)
{
	PG_STORE(handle);
	CONN_USE(c);
	params_t	p = { 0 };
	int		changes = 0;
	twofa_rcode_t	rc;

	CONN_OR_FAIL(c, store);
	p_int(&p, user_id);
	p_int(&p, factor_id);
	p_blob(&p, code->salt, sizeof(code->salt));
	p_blob(&p, code->hash, sizeof(code->hash));
	p_int(&p, expires);
	rc = stmt_run(c, STMT_OOB_SET, &p, "set code", NULL, &changes);
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

/* The factor's code, if it matches the answer (constant time: oob.c): *matched, and the code in *code. */
static twofa_rcode_t oob_find(conn_t *c, oob_consume_args_t const *a, bool *matched, twofa_oob_hash_t *code)
{
	params_t	p = { 0 };
	PGresult	*r;
	uint8_t		*salt, *hash;
	size_t		salt_len = 0, hash_len = 0;
	twofa_rcode_t	rc;

	*matched = false;
	p_int(&p, a->user_id);
	p_int(&p, a->factor_id);
	if ((rc = stmt_run(c, STMT_OOB_FIND, &p, "find code", &r, NULL)) != TWOFA_OK) return rc;
	if (PQntuples(r) < 1) {
		PQclear(r);
		return TWOFA_OK;
	}
	salt = col_blob(NULL, r, 0, 0, &salt_len);
	hash = col_blob(NULL, r, 0, 1, &hash_len);
	PQclear(r);
	if (salt && hash && (salt_len == sizeof(code->salt)) && (hash_len == sizeof(code->hash))) {
		memcpy(code->salt, salt, sizeof(code->salt));
		memcpy(code->hash, hash, sizeof(code->hash));
		*matched = twofa_oob_code_matches(a->okey, code, a->answer, strlen(a->answer), a->digits);
	}
	talloc_free(salt);
	talloc_free(hash);
	return TWOFA_OK;
}

/* Not used: say why.  Every answer is a reject, so this read need not be atomic with the update. */
static twofa_rcode_t oob_why_not(conn_t *c, oob_consume_args_t const *a, bool matched, twofa_oob_hash_t const *code)
{
	params_t	p = { 0 };
	PGresult	*r;
	twofa_rcode_t	rc;

	p_int(&p, a->user_id);
	p_int(&p, a->factor_id);
	p_int(&p, a->now);
	p_blob(&p, code->salt, sizeof(code->salt));
	if ((rc = stmt_run(c, STMT_OOB_WHY_NOT, &p, "use code", &r, NULL)) != TWOFA_OK) return rc;
	if (PQntuples(r) < 1) rc = TWOFA_ERR_NOT_FOUND;		/* user deleted since */
	else if (col_bool(r, 0, 0)) rc = TWOFA_ERR_LOCKED;
	else if (!col_bool(r, 0, 1)) rc = TWOFA_ERR_NOT_ENROLLED;
	else if (!matched) rc = TWOFA_ERR_BAD_CODE;
	else if (col_bool(r, 0, 2)) rc = TWOFA_ERR_REPLAYED;
	else if (col_bool(r, 0, 3)) rc = TWOFA_ERR_EXPIRED;
	else rc = TWOFA_ERR_BAD_CODE;					/* replaced meanwhile */
	PQclear(r);
	return rc;
}

static twofa_rcode_t oob_consume_run(conn_t *c, void *arg)
{
	oob_consume_args_t const	*a = arg;
	twofa_oob_hash_t		code;
	params_t			p = { 0 };
	int64_t				taken = 0;
	bool				matched;
	twofa_rcode_t			rc;

	memset(&code, 0, sizeof(code));
	if ((rc = state_first(c, a->login)) != TWOFA_OK) return rc;
	if ((rc = oob_find(c, a, &matched, &code)) != TWOFA_OK) goto done;
	if (matched) {
		p_int(&p, a->user_id);
		p_int(&p, a->factor_id);
		p_int(&p, a->now);
		p_blob(&p, code.salt, sizeof(code.salt));
		p_login(&p, a->login);
		if ((rc = stmt_int(c, STMT_OOB_USE, &p, "use code", &taken)) != TWOFA_OK) goto done;
		if (taken == 1) goto done;
	}
	rc = oob_why_not(c, a, matched, &code);
done:
	OPENSSL_cleanse(&code, sizeof(code));
	return rc;
}

static twofa_rcode_t pg_oob_consume(twofa_store_t *handle, int64_t user_id, int64_t factor_id,
				    uint8_t const okey[TWOFA_OOB_KEY_LEN], char const *answer, unsigned int digits,
				    time_t now, twofa_login_t const *login)
{
	PG_STORE(handle);
	CONN_USE(c);
	oob_consume_args_t a = { .user_id = user_id, .factor_id = factor_id, .okey = okey, .answer = answer,
				 .digits = digits, .now = now, .login = login };

	if (!okey || !answer || !twofa_oob_code_well_formed(answer, strlen(answer), digits)) return TWOFA_ERR_MALFORMED;
	CONN_OR_FAIL(c, store);
	return consume_call(c, oob_consume_run, &a, login);
}

/*
 *	Send limits: check and count under the user's and the NAS's
 *	advisory locks, in one transaction.
 */
typedef struct {
	int64_t		user_id;
	char const	*nas;
	time_t		now;
	unsigned int	per_user;
	unsigned int	per_nas;
	bool		counted;	//!< out
} send_allow_args_t;

static twofa_rcode_t send_allow_run(conn_t *c, void *arg)
{
	send_allow_args_t	*a = arg;
	params_t		p = { 0 };
	int			changes = 0;
	twofa_rcode_t		rc;

	p_int(&p, a->user_id);
	p_field(&p, a->nas);
	if ((rc = stmt_run(c, STMT_SEND_LOCK, &p, "lock sends", NULL, NULL)) != TWOFA_OK) return rc;
	memset(&p, 0, sizeof(p));
	p_int(&p, a->user_id);
	p_field(&p, a->nas);
	p_int(&p, a->now);
	p_int(&p, a->per_user);
	p_int(&p, a->per_nas);
	p_int(&p, TWOFA_SEND_WINDOW);
	if ((rc = stmt_run(c, STMT_SEND_ALLOW, &p, "count send", NULL, &changes)) != TWOFA_OK) return rc;
	a->counted = (changes == 1);
	return TWOFA_OK;
}

static twofa_rcode_t pg_send_allow(twofa_store_t *handle, int64_t user_id, char const *nas, time_t now,
				   unsigned int per_user, unsigned int per_nas)
{
	PG_STORE(handle);
	CONN_USE(c);
	send_allow_args_t	a = { .user_id = user_id, .nas = nas ? nas : "", .now = now, .per_user = per_user,
				      .per_nas = per_nas };
	twofa_rcode_t		rc;

	CONN_OR_FAIL(c, store);
	/* Every TWOFA_SEND_PRUNE_EVERY sends of this process: the expired among the oldest rows go. */
	if (((__atomic_fetch_add(&store->sends, 1, __ATOMIC_RELAXED) % TWOFA_SEND_PRUNE_EVERY) == 0) &&
	    (PQtransactionStatus(c->pg) == PQTRANS_IDLE)) {
		params_t p = { 0 };

		p_int(&p, (int64_t) now - TWOFA_SEND_WINDOW);
		p_int(&p, TWOFA_SEND_PRUNE_ROWS);
		if ((rc = stmt_run(c, STMT_PRUNE_SENDS, &p, "prune sends", NULL, NULL)) != TWOFA_OK) return rc;
	}
	if ((rc = in_transaction(c, send_allow_run, &a)) != TWOFA_OK) return rc;
	return a.counted ? TWOFA_OK : TWOFA_ERR_THROTTLED;
}

static twofa_rcode_t pg_set_reply(twofa_store_t *handle, char const *name, char const *reply)
{
	PG_STORE(handle);
	params_t p = { 0 };

	p_text(&p, name);
	p_text(&p, (reply && *reply) ? reply : NULL);
	return run_by_name(store, STMT_SET_REPLY, "set reply attributes", name, &p, TWOFA_ERR_NOT_FOUND);
}

static twofa_rcode_t pg_set_preferred(twofa_store_t *handle, char const *name, twofa_factor_kind_t kind)
{
	PG_STORE(handle);
	params_t p = { 0 };

	if (kind && ((kind < TWOFA_FACTOR_TOTP) || (kind > TWOFA_FACTOR_KIND_LAST))) return TWOFA_ERR_MALFORMED;
	p_text(&p, name);
	p_text(&p, kind ? twofa_factor_kind_name(kind) : NULL);
	return run_by_name(store, STMT_SET_PREFERRED, "set preferred method", name, &p, TWOFA_ERR_NOT_FOUND);
}

/*
 *	Remembered devices (devices.h).
 */
static twofa_rcode_t pg_device_remember(twofa_store_t *handle, int64_t user_id,
					uint8_t const hash[TWOFA_DEVICE_HASH_LEN], time_t now, time_t expires,
					char const *nas)
{
	PG_STORE(handle);
	CONN_USE(c);
	params_t	p = { 0 };
	twofa_rcode_t	rc;

	CONN_OR_FAIL(c, store);
	/* Two statements, as SQLite's outside a batch: an expired device is forgotten, then remembered anew. */
	p_int(&p, user_id);
	p_int(&p, now);
	if ((rc = stmt_run(c, STMT_DEVICE_EXPIRE, &p, "expire devices", NULL, NULL)) != TWOFA_OK) return rc;
	memset(&p, 0, sizeof(p));
	p_int(&p, user_id);
	p_blob(&p, hash, TWOFA_DEVICE_HASH_LEN);
	p_int(&p, now);
	p_int(&p, expires);
	p_field(&p, nas);
	return stmt_run(c, STMT_DEVICE_REMEMBER, &p, "remember device", NULL, NULL);	/* user gone: STORE */
}

static twofa_rcode_t pg_device_known(twofa_store_t *handle, int64_t user_id,
				     uint8_t const hash[TWOFA_DEVICE_HASH_LEN], time_t now)
{
	PG_STORE(handle);
	CONN_USE(c);
	params_t	p = { 0 };
	int64_t		one = 0;

	CONN_OR_FAIL(c, store);
	p_int(&p, user_id);
	p_blob(&p, hash, TWOFA_DEVICE_HASH_LEN);
	p_int(&p, now);
	return stmt_int(c, STMT_DEVICE_KNOWN, &p, "device known", &one);	/* no row: NOT_FOUND */
}

/* The id of the user named name: NOT_FOUND if none. */
static twofa_rcode_t user_id_of(conn_t *c, char const *name, int64_t *id)
{
	params_t p = { 0 };

	p_text(&p, name);
	return stmt_int(c, STMT_USER_ID, &p, "user id", id);
}

static twofa_rcode_t pg_device_list(twofa_store_t *handle, TALLOC_CTX *ctx, char const *name, time_t now,
				    twofa_device_t **out, size_t *count)
{
	PG_STORE(handle);
	CONN_USE(c);
	params_t	p = { 0 };
	PGresult	*r;
	twofa_device_t	*list;
	int64_t		user_id = 0;
	int		row, n;
	twofa_rcode_t	rc;

	*out = NULL;
	*count = 0;
	CONN_OR_FAIL(c, store);
	if ((rc = user_id_of(c, name, &user_id)) != TWOFA_OK) return rc;
	p_int(&p, user_id);
	p_int(&p, now);
	if ((rc = stmt_run(c, STMT_DEVICE_LIST, &p, "list devices", &r, NULL)) != TWOFA_OK) return rc;
	n = PQntuples(r);
	if (!(list = talloc_zero_array(ctx, twofa_device_t, n))) {
		PQclear(r);
		return TWOFA_ERR_NO_MEMORY;
	}
	for (row = 0; row < n; row++) {
		list[row].id = col_int(r, row, 0);
		list[row].created = col_int(r, row, 1);
		list[row].last_used = col_int(r, row, 2);
		list[row].expires = col_int(r, row, 3);
		list[row].nas = col_str(list, r, row, 4);
	}
	PQclear(r);
	*out = list;
	*count = (size_t) n;
	return TWOFA_OK;
}

static twofa_rcode_t pg_device_forget(twofa_store_t *handle, char const *name, int64_t id, unsigned int *forgotten)
{
	PG_STORE(handle);
	CONN_USE(c);
	params_t	p = { 0 };
	int64_t		user_id = 0;
	int		changes = 0;
	twofa_rcode_t	rc;

	if (forgotten) *forgotten = 0;
	CONN_OR_FAIL(c, store);
	if ((rc = user_id_of(c, name, &user_id)) != TWOFA_OK) return rc;
	p_int(&p, user_id);
	p_int(&p, id);
	rc = stmt_run(c, STMT_DEVICE_FORGET, &p, "forget devices", NULL, &changes);
	if ((rc == TWOFA_OK) && forgotten) *forgotten = (unsigned int) changes;
	return rc;
}

/*
 *	The whole store (twofa-admin migrate).
 */
static twofa_rcode_t dump_run(conn_t *c, void *arg)
{
	twofa_store_dump_t	*d = arg;
	PGresult		*r;
	int			row;
	twofa_rcode_t		rc;

	if ((rc = conn_plain(c, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")) != TWOFA_OK) return rc;
	if ((rc = stmt_run(c, STMT_LIST_USERS, NULL, "dump users", &r, NULL)) != TWOFA_OK) return rc;
	rc = users_from_rows(r, d, &d->users, &d->num_users);
	PQclear(r);
	if (rc != TWOFA_OK) return rc;

	if ((rc = stmt_run(c, STMT_DUMP_CODES, NULL, "dump backup codes", &r, NULL)) != TWOFA_OK) return rc;
	d->num_codes = (size_t) PQntuples(r);
	d->codes = talloc_zero_array(d, twofa_backup_row_t, d->num_codes ? d->num_codes : 1);
	for (row = 0; d->codes && (row < PQntuples(r)); row++) {
		twofa_backup_row_t *b = &d->codes[row];

		b->id = col_int(r, row, 0);
		b->user_id = col_int(r, row, 1);
		b->salt = col_blob(d->codes, r, row, 2, &b->salt_len);
		b->hash = col_blob(d->codes, r, row, 3, &b->hash_len);
		b->created = col_int(r, row, 4);
		b->used_at = col_int(r, row, 5);
	}
	PQclear(r);
	if (!d->codes) return TWOFA_ERR_NO_MEMORY;

	if ((rc = stmt_run(c, STMT_DUMP_AUDIT, NULL, "dump audit", &r, NULL)) != TWOFA_OK) return rc;
	d->num_audit = (size_t) PQntuples(r);
	d->audit = talloc_zero_array(d, twofa_audit_row_t, d->num_audit ? d->num_audit : 1);
	for (row = 0; d->audit && (row < PQntuples(r)); row++) {
		twofa_audit_row_t *a = &d->audit[row];

		a->id = col_int(r, row, 0);
		a->at = col_int(r, row, 1);
		a->actor = col_str(d->audit, r, row, 2);
		a->action = col_str(d->audit, r, row, 3);
		a->user = col_str(d->audit, r, row, 4);
		a->detail = col_str(d->audit, r, row, 5);
	}
	PQclear(r);
	if (!d->audit) return TWOFA_ERR_NO_MEMORY;

	{
		params_t p = { 0 };

		p_text(&p, NULL);
		p_int(&p, INT64_MIN);
		if ((rc = stmt_run(c, STMT_LIST_LOGINS, &p, "dump logins", &r, NULL)) != TWOFA_OK) return rc;
		rc = logins_from_rows(r, d, &d->logins, &d->num_logins);
		PQclear(r);
		if (rc != TWOFA_OK) return rc;
	}

	if ((rc = stmt_run(c, STMT_DUMP_DEVICES, NULL, "dump devices", &r, NULL)) != TWOFA_OK) return rc;
	d->num_devices = (size_t) PQntuples(r);
	d->devices = talloc_zero_array(d, twofa_device_row_t, d->num_devices ? d->num_devices : 1);
	for (row = 0; d->devices && (row < PQntuples(r)); row++) {
		twofa_device_row_t *v = &d->devices[row];

		v->id = col_int(r, row, 0);
		v->user_id = col_int(r, row, 1);
		v->hash = col_blob(d->devices, r, row, 2, &v->hash_len);
		v->created = col_int(r, row, 3);
		v->last_used = col_int(r, row, 4);
		v->expires = col_int(r, row, 5);
		v->nas = col_str(d->devices, r, row, 6);
	}
	PQclear(r);
	return d->devices ? TWOFA_OK : TWOFA_ERR_NO_MEMORY;
}

static twofa_rcode_t pg_dump(twofa_store_t *handle, TALLOC_CTX *ctx, twofa_store_dump_t **out)
{
	PG_STORE(handle);
	CONN_USE(c);
	twofa_store_dump_t	*d;
	twofa_rcode_t		rc;

	CONN_OR_FAIL(c, store);
	if (!(d = talloc_zero(ctx, twofa_store_dump_t))) return TWOFA_ERR_NO_MEMORY;
	d->schema_version = store->schema_version;
	rc = in_transaction(c, dump_run, d);
	if (rc != TWOFA_OK) {
		talloc_free(d);
		return rc;
	}
	*out = d;
	return TWOFA_OK;
}

/* The newest used step of factor_id in the dump's record of used steps, or -1. */
static int64_t newest_used_step(twofa_store_dump_t const *d, int64_t factor_id)
{
	int64_t	newest = -1;
	size_t	i;

	for (i = 0; i < d->num_used; i++) {
		if ((d->used[i].factor_id == factor_id) && (d->used[i].step > newest)) newest = d->used[i].step;
	}
	return newest;
}

static twofa_rcode_t load_user(conn_t *c, twofa_store_dump_t const *d, twofa_user_t const *u)
{
	params_t	p = { 0 };
	unsigned int	i;
	twofa_rcode_t	rc;

	p_int(&p, u->id);
	p_text(&p, u->name);
	p_text(&p, u->password_hash);
	p_int(&p, u->created);
	p_int(&p, u->fail_count);
	p_int(&p, u->lock_count);
	p_int(&p, u->locked_until);
	p_int(&p, u->password_failures);
	p_int(&p, u->password_next_try);
	p_bool(&p, u->exempt);
	p_text(&p, u->preferred ? twofa_factor_kind_name(u->preferred) : NULL);
	p_text(&p, u->reply);
	if ((rc = stmt_run(c, STMT_LOAD_USER, &p, "load user", NULL, NULL)) != TWOFA_OK) return rc;

	for (i = 0; i < u->num_factors; i++) {
		twofa_factor_t const	*f = &u->factors[i];
		int64_t			used = newest_used_step(d, f->id);

		memset(&p, 0, sizeof(p));
		p_int(&p, f->id);
		p_int(&p, u->id);
		p_text(&p, twofa_factor_kind_name(f->kind));
		p_bool(&p, f->confirmed);
		p_factor(&p, f);
		p_text(&p, f->address);
		p_int(&p, (used > f->last_step) ? used : f->last_step);	/* the high-water mark */
		p_int(&p, f->created);
		if ((rc = stmt_run(c, STMT_LOAD_FACTOR, &p, "load factor", NULL, NULL)) != TWOFA_OK) return rc;
	}
	return TWOFA_OK;
}

static twofa_rcode_t load_run(conn_t *c, void *arg)
{
	twofa_store_dump_t const	*d = arg;
	params_t			p;
	int64_t				taken = 0;
	size_t				i;
	twofa_rcode_t			rc;

	if ((rc = stmt_int(c, STMT_LOAD_EMPTY, NULL, "load", &taken)) != TWOFA_OK) return rc;
	if (taken) {
		snprintf(thread_errmsg, sizeof(thread_errmsg), "the target store holds users or logins already");
		return TWOFA_ERR_EXISTS;
	}
	for (i = 0; i < d->num_users; i++) if ((rc = load_user(c, d, d->users[i])) != TWOFA_OK) return rc;
	for (i = 0; i < d->num_codes; i++) {
		twofa_backup_row_t const *b = &d->codes[i];

		memset(&p, 0, sizeof(p));
		p_int(&p, b->id);
		p_int(&p, b->user_id);
		p_blob(&p, b->salt, b->salt_len);
		p_blob(&p, b->hash, b->hash_len);
		p_int(&p, b->created);
		p_int(&p, b->used_at);
		if ((rc = stmt_run(c, STMT_LOAD_CODE, &p, "load backup code", NULL, NULL)) != TWOFA_OK) return rc;
	}
	for (i = 0; i < d->num_audit; i++) {
		memset(&p, 0, sizeof(p));
		p_int(&p, d->audit[i].at);
		p_text(&p, d->audit[i].actor);
		p_text(&p, d->audit[i].action);
		p_text(&p, d->audit[i].user);
		p_text(&p, d->audit[i].detail);
		if ((rc = stmt_run(c, STMT_LOAD_AUDIT, &p, "load audit", NULL, NULL)) != TWOFA_OK) return rc;
	}
	for (i = 0; i < d->num_logins; i++) {
		memset(&p, 0, sizeof(p));
		p_int(&p, d->logins[i].id);
		p_login(&p, &d->logins[i]);
		if ((rc = stmt_run(c, STMT_LOAD_LOGIN, &p, "load login", NULL, NULL)) != TWOFA_OK) return rc;
	}
	for (i = 0; i < d->num_devices; i++) {
		twofa_device_row_t const *v = &d->devices[i];

		memset(&p, 0, sizeof(p));
		p_int(&p, v->id);
		p_int(&p, v->user_id);
		p_blob(&p, v->hash, v->hash_len);
		p_int(&p, v->created);
		p_int(&p, v->last_used);
		p_int(&p, v->expires);
		p_field(&p, v->nas);
		if ((rc = stmt_run(c, STMT_LOAD_DEVICE, &p, "load device", NULL, NULL)) != TWOFA_OK) return rc;
	}
	return conn_exec_sql(c, load_sequences, "load", c->store->timeout_ms, NULL);
}

static twofa_rcode_t pg_load(twofa_store_t *handle, twofa_store_dump_t const *dump)
{
	PG_STORE(handle);
	CONN_USE(c);

	if (dump->schema_version != store->schema_version) {
		snprintf(thread_errmsg, sizeof(thread_errmsg), "schema version %d, the target's is %d: "
			 "open the source with this build first (it migrates)", dump->schema_version,
			 store->schema_version);
		return TWOFA_ERR_MALFORMED;
	}
	CONN_OR_FAIL(c, store);
	return in_transaction(c, load_run, (void *) dump);
}

/*
 *	Bulk transactions: the connection stays with the thread that began.
 */
static twofa_rcode_t pg_begin(twofa_store_t *handle, twofa_store_txn_t **txn)
{
	PG_STORE(handle);
	twofa_store_txn_t	*t;
	conn_t			*c;
	twofa_rcode_t		rc;

	if (txn_store) return TWOFA_ERR_EXISTS;		/* one at a time per thread */
	if (!(t = talloc_zero(store, twofa_store_txn_t))) return TWOFA_ERR_NO_MEMORY;
	t->store = handle;
	if (!(c = conn_acquire(store))) {
		talloc_free(t);
		return thread_acquire_rc;
	}
	if ((rc = conn_plain(c, "BEGIN")) != TWOFA_OK) {
		conn_release(&c);
		talloc_free(t);
		return rc;
	}
	txn_store = store;
	txn_conn = c;
	*txn = t;
	return TWOFA_OK;
}

/* COMMIT or ROLLBACK, then the connection goes back; a transaction a failed call aborted is rolled back. */
static twofa_rcode_t txn_end(twofa_store_txn_t *txn, char const *sql)
{
	pg_store_t	*store = (pg_store_t *) txn->store;
	conn_t		*c = txn_conn;
	twofa_rcode_t	rc;

	if (txn_store != store) return TWOFA_ERR_STORE;		/* another thread's, or ended */
	thread_errmsg[0] = '\0';
	if ((strcmp(sql, "COMMIT") == 0) && (PQtransactionStatus(c->pg) == PQTRANS_INERROR)) {
		snprintf(thread_errmsg, sizeof(thread_errmsg), "commit: a statement of the transaction failed: rolled back");
		sql = "ROLLBACK";
		rc = TWOFA_ERR_STORE;
		conn_plain(c, sql);
	} else {
		rc = conn_plain(c, sql);
	}
	txn_store = NULL;
	txn_conn = NULL;
	conn_release(&c);
	talloc_free(txn);
	return rc;
}

static twofa_rcode_t pg_commit(twofa_store_txn_t *txn)
{
	return txn_end(txn, "COMMIT");
}

static twofa_rcode_t pg_rollback(twofa_store_txn_t *txn)
{
	return txn_end(txn, "ROLLBACK");
}

twofa_store_ops_t const twofa_store_pg_ops = {
	.scheme			= "postgresql",
	.open			= pg_open,
	.errmsg			= pg_errmsg,
	.schema_version		= pg_schema_version,
	.get_user		= pg_get_user,
	.add_user		= pg_add_user,
	.set_password		= pg_set_password,
	.delete_user		= pg_delete_user,
	.set_exempt		= pg_set_exempt,
	.reset_user		= pg_reset_user,
	.list_users		= pg_list_users,
	.factor_set		= pg_factor_set,
	.factor_confirm		= pg_factor_confirm,
	.factor_remove		= pg_factor_remove,
	.factor_enrol		= pg_factor_enrol,
	.factor_consume_step	= pg_factor_consume_step,
	.backup_set		= pg_backup_set,
	.backup_consume		= pg_backup_consume,
	.record_failure		= pg_record_failure,
	.record_success		= pg_record_success,
	.record_password_failure = pg_record_password_failure,
	.record_password_success = pg_record_password_success,
	.unlock			= pg_unlock,
	.audit			= pg_audit,
	.log_login		= pg_log_login,
	.list_logins		= pg_list_logins,
	.dump			= pg_dump,
	.load			= pg_load,
	.begin			= pg_begin,
	.commit			= pg_commit,
	.rollback		= pg_rollback,
	.state_use		= pg_state_use,
	.oob_set		= pg_oob_set,
	.oob_consume		= pg_oob_consume,
	.send_allow		= pg_send_allow,
	.set_preferred		= pg_set_preferred,
	.set_reply		= pg_set_reply,
	.device_remember	= pg_device_remember,
	.device_known		= pg_device_known,
	.device_list		= pg_device_list,
	.device_forget		= pg_device_forget,
};
