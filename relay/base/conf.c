/* conf.c — see conf.h. */
#include "conf.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define CONF_LINE_MAX 4096

static const conf_key_t *conf_find(const conf_key_t *tab, const char *name)
{
    for (const conf_key_t *k = tab; k->name; k++)
        if (strcmp(k->name, name) == 0)
            return k;
    return NULL;
}

static void conf_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int parse_bool(const char *v, int *out)
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) { *out = 1; return 0; }
        if (strcasecmp(v, no[i]) == 0) { *out = 0; return 0; }
    }
    return -1;
}

static void list_clear(conf_list_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

static int list_append(conf_list_t *l, const char *v)
{
    char **items = realloc(l->items, (l->n + 1) * sizeof *items);
    if (!items)
        return -1;
    l->items = items;
    if (!(l->items[l->n] = strdup(v)))
        return -1;
    l->n++;
    return 0;
}

static int conf_set_key(const conf_key_t *k, void *cfg, const char *value, char *err, size_t errlen)
{
    char *field = (char *)cfg + k->offset;

    switch (k->type) {
    case CONF_INT: {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end) {
            conf_err(err, errlen, "'%s' is not a whole number", value);
            return -1;
        }
        if (v < k->min || v > k->max) {
            conf_err(err, errlen, "%lld is out of range [%lld, %lld]", v, k->min, k->max);
            return -1;
        }
        *(long long *)field = v;
        return 0;
    }
    case CONF_BOOL:
        if (parse_bool(value, (int *)field) < 0) {
            conf_err(err, errlen, "'%s' is not yes/no", value);
            return -1;
        }
        return 0;
    case CONF_STR: {
        char *copy = strdup(value);
        if (!copy) {
            conf_err(err, errlen, "out of memory");
            return -1;
        }
        free(*(char **)field);
        *(char **)field = copy;
        return 0;
    }
    case CONF_LIST:
        if (list_append((conf_list_t *)field, value) < 0) {
            conf_err(err, errlen, "out of memory");
            return -1;
        }
        return 0;
    }
    conf_err(err, errlen, "unknown key type");
    return -1;
}

int conf_set(const conf_key_t *tab, void *cfg, const char *key, const char *value, char *err,
             size_t errlen)
{
    const conf_key_t *k = conf_find(tab, key);
    if (!k) {
        conf_err(err, errlen, "unknown key '%s'", key);
        return -1;
    }
    char why[512];
    if (conf_set_key(k, cfg, value, why, sizeof why) < 0) {
        conf_err(err, errlen, "key '%s': %s", key, why);
        return -1;
    }
    return 0;
}

int conf_defaults(const conf_key_t *tab, void *cfg, char *err, size_t errlen)
{
    for (const conf_key_t *k = tab; k->name; k++) {
        char *field = (char *)cfg + k->offset;
        switch (k->type) {
        case CONF_INT: *(long long *)field = 0; break;
        case CONF_BOOL: *(int *)field = 0; break;
        case CONF_STR: free(*(char **)field); *(char **)field = NULL; break;
        case CONF_LIST: list_clear((conf_list_t *)field); break;
        }
        if (k->def && conf_set(tab, cfg, k->name, k->def, err, errlen) < 0)
            return -1;
        if (!k->def && k->type == CONF_STR && !(*(char **)field = strdup(""))) {
            conf_err(err, errlen, "out of memory");
            return -1;
        }
    }
    return 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

int conf_load_file(const conf_key_t *tab, void *cfg, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        conf_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    /* A list key named in the file replaces its default rather than adding to it. */
    size_t nkeys = 0;
    while (tab[nkeys].name)
        nkeys++;
    char *seen = calloc(nkeys ? nkeys : 1, 1);
    char line[CONF_LINE_MAX];
    int lineno = 0, rc = 0;

    if (!seen) {
        fclose(f);
        conf_err(err, errlen, "out of memory");
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            conf_err(err, errlen, "%s:%d: line longer than %d bytes", path, lineno, CONF_LINE_MAX);
            rc = -1;
            break;
        }
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *s = trim(line);
        if (!*s)
            continue;
        char *key = s, *value = s;
        while (*value && !isspace((unsigned char)*value))
            value++;
        if (*value)
            *value++ = '\0';
        value = trim(value);
        const conf_key_t *k = conf_find(tab, key);
        if (!k) {
            conf_err(err, errlen, "%s:%d: unknown key '%s'", path, lineno, key);
            rc = -1;
            break;
        }
        if (!*value && k->type != CONF_STR) {
            conf_err(err, errlen, "%s:%d: key '%s': missing value", path, lineno, key);
            rc = -1;
            break;
        }
        size_t idx = (size_t)(k - tab);
        if (k->type == CONF_LIST && !seen[idx])
            list_clear((conf_list_t *)((char *)cfg + k->offset));
        seen[idx] = 1;
        char why[512];
        if (conf_set_key(k, cfg, value, why, sizeof why) < 0) {
            conf_err(err, errlen, "%s:%d: key '%s': %s", path, lineno, key, why);
            rc = -1;
            break;
        }
    }
    free(seen);
    fclose(f);
    return rc;
}

const char *conf_find_arg(int argc, char **argv, const char *name)
{
    size_t n = strlen(name);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) || strncmp(a + 2, name, n))
            continue;
        if (a[2 + n] == '=')
            return a + 3 + n;
        if (a[2 + n] == '\0' && i + 1 < argc)
            return argv[i + 1];
    }
    return NULL;
}

int conf_apply_args(const conf_key_t *tab, void *cfg, int argc, char **argv, int *rest, int *nrest,
                    char *err, size_t errlen)
{
    *nrest = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) {
            rest[(*nrest)++] = i;
            continue;
        }
        char name[128];
        const char *eq = strchr(a + 2, '=');
        size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        if (len >= sizeof name) {
            rest[(*nrest)++] = i;
            continue;
        }
        memcpy(name, a + 2, len);
        name[len] = '\0';
        const conf_key_t *k = conf_find(tab, name);
        if (!k) {
            rest[(*nrest)++] = i;
            continue;
        }
        const char *value;
        if (eq) {
            value = eq + 1;
        } else if (k->type == CONF_BOOL && (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0)) {
            value = "yes"; /* a bare boolean flag switches it on */
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            conf_err(err, errlen, "--%s: missing value", name);
            return -1;
        }
        char why[512];
        if (conf_set_key(k, cfg, value, why, sizeof why) < 0) {
            conf_err(err, errlen, "--%s: %s", name, why);
            return -1;
        }
    }
    return 0;
}

static const char *type_name(conf_type_t t)
{
    switch (t) {
    case CONF_INT: return "N";
    case CONF_BOOL: return "yes|no";
    case CONF_STR: return "TEXT";
    case CONF_LIST: return "TEXT (repeatable)";
    }
    return "?";
}

void conf_print_help(const conf_key_t *tab, FILE *out)
{
    for (const conf_key_t *k = tab; k->name; k++) {
        fprintf(out, "  --%s %s\n      %s", k->name, type_name(k->type), k->help);
        if (k->def && *k->def)
            fprintf(out, " (default %s%s%s)", k->def, k->unit ? " " : "", k->unit ? k->unit : "");
        else if (k->unit)
            fprintf(out, " (%s)", k->unit);
        fputc('\n', out);
    }
}

void conf_print_values(const conf_key_t *tab, const void *cfg, FILE *out)
{
    for (const conf_key_t *k = tab; k->name; k++) {
        const char *field = (const char *)cfg + k->offset;
        switch (k->type) {
        case CONF_INT: fprintf(out, "%s %lld\n", k->name, *(const long long *)field); break;
        case CONF_BOOL: fprintf(out, "%s %s\n", k->name, *(const int *)field ? "yes" : "no"); break;
        case CONF_STR: fprintf(out, "%s %s\n", k->name, *(char *const *)field); break;
        case CONF_LIST: {
            const conf_list_t *l = (const conf_list_t *)field;
            for (size_t i = 0; i < l->n; i++)
                fprintf(out, "%s %s\n", k->name, l->items[i]);
            break;
        }
        }
    }
}

void conf_free(const conf_key_t *tab, void *cfg)
{
    for (const conf_key_t *k = tab; k->name; k++) {
        char *field = (char *)cfg + k->offset;
        if (k->type == CONF_STR) {
            free(*(char **)field);
            *(char **)field = NULL;
        } else if (k->type == CONF_LIST) {
            list_clear((conf_list_t *)field);
        }
    }
}
