/*
 * init.c	twofa-admin init: the store, the key file and their folders,
 *		made safely as root over folders another account owns.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin.h"

/*
 *	init
 *
 *	Run as root over a directory whose parent (or itself, on a second run)
 *	belongs to another account, such as freerad: that account can plant a
 *	symlink or a hard link where the directory, the key or the store should
 *	be, so that root hands it the link's target.  So every name is opened
 *	without following a symlink, checked, and changed through its
 *	descriptor (fchown, fchmod), never by path.
 */
typedef struct {
	char const	*path;			//!< as given, for messages
	int		dfd;			//!< its directory, opened O_NOFOLLOW
	char const	*base;			//!< its name in that directory
} entry_t;

/** "is a symbolic link" or "is not a directory": why path cannot be opened as one. */
static int not_a_directory(char const *path)
{
	struct stat st;

	if ((lstat(path, &st) == 0) && S_ISLNK(st.st_mode)) {
		return say(ADMIN_ERROR, "%s is a symbolic link: refused, give the real path", path);
	}
	return say(ADMIN_ERROR, "%s is not a directory", path);
}

/** Open the directory path itself, never what a symlink in its place points to. */
static int open_dir_nofollow(char const *path, int *fd)
{
	*fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*fd >= 0) return ADMIN_OK;
	if ((errno == ELOOP) || (errno == ENOTDIR)) return not_a_directory(path);
	return say(ADMIN_ERROR, "cannot open directory %s: %s", path, strerror(errno));
}

/** mkdir -p: missing parents 0755, the directory itself 0750.  Each new
 *  directory gets its mode through a descriptor (the umask takes bits off
 *  mkdir's).  What exists is left as it is: open_dir_nofollow judges it.
 */
static int make_dirs(TALLOC_CTX *ctx, char const *dir, mode_t mode)
{
	struct stat	st;
	char		*parent;
	int		fd, ret;

	if (lstat(dir, &st) == 0) return ADMIN_OK;
	parent = dir_of(ctx, dir);
	if ((strcmp(parent, dir) != 0) && ((ret = make_dirs(ctx, parent, 0755)) != ADMIN_OK)) return ret;
	if (mkdir(dir, mode) < 0) return say(ADMIN_ERROR, "cannot create directory %s: %s", dir, strerror(errno));
	if ((ret = open_dir_nofollow(dir, &fd)) != ADMIN_OK) return ret;
	if (fchmod(fd, mode) < 0) ret = say(ADMIN_ERROR, "cannot chmod %s: %s", dir, strerror(errno));
	close(fd);
	return ret;
}

/** Open e's file for fchown: a regular file with one link, not a symlink.
 *  *fd is -1 if there is no such file.
 */
static int open_entry(entry_t const *e, int *fd)
{
	struct stat st;

	*fd = -1;
	if (fstatat(e->dfd, e->base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT) return ADMIN_OK;
		return say(ADMIN_ERROR, "cannot stat %s: %s", e->path, strerror(errno));
	}
	if (S_ISLNK(st.st_mode)) {
		return say(ADMIN_ERROR, "%s is a symbolic link: refused, remove it or give the real path", e->path);
	}
	if (!S_ISREG(st.st_mode)) return say(ADMIN_ERROR, "%s is not a regular file", e->path);

	*fd = openat(e->dfd, e->base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (*fd < 0) {
		if (errno == ELOOP) return say(ADMIN_ERROR, "%s is a symbolic link: refused", e->path);
		return say(ADMIN_ERROR, "cannot open %s: %s", e->path, strerror(errno));
	}
	/* A hard link can be to anyone's file, /etc/shadow included. */
	if ((fstat(*fd, &st) < 0) || !S_ISREG(st.st_mode) || (st.st_nlink != 1)) {
		close(*fd);
		*fd = -1;
		return say(ADMIN_ERROR, "%s has other hard links or is not a regular file: refused", e->path);
	}
	return ADMIN_OK;
}

/** Check e's file, if there is one, and hand it to owner (may be NULL: check only). */
static int check_entry(entry_t const *e, struct passwd const *owner)
{
	int fd, ret;

	if (((ret = open_entry(e, &fd)) != ADMIN_OK) || (fd < 0)) return ret;
	if (owner && (fchown(fd, owner->pw_uid, owner->pw_gid) < 0)) {
		ret = say(ADMIN_ERROR, "cannot chown %s: %s", e->path, strerror(errno));
	}
	close(fd);
	return ret;
}

/** The key file, the store and SQLite's files beside it. */
#define INIT_ENTRIES 5

static void init_entries(admin_t *a, int store_dfd, int key_dfd, entry_t entries[INIT_ENTRIES])
{
	static char const *suffixes[] = { "", "-wal", "-shm", "-journal" };
	char const	*store = store_file(a), *slash;
	size_t		i;

	slash = strrchr(a->key_path, '/');
	entries[0] = (entry_t) { .path = a->key_path, .dfd = key_dfd, .base = slash ? slash + 1 : a->key_path };
	for (i = 0; i < INIT_ENTRIES - 1; i++) {
		char const *path = talloc_asprintf(a->ctx, "%s%s", store, suffixes[i]);

		slash = strrchr(path, '/');
		entries[i + 1] = (entry_t) { .path = path, .dfd = store_dfd, .base = slash ? slash + 1 : path };
	}
}

/** Create the key file in the directory open as e->dfd, whatever its path points to by now. */
static twofa_rcode_t create_key_in(entry_t const *e, char *err, size_t err_len)
{
	twofa_rcode_t	rc;
	int		cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if ((cwd < 0) || (fchdir(e->dfd) < 0)) {
		snprintf(err, err_len, "cannot enter its directory: %s", strerror(errno));
		if (cwd >= 0) close(cwd);
		return TWOFA_ERR_IO;
	}
	rc = twofa_crypto_create_key_file(e->base, err, err_len);
	if (fchdir(cwd) < 0) {
		snprintf(err, err_len, "cannot return to the working directory: %s", strerror(errno));
		rc = TWOFA_ERR_IO;
	}
	close(cwd);
	return rc;
}

/** An empty store file, created in the checked directory, never through a symlink;
 *  SQLite makes the schema in it.  *created says whether there was none.
 */
static int create_store_file(entry_t const *e, bool *created)
{
	int fd = openat(e->dfd, e->base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);

	*created = (fd >= 0);
	if (fd >= 0) {
		close(fd);
		return ADMIN_OK;
	}
	if (errno == EEXIST) return ADMIN_OK;		/* checked by open_entry already */
	return say(ADMIN_ERROR, "cannot create %s: %s", e->path, strerror(errno));
}

static int init_print(admin_t *a, struct passwd const *owner, bool store_created, bool key_created)
{
	if (a->json) {
		fputs("{\"store\":", stdout);
		json_escape(stdout, store_file(a));
		printf(",\"store_created\":%s,\"key_file\":", store_created ? "true" : "false");
		json_escape(stdout, a->key_path);
		printf(",\"key_created\":%s,\"owner\":", key_created ? "true" : "false");
		if (owner) json_escape(stdout, owner->pw_name);
		else fputs("null", stdout);
		fputs("}\n", stdout);
		return ADMIN_OK;
	}
	if (store_is_server(a->store_path)) {
		printf("store %s: ready (schema %d)\n", a->store_path, twofa_store_schema_version(a->store));
	} else {
		printf("store %s: %s (schema %d)\n", store_file(a), store_created ? "created" : "exists, kept",
		       twofa_store_schema_version(a->store));
	}
	printf("key file %s: %s\n", a->key_path, key_created ? "created" : "exists, kept");
	if (owner) printf("owner: %s\n", owner->pw_name);
	return ADMIN_OK;
}

/** Directories, key and store file, each checked then handed to owner (if any). */
static int init_files(admin_t *a, struct passwd const *owner, bool *store_created, bool *key_created)
{
	char const	*dir = dir_of(a->ctx, store_file(a)), *key_dir = dir_of(a->ctx, a->key_path);
	entry_t		entries[INIT_ENTRIES];
	char		err[256] = "";
	int		store_dfd = -1, key_dfd = -1, ret;
	size_t		i;
	twofa_rcode_t	rc;

	if ((ret = make_dirs(a->ctx, dir, 0750)) != ADMIN_OK) return ret;
	if ((ret = open_dir_nofollow(dir, &store_dfd)) != ADMIN_OK) return ret;
	if ((strcmp(key_dir, dir) != 0) && ((ret = open_dir_nofollow(key_dir, &key_dfd)) != ADMIN_OK)) goto done;
	init_entries(a, store_dfd, (key_dfd >= 0) ? key_dfd : store_dfd, entries);

	/* Refuse a planted link before creating or changing anything. */
	for (i = 0; i < INIT_ENTRIES; i++) if ((ret = check_entry(&entries[i], NULL)) != ADMIN_OK) goto done;

	rc = create_key_in(&entries[0], err, sizeof(err));
	if ((rc != TWOFA_OK) && (rc != TWOFA_ERR_EXISTS)) {
		ret = say(ADMIN_ERROR, "key file %s: %s", a->key_path, err);
		goto done;
	}
	*key_created = (rc == TWOFA_OK);
	if ((ret = create_store_file(&entries[1], store_created)) != ADMIN_OK) goto done;

	if (owner && (fchown(store_dfd, owner->pw_uid, owner->pw_gid) < 0)) {
		ret = say(ADMIN_ERROR, "cannot chown %s: %s", dir, strerror(errno));
		goto done;
	}
	for (i = 0; i < INIT_ENTRIES; i++) if ((ret = check_entry(&entries[i], owner)) != ADMIN_OK) goto done;
done:
	if (key_dfd >= 0) close(key_dfd);
	close(store_dfd);
	return ret;
}

/** A database server's store: only the key file here (and its folder), handed to owner. */
static int init_key_only(admin_t *a, struct passwd const *owner, bool *key_created)
{
	char const	*key_dir = dir_of(a->ctx, a->key_path), *slash = strrchr(a->key_path, '/');
	entry_t		key;
	char		err[256] = "";
	int		dfd = -1, ret;
	twofa_rcode_t	rc;

	if ((ret = make_dirs(a->ctx, key_dir, 0750)) != ADMIN_OK) return ret;
	if ((ret = open_dir_nofollow(key_dir, &dfd)) != ADMIN_OK) return ret;
	key = (entry_t) { .path = a->key_path, .dfd = dfd, .base = slash ? slash + 1 : a->key_path };
	if ((ret = check_entry(&key, NULL)) != ADMIN_OK) goto done;
	rc = create_key_in(&key, err, sizeof(err));
	if ((rc != TWOFA_OK) && (rc != TWOFA_ERR_EXISTS)) {
		ret = say(ADMIN_ERROR, "key file %s: %s", a->key_path, err);
		goto done;
	}
	*key_created = (rc == TWOFA_OK);
	if (owner && (fchown(dfd, owner->pw_uid, owner->pw_gid) < 0)) {
		ret = say(ADMIN_ERROR, "cannot chown %s: %s", key_dir, strerror(errno));
		goto done;
	}
	ret = check_entry(&key, owner);
done:
	close(dfd);
	return ret;
}

int cmd_init(admin_t *a, command_t const *cmd, int argc, char **argv)
{
	static struct option const opts[] = { { "owner", required_argument, NULL, 'o' }, OPT_HELP, OPT_END };
	char const	*owner_name = NULL;
	struct passwd	*owner = NULL;
	bool		key_created = false, store_created = false;
	int		c, ret;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c != 'o') return usage_of(cmd, c);
		owner_name = optarg;
	}
	if (argc != optind) return usage_of(cmd, '?');

	if (owner_name && !(owner = getpwnam(owner_name))) {
		return say(ADMIN_REFUSED, "no such system user \"%s\"", owner_name);
	}
	if (!owner_name && (geteuid() == 0)) owner = getpwnam(DEFAULT_OWNER);	/* else stay root */
	if (owner && (geteuid() != 0)) {
		if (owner->pw_uid != geteuid()) return say(ADMIN_REFUSED, "--owner needs root");
		owner = NULL;		/* already ours */
	}

	if (store_is_server(a->store_path)) {
		/* The schema is made by the database's role, whoever runs us. */
		if ((ret = init_key_only(a, owner, &key_created)) != ADMIN_OK) return ret;
		if ((ret = open_store(a, true)) != ADMIN_OK) return ret;
		if ((ret = audit(a, "init", NULL, "store ready")) != ADMIN_OK) return ret;
		return init_print(a, owner, false, key_created);
	}
	if ((ret = init_files(a, owner, &store_created, &key_created)) != ADMIN_OK) return ret;
	/* SQLite creates the schema, -wal and -shm as the owner, not as root. */
	if (owner && (owner->pw_uid != 0) && ((ret = become(owner->pw_uid, owner->pw_gid)) != ADMIN_OK)) return ret;
	if ((ret = open_store(a, true)) != ADMIN_OK) return ret;
	if ((ret = audit(a, "init", NULL, store_created ? "store created" : "store kept")) != ADMIN_OK) return ret;
	return init_print(a, owner, store_created, key_created);
}

