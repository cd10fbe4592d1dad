/* addr.c — see addr.h. */
#include "addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int addr_parse(const char *text, uint16_t port, addr_t *out)
{
    char tmp[64];
    size_t n = strlen(text);
    memset(out, 0, sizeof *out);
    if (n == 0 || n >= sizeof tmp)
        return -1;
    if (text[0] == '[' && text[n - 1] == ']') {
        memcpy(tmp, text + 1, n - 2);
        tmp[n - 2] = 0;
    } else {
        memcpy(tmp, text, n + 1);
    }
    if (inet_pton(AF_INET, tmp, out->ip) == 1) {
        out->family = ADDR_V4;
    } else if (inet_pton(AF_INET6, tmp, out->ip) == 1) {
        out->family = ADDR_V6;
    } else {
        memset(out, 0, sizeof *out);
        return -1;
    }
    out->port = port;
    return 0;
}

int addr_parse_cidr(const char *text, addr_t *net, int *prefix)
{
    char tmp[64];
    const char *slash = strchr(text, '/');
    size_t n = slash ? (size_t)(slash - text) : strlen(text);
    if (n == 0 || n >= sizeof tmp)
        return -1;
    memcpy(tmp, text, n);
    tmp[n] = 0;
    if (addr_parse(tmp, 0, net) < 0)
        return -1;
    int max = net->family == ADDR_V4 ? 32 : 128;
    int p = max;
    if (slash) {
        char *end;
        long v = strtol(slash + 1, &end, 10);
        if (end == slash + 1 || *end || v < 0 || v > max)
            return -1;
        p = (int)v;
    }
    /* Clear host bits so that matching only compares the network part. */
    for (int bit = p; bit < max; bit++)
        net->ip[bit / 8] &= (uint8_t)~(0x80u >> (bit % 8));
    *prefix = p;
    return 0;
}

int addr_in_cidr(const addr_t *ip, const addr_t *net, int prefix)
{
    if (ip->family != net->family)
        return 0;
    int full = prefix / 8, rest = prefix % 8;
    if (memcmp(ip->ip, net->ip, (size_t)full) != 0)
        return 0;
    if (rest) {
        uint8_t mask = (uint8_t)(0xffu << (8 - rest));
        if ((ip->ip[full] & mask) != (net->ip[full] & mask))
            return 0;
    }
    return 1;
}

size_t addr_ip_len(const addr_t *a)
{
    return a->family == ADDR_V4 ? 4 : a->family == ADDR_V6 ? 16 : 0;
}

int addr_eq_ip(const addr_t *a, const addr_t *b)
{
    return a->family == b->family && memcmp(a->ip, b->ip, addr_ip_len(a)) == 0;
}

int addr_eq(const addr_t *a, const addr_t *b)
{
    return a->port == b->port && addr_eq_ip(a, b);
}

uint32_t addr_hash(const addr_t *a)
{
    /* FNV-1a over family, port and address bytes. */
    uint32_t h = 2166136261u;
    h = (h ^ a->family) * 16777619u;
    h = (h ^ (a->port & 0xff)) * 16777619u;
    h = (h ^ (a->port >> 8)) * 16777619u;
    for (size_t i = 0; i < addr_ip_len(a); i++)
        h = (h ^ a->ip[i]) * 16777619u;
    return h;
}

int addr_to_sockaddr(const addr_t *a, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    if (a->family == ADDR_V4) {
        struct sockaddr_in *s = (struct sockaddr_in *)ss;
        s->sin_family = AF_INET;
        s->sin_port = htons(a->port);
        memcpy(&s->sin_addr, a->ip, 4);
        *len = sizeof *s;
        return 0;
    }
    if (a->family == ADDR_V6) {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)ss;
        s->sin6_family = AF_INET6;
        s->sin6_port = htons(a->port);
        memcpy(&s->sin6_addr, a->ip, 16);
        *len = sizeof *s;
        return 0;
    }
    return -1;
}

int addr_from_sockaddr(const struct sockaddr *sa, addr_t *out)
{
    memset(out, 0, sizeof *out);
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)sa;
        out->family = ADDR_V4;
        out->port = ntohs(s->sin_port);
        memcpy(out->ip, &s->sin_addr, 4);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)sa;
        out->family = ADDR_V6;
        out->port = ntohs(s->sin6_port);
        memcpy(out->ip, &s->sin6_addr, 16);
        return 0;
    }
    return -1;
}

char *addr_format_ip(const addr_t *a, char *buf, size_t len)
{
    if (len == 0)
        return buf;
    buf[0] = 0;
    if (a->family == ADDR_V4)
        inet_ntop(AF_INET, a->ip, buf, (socklen_t)len);
    else if (a->family == ADDR_V6)
        inet_ntop(AF_INET6, a->ip, buf, (socklen_t)len);
    else
        snprintf(buf, len, "?");
    return buf;
}

char *addr_format(const addr_t *a, char *buf, size_t len)
{
    char ip[INET6_ADDRSTRLEN];
    addr_format_ip(a, ip, sizeof ip);
    if (a->family == ADDR_V6)
        snprintf(buf, len, "[%s]:%u", ip, a->port);
    else
        snprintf(buf, len, "%s:%u", ip, a->port);
    return buf;
}
