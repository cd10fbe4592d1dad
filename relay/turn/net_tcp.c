/* net_tcp.c — see net_tcp.h. */
#include "net_tcp.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "stun.h"

#define NET_CONN_IN_MAX (STUN_MAX_MSG + 64) /* the largest frame, with room to spare */
#define NET_CONN_IN_MIN 4096                /* what an idle connection keeps */
#define NET_READS_PER_WAKEUP 16

struct net_tls {
    SSL_CTX *ctx;
};

struct net_conn {
    int fd;
    SSL *ssl;
    int handshake_done;
    int tls_wants_write;
    uint8_t *in; /* grows to the frame being read (at most NET_CONN_IN_MAX), shrinks when idle */
    size_t in_len, in_cap;
    uint8_t *out;
    size_t out_len, out_cap;
};

net_tls_t *net_tls_new(const char *cert_file, const char *key_file, char *err, size_t errlen)
{
    net_tls_t *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->ctx = SSL_CTX_new(TLS_server_method());
    if (!t->ctx)
        goto fail;
    SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(t->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                 SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_use_certificate_chain_file(t->ctx, cert_file) != 1 ||
        SSL_CTX_use_PrivateKey_file(t->ctx, key_file, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(t->ctx) != 1)
        goto fail;
    return t;
fail:
    snprintf(err, errlen, "TLS setup with %s / %s failed: %s", cert_file, key_file,
             ERR_reason_error_string(ERR_get_error()));
    ERR_clear_error();
    net_tls_free(t);
    return NULL;
}

void net_tls_free(net_tls_t *t)
{
    if (!t)
        return;
    SSL_CTX_free(t->ctx);
    free(t);
}

int net_tcp_listen(const addr_t *a, int reuseport)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    if (addr_to_sockaddr(a, &ss, &sl) < 0)
        return -EAFNOSUPPORT;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
        goto fail;
    if (ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 1024) < 0)
        goto fail;
    return fd;
fail:;
    int e = errno;
    close(fd);
    return -e;
}

int net_tcp_accept(int lfd, addr_t *remote, addr_t *local)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return -errno;
    addr_from_sockaddr((struct sockaddr *)&ss, remote);
    sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        addr_from_sockaddr((struct sockaddr *)&ss, local);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* media: latency over batching */
    return fd;
}

net_conn_t *net_conn_new(int fd, net_tls_t *tls)
{
    net_conn_t *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return NULL;
    }
    c->fd = fd;
    c->in_cap = NET_CONN_IN_MIN;
    if (!(c->in = malloc(c->in_cap))) {
        net_conn_free(c);
        return NULL;
    }
    if (tls) {
        if (!(c->ssl = SSL_new(tls->ctx)) || SSL_set_fd(c->ssl, fd) != 1) {
            net_conn_free(c);
            return NULL;
        }
        SSL_set_accept_state(c->ssl);
    }
    return c;
}

void net_conn_free(net_conn_t *c)
{
    if (!c)
        return;
    if (c->ssl)
        SSL_free(c->ssl); /* no close_notify: the peer is gone or misbehaving */
    if (c->fd >= 0)
        close(c->fd);
    free(c->in);
    free(c->out);
    free(c);
}

int net_conn_fd(const net_conn_t *c)
{
    return c->fd;
}

int net_conn_wants_write(const net_conn_t *c)
{
    return c->out_len > 0 || c->tls_wants_write;
}

/* Drives the TLS handshake: 1 done, 0 in progress, -1 failed. */
static int conn_handshake(net_conn_t *c)
{
    if (c->handshake_done)
        return 1;
    int r = SSL_do_handshake(c->ssl);
    if (r == 1) {
        c->handshake_done = 1;
        return 1;
    }
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ)
        return 0;
    if (e == SSL_ERROR_WANT_WRITE) {
        c->tls_wants_write = 1;
        return 0;
    }
    ERR_clear_error();
    return -1;
}

/* Reads into the input buffer. Returns bytes read, 0 if nothing now, -1 on EOF/error. */
static long conn_read(net_conn_t *c, uint8_t *p, size_t n)
{
    if (!c->ssl) {
        ssize_t r = recv(c->fd, p, n, 0);
        if (r > 0)
            return r;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return 0;
        return -1;
    }
    c->tls_wants_write = 0;
    int h = conn_handshake(c);
    if (h <= 0)
        return h;
    int r = SSL_read(c->ssl, p, (int)n);
    if (r > 0)
        return r;
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ)
        return 0;
    if (e == SSL_ERROR_WANT_WRITE) {
        c->tls_wants_write = 1;
        return 0;
    }
    ERR_clear_error();
    return -1;
}

int net_conn_on_ready(net_conn_t *c, void (*frame)(void *ctx, const uint8_t *p, size_t n), void *ctx)
{
    for (int round = 0; round < NET_READS_PER_WAKEUP; round++) {
        if (c->in_len == c->in_cap) {
            /* Full without a whole frame: grow to that frame's length (bounded; a length field
             * beyond any valid frame already closed the connection below). */
            long fl = stun_frame_len(c->in, c->in_len);
            size_t want = fl > 0 ? (size_t)fl : c->in_cap * 2;
            if (want > NET_CONN_IN_MAX || want <= c->in_cap)
                return -1;
            uint8_t *grown = realloc(c->in, want);
            if (!grown)
                return -1;
            c->in = grown;
            c->in_cap = want;
        }
        long r = conn_read(c, c->in + c->in_len, c->in_cap - c->in_len);
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        c->in_len += (size_t)r;
        size_t off = 0;
        for (;;) {
            long fl = stun_frame_len(c->in + off, c->in_len - off);
            if (fl < 0 || (size_t)fl > NET_CONN_IN_MAX)
                return -1; /* not STUN/ChannelData: the stream cannot be resynchronised */
            if (fl == 0 || (size_t)fl > c->in_len - off)
                break;
            frame(ctx, c->in + off, (size_t)fl);
            off += (size_t)fl;
        }
        if (off) {
            memmove(c->in, c->in + off, c->in_len - off);
            c->in_len -= off;
        }
    }
    if (c->in_len == 0 && c->in_cap > NET_CONN_IN_MIN) { /* back to idle size */
        uint8_t *small = realloc(c->in, NET_CONN_IN_MIN);
        if (small) {
            c->in = small;
            c->in_cap = NET_CONN_IN_MIN;
        }
    }
    if (c->ssl && c->handshake_done && net_conn_flush(c) < 0)
        return -1;
    return c->ssl && SSL_pending(c->ssl) > 0 ? 1 : 0;
}

int net_conn_flush(net_conn_t *c)
{
    if (c->ssl && !c->handshake_done) {
        c->tls_wants_write = 0;
        int h = conn_handshake(c);
        if (h <= 0)
            return h;
    }
    size_t off = 0;
    while (off < c->out_len) {
        if (c->ssl) {
            int r = SSL_write(c->ssl, c->out + off, (int)(c->out_len - off));
            if (r <= 0) {
                int e = SSL_get_error(c->ssl, r);
                if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
                    break;
                ERR_clear_error();
                return -1;
            }
            off += (size_t)r;
        } else {
            ssize_t r = send(c->fd, c->out + off, c->out_len - off, MSG_NOSIGNAL);
            if (r < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                    break;
                return -1;
            }
            off += (size_t)r;
        }
    }
    if (off) {
        memmove(c->out, c->out + off, c->out_len - off);
        c->out_len -= off;
    }
    return 0;
}

int net_conn_send(net_conn_t *c, const uint8_t *p, size_t n)
{
    if (c->out_len + n > NET_CONN_OUT_MAX)
        return 0; /* a slow reader loses frames, like UDP would; the connection lives on */
    if (c->out_len + n > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 4096;
        while (cap < c->out_len + n)
            cap *= 2;
        uint8_t *o = realloc(c->out, cap);
        if (!o)
            return 0;
        c->out = o;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
    if (c->ssl && !c->handshake_done)
        return 0;
    return net_conn_flush(c);
}
