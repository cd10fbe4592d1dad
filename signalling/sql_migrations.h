/* sql_migrations.h — the versioned schema of the PostgreSQL archive: the files signalling/sql/NNN_name.sql,
 * in version order, embedded at build time (Makefile, scripts/embed-sql.awk → build/…/gen/sql_migrations.c).
 * pg.c applies those above the database's schema_version, each in its own transaction.
 * Must not: be edited by hand in its generated form; add a new NNN_name.sql instead of changing one that
 * was released (a database that applied it will not apply it again). */
#ifndef STAFFROOM_SQL_MIGRATIONS_H
#define STAFFROOM_SQL_MIGRATIONS_H

#include <stddef.h>

typedef struct {
    int version;      /* NNN */
    const char *name; /* the rest of the file name: [a-z0-9_]+ */
    const char *sql;  /* the file's text: statements separated by ';' */
} pg_migration_t;

extern const pg_migration_t pg_migrations[]; /* ascending versions */
extern const size_t pg_migrations_n;

#endif
