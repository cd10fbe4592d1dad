/* net_tcp.h — TCP and TLS client connections: listening, accepting, stream framing, buffered output.
 *
 * Owns: the TCP/TLS socket calls and OpenSSL objects (the only file that includes OpenSSL's TLS
 * headers), each connection's input buffer (one frame at most, RFC 8656 §12.5 framing via
 * stun_frame_len) and bounded output buffer.
 * Must not: interpret frames (they go to a callback) or block: sockets are non-blocking and
 * TLS handshakes resume on the next readiness event.
 */
#ifndef STAFFROOM_NET_TCP_H
#define STAFFROOM_NET_TCP_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define NET_CONN_OUT_MAX (1 << 20) /* bytes queued for a slow client before frames are dropped */

typedef struct net_tls net_tls_t;   /* a server TLS context (certificate + key) */
typedef struct net_conn net_conn_t; /* one client connection */

/* Loads cert (PEM chain) and key. Returns NULL with err filled. */
net_tls_t *net_tls_new(const char *cert_file, const char *key_file, char *err, size_t errlen);
void net_tls_free(net_tls_t *tls);

/* Listening TCP socket (non-blocking, SO_REUSEADDR, optional SO_REUSEPORT). fd or -errno. */
int net_tcp_listen(const addr_t *a, int reuseport);
/* Accepts one connection: fd (non-blocking) or -errno (-EAGAIN when none is waiting). */
int net_tcp_accept(int lfd, addr_t *remote, addr_t *local);

/* Takes ownership of fd. tls NULL = plain TCP. NULL on allocation failure (fd closed). */
net_conn_t *net_conn_new(int fd, net_tls_t *tls);
/* Closes the socket and frees everything. NULL is fine. */
void net_conn_free(net_conn_t *c);
int net_conn_fd(const net_conn_t *c);

/* Call when the socket is readable (or writable, for TLS). Every complete frame is passed to
 * frame(ctx, bytes, len) (borrowed for the call). Reads a bounded amount per call.
 * Returns 0; 1 when TLS still holds decrypted bytes (the socket may not become readable again for
 * them: call again soon); -1 when the connection is finished (closed by the peer, error, garbage). */
int net_conn_on_ready(net_conn_t *c, void (*frame)(void *ctx, const uint8_t *p, size_t n), void *ctx);
/* Queues bytes and tries to write them now. Returns 0, or -1 if the connection failed.
 * Beyond NET_CONN_OUT_MAX queued, the frame is dropped (returns 0). */
int net_conn_send(net_conn_t *c, const uint8_t *p, size_t n);
/* Call when writable: flushes. Returns 0 or -1. */
int net_conn_flush(net_conn_t *c);
/* 1 when the connection needs EPOLLOUT (output pending or TLS wants to write). */
int net_conn_wants_write(const net_conn_t *c);

#endif
