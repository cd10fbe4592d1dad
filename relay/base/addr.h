/* addr.h — transport addresses (IPv4/IPv6 + port) as plain values.
 *
 * Owns: the addr_t value type, text and sockaddr conversions, CIDR parsing and matching.
 * Must not: make socket calls or allocate. Every addr_t is fully initialised (unused bytes are zero),
 * so two addresses can be compared with addr_eq.
 */
#ifndef STAFFROOM_ADDR_H
#define STAFFROOM_ADDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum { ADDR_V4 = 4, ADDR_V6 = 6 };
#define ADDR_STRLEN 64 /* enough for "[ffff:…:ffff]:65535" */

typedef struct {
    uint8_t family; /* ADDR_V4 or ADDR_V6; 0 = unset */
    uint16_t port;  /* host byte order */
    uint8_t ip[16]; /* IPv4 uses ip[0..3] */
} addr_t;

/* Parses an IP literal ("1.2.3.4", "::1", "[::1]"); port is stored as given. Returns 0 or -1. */
int addr_parse(const char *text, uint16_t port, addr_t *out);
/* Parses "ip/prefix" (or a bare ip = host route). Host bits beyond the prefix are cleared.
 * Returns 0 or -1. */
int addr_parse_cidr(const char *text, addr_t *net, int *prefix);
/* 1 when ip (same family as net) lies in net/prefix. */
int addr_in_cidr(const addr_t *ip, const addr_t *net, int prefix);

int addr_eq(const addr_t *a, const addr_t *b);    /* family, ip and port */
int addr_eq_ip(const addr_t *a, const addr_t *b); /* family and ip only */
uint32_t addr_hash(const addr_t *a);
size_t addr_ip_len(const addr_t *a); /* 4 or 16 (0 if unset) */

/* Conversions; return 0 or -1 for an unsupported family. */
int addr_to_sockaddr(const addr_t *a, struct sockaddr_storage *ss, socklen_t *len);
int addr_from_sockaddr(const struct sockaddr *sa, addr_t *out);

/* "1.2.3.4:5" or "[::1]:5" into buf (always terminated). Returns buf. */
char *addr_format(const addr_t *a, char *buf, size_t len);
/* The IP only, "1.2.3.4" or "::1". Returns buf. */
char *addr_format_ip(const addr_t *a, char *buf, size_t len);

#endif
