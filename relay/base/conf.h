/* conf.h — one table per program drives config parsing, range checks, --help and --check-config.
 *
 * Owns: parsing `key value` lines (with `#` comments) and `--key value` / `--key=value` flags into a
 * program's own config struct, described by a conf_key_t table.
 * Must not: know any program's keys, or touch anything but the struct it is given.
 *
 * Order that programs use: conf_defaults(); conf_load_file() (if --config given); conf_apply_args()
 * (flags override the file); conf_free() at exit.
 * Errors are written into `err` as "FILE:LINE: key 'NAME': reason" (or "--NAME: reason" for flags).
 */
#ifndef STAFFROOM_CONF_H
#define STAFFROOM_CONF_H

#include <stddef.h>
#include <stdio.h>

typedef enum {
    CONF_INT,  /* long long, checked against [min, max] */
    CONF_BOOL, /* int 0/1; accepts yes/no, true/false, on/off, 1/0 */
    CONF_STR,  /* char *, owned by the struct (conf_free frees it) */
    CONF_LIST, /* conf_list_t; each occurrence of the key appends one item */
} conf_type_t;

typedef struct {
    char **items; /* owned */
    size_t n;
} conf_list_t;

typedef struct {
    const char *name;   /* "listen-port": the file key, and the flag --listen-port */
    conf_type_t type;
    size_t offset;      /* offsetof(program_config, field) */
    const char *def;    /* default as text, or NULL for none (empty string / empty list / 0) */
    long long min, max; /* CONF_INT only */
    const char *unit;   /* "bytes", "seconds", … or NULL; shown in --help */
    const char *help;   /* one line */
} conf_key_t;

/* Tables end with an entry whose name is NULL. */

/* Sets every key to its default. Returns 0, or -1 (err filled) if a default is invalid (a bug). */
int conf_defaults(const conf_key_t *tab, void *cfg, char *err, size_t errlen);

/* Reads a file of `key value` lines. A list key in the file replaces the default list on its first
 * occurrence, then appends. Returns 0, or -1 with err naming file, line and key. */
int conf_load_file(const conf_key_t *tab, void *cfg, const char *path, char *err, size_t errlen);

/* Sets one key from text. Returns 0, or -1 with err (without location). */
int conf_set(const conf_key_t *tab, void *cfg, const char *key, const char *value, char *err,
             size_t errlen);

/* Applies flags `--key value` and `--key=value` for every key in the table. argv entries that are
 * not table keys are left for the caller: their indexes are written to rest[] (at most argc of them)
 * and their count to *nrest. Returns 0, or -1 with err. */
int conf_apply_args(const conf_key_t *tab, void *cfg, int argc, char **argv, int *rest, int *nrest,
                    char *err, size_t errlen);

/* Finds a flag's value in argv without applying anything (used to find --config before the rest).
 * Returns a borrowed pointer into argv, or NULL. */
const char *conf_find_arg(int argc, char **argv, const char *name);

/* Prints one line per key: --name <type> (default, unit) help. */
void conf_print_help(const conf_key_t *tab, FILE *out);

/* Prints the effective value of every key, in config-file syntax. Secrets are the caller's concern:
 * keys whose name ends in "-file" are printed (paths), never file contents. */
void conf_print_values(const conf_key_t *tab, const void *cfg, FILE *out);

/* Frees the strings and lists of cfg. */
void conf_free(const conf_key_t *tab, void *cfg);

#endif
