/* stun.h — sans-I/O STUN codec (RFC 8489) with the TURN attributes (RFC 8656).
 *
 * Owns: parsing a STUN message into a borrowed view with every attribute bounds-checked, building
 * messages into a caller's buffer, MESSAGE-INTEGRITY(-SHA256) and FINGERPRINT, ChannelData framing.
 * Must not: touch sockets, keep state between calls, or allocate. A parsed stun_msg_t borrows the
 * bytes it was parsed from: they must outlive it.
 */
#ifndef STAFFROOM_STUN_H
#define STAFFROOM_STUN_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define STUN_HEADER_LEN 20
#define STUN_MAGIC 0x2112A442u
#define STUN_MAX_MSG 65535 /* largest message accepted or built, header included */
#define STUN_MAX_ATTRS 128 /* more attributes than this: malformed (§14 has no limit; we need one) */
#define STUN_TID_LEN 12

/* Methods (RFC 8489 §18.2, RFC 8656 §17). */
enum {
    STUN_BINDING = 0x001,
    TURN_ALLOCATE = 0x003,
    TURN_REFRESH = 0x004,
    TURN_SEND = 0x006,
    TURN_DATA = 0x007,
    TURN_CREATE_PERMISSION = 0x008,
    TURN_CHANNEL_BIND = 0x009,
};

/* Classes (RFC 8489 §5). */
enum { STUN_REQUEST = 0, STUN_INDICATION = 1, STUN_SUCCESS = 2, STUN_ERROR = 3 };

/* Attributes. */
enum {
    STUN_A_MAPPED_ADDRESS = 0x0001,
    STUN_A_USERNAME = 0x0006,
    STUN_A_MESSAGE_INTEGRITY = 0x0008,
    STUN_A_ERROR_CODE = 0x0009,
    STUN_A_UNKNOWN_ATTRIBUTES = 0x000A,
    TURN_A_CHANNEL_NUMBER = 0x000C,
    TURN_A_LIFETIME = 0x000D,
    TURN_A_XOR_PEER_ADDRESS = 0x0012,
    TURN_A_DATA = 0x0013,
    STUN_A_REALM = 0x0014,
    STUN_A_NONCE = 0x0015,
    TURN_A_XOR_RELAYED_ADDRESS = 0x0016,
    TURN_A_REQUESTED_ADDRESS_FAMILY = 0x0017,
    TURN_A_EVEN_PORT = 0x0018,
    TURN_A_REQUESTED_TRANSPORT = 0x0019,
    TURN_A_DONT_FRAGMENT = 0x001A,
    STUN_A_MESSAGE_INTEGRITY_SHA256 = 0x001C,
    STUN_A_PASSWORD_ALGORITHM = 0x001D,
    STUN_A_USERHASH = 0x001E,
    STUN_A_XOR_MAPPED_ADDRESS = 0x0020,
    TURN_A_RESERVATION_TOKEN = 0x0022,
    STUN_A_PRIORITY = 0x0024,
    STUN_A_USE_CANDIDATE = 0x0025,
    STUN_A_PASSWORD_ALGORITHMS = 0x8002,
    STUN_A_ALTERNATE_DOMAIN = 0x8003,
    STUN_A_SOFTWARE = 0x8022,
    STUN_A_ALTERNATE_SERVER = 0x8023,
    STUN_A_FINGERPRINT = 0x8028,
    STUN_A_ICE_CONTROLLED = 0x8029,
    STUN_A_ICE_CONTROLLING = 0x802A,
    TURN_A_ADDITIONAL_ADDRESS_FAMILY = 0x8000,
    TURN_A_ADDRESS_ERROR_CODE = 0x8001,
    TURN_A_ICMP = 0x8004,
};

/* Parse errors (negative). */
enum {
    STUN_ERR_SHORT = -1,      /* shorter than a header / than its length field says */
    STUN_ERR_NOT_STUN = -2,   /* top bits or magic cookie wrong */
    STUN_ERR_LENGTH = -3,     /* length not a multiple of 4, oversized, or trailing bytes */
    STUN_ERR_ATTR = -4,       /* an attribute runs past the end or has a bad length */
    STUN_ERR_ORDER = -5,      /* attributes after MESSAGE-INTEGRITY/FINGERPRINT */
    STUN_ERR_DUP = -6,        /* the same attribute twice */
    STUN_ERR_FINGERPRINT = -7,/* FINGERPRINT present but wrong */
    STUN_ERR_TOO_MANY = -8,   /* more than STUN_MAX_ATTRS */
    STUN_ERR_NOSPACE = -9,    /* builder: buffer too small */
    STUN_ERR_MISSING = -10,   /* accessor: attribute absent */
    STUN_ERR_VALUE = -11,     /* accessor: attribute value malformed */
    STUN_ERR_INTEGRITY = -12, /* integrity absent or wrong */
};

typedef struct {
    uint16_t type;
    uint16_t len;    /* value length, without padding */
    uint32_t offset; /* of the value, from the start of the message */
} stun_attr_t;

typedef struct {
    const uint8_t *buf; /* borrowed: the whole message */
    size_t len;         /* STUN_HEADER_LEN + length field */
    uint16_t method;
    uint8_t cls;
    uint8_t tid[STUN_TID_LEN];
    size_t nattrs;
    stun_attr_t attrs[STUN_MAX_ATTRS];
    int mi_index;       /* index in attrs of MESSAGE-INTEGRITY, or -1 */
    int mi256_index;    /* of MESSAGE-INTEGRITY-SHA256, or -1 */
    int fp_index;       /* of FINGERPRINT, or -1 (when present it was verified) */
} stun_msg_t;

/* Integrity kinds: which HMAC a message carries / a reply should carry. */
typedef enum { STUN_MI_NONE = 0, STUN_MI_SHA1 = 1, STUN_MI_SHA256 = 2 } stun_mi_kind_t;

/* 1 when buf looks like a STUN message (top two bits 0, magic cookie); needs len >= 20. */
int stun_is_stun(const uint8_t *buf, size_t len);

/* Parses exactly one datagram-sized message: len must equal 20 + the length field.
 * Checks every attribute's bounds, padding room, ordering of MI/MI-SHA256/FINGERPRINT (RFC 8489
 * §14.5–14.7: only MI-SHA256 and FINGERPRINT may follow MI, only FINGERPRINT may follow MI-SHA256,
 * FINGERPRINT is last), duplicates, lengths of the fixed-size attributes, and the FINGERPRINT value.
 * Returns 0 or a STUN_ERR_*. Never reads outside buf[0..len). */
int stun_parse(const uint8_t *buf, size_t len, stun_msg_t *out);

/* Stream framing (RFC 8656 §11.5 / §12.5): given the first bytes of a TCP stream, how long is the
 * frame? Returns the frame length (STUN: 20+length; ChannelData: 4+length rounded up to 4),
 * 0 when more bytes are needed to tell, or -1 when the bytes are neither STUN nor ChannelData. */
long stun_frame_len(const uint8_t *buf, size_t len);

/* Attribute access. stun_find returns the first attribute of that type or NULL (borrowed). */
const stun_attr_t *stun_find(const stun_msg_t *m, uint16_t type);
static inline const uint8_t *stun_attr_value(const stun_msg_t *m, const stun_attr_t *a)
{
    return m->buf + a->offset;
}
/* Decodes an XOR-*-ADDRESS attribute (§14.2): family 1 with length 8, family 2 with length 20.
 * Returns 0, STUN_ERR_MISSING or STUN_ERR_VALUE. */
int stun_get_xor_addr(const stun_msg_t *m, uint16_t type, addr_t *out);
/* A 4-byte attribute as a host-order u32. Returns 0, STUN_ERR_MISSING or STUN_ERR_VALUE. */
int stun_get_u32(const stun_msg_t *m, uint16_t type, uint32_t *out);
/* Decodes one given XOR-*-ADDRESS attribute (for repeated ones such as XOR-PEER-ADDRESS). */
int stun_decode_xor_addr(const stun_msg_t *m, const stun_attr_t *a, addr_t *out);
/* ERROR-CODE (§14.8): class*100 + number. */
int stun_get_error(const stun_msg_t *m, int *code);

/* Verifies the integrity attribute of a parsed message with key (RFC 8489 §14.5, §14.6). When the
 * message carries MI-SHA256 that one is checked (§9.2.4 prefers it), else MI. Returns the kind that
 * verified (>0), or STUN_ERR_INTEGRITY (absent or wrong). Constant-time comparison. */
int stun_check_integrity(const stun_msg_t *m, const uint8_t *key, size_t keylen);

/* Builder: writes into a caller buffer; any overflow is sticky and reported by stun_finish. */
typedef struct {
    uint8_t *buf;
    size_t cap;
    size_t len;
    int err;
} stun_builder_t;

void stun_build(stun_builder_t *b, uint8_t *buf, size_t cap, uint16_t method, uint8_t cls,
                const uint8_t tid[STUN_TID_LEN]);
void stun_add(stun_builder_t *b, uint16_t type, const void *val, size_t len);
void stun_add_u32(stun_builder_t *b, uint16_t type, uint32_t v);
void stun_add_xor_addr(stun_builder_t *b, uint16_t type, const addr_t *a);
/* ERROR-CODE with the RFC's reason phrase for code (or "Error"). */
void stun_add_error(stun_builder_t *b, int code);
/* Appends MESSAGE-INTEGRITY or MESSAGE-INTEGRITY-SHA256 over everything so far. */
void stun_add_integrity(stun_builder_t *b, stun_mi_kind_t kind, const uint8_t *key, size_t keylen);
void stun_add_fingerprint(stun_builder_t *b);
/* Returns the message length, or STUN_ERR_NOSPACE. */
long stun_finish(stun_builder_t *b);

/* Reason phrase of an error code (RFC 8489 §14.8, RFC 8656 §18). */
const char *stun_reason(int code);

/* CRC-32 (ISO-HDLC) as used by FINGERPRINT before the XOR. */
uint32_t stun_crc32(const uint8_t *p, size_t n);

/* Channel numbers. RFC 8656 §12 narrowed them to 0x4000..0x4FFF, but RFC 5766 allowed
 * 0x4000..0x7FFF and libwebrtc (Chrome) still picks its numbers at random in that wider range:
 * refusing 0x5000..0x7FFF would fail three ChannelBinds in four from browsers. So we accept the
 * RFC 5766 range; nothing else uses 0x5000..0x7FFF on a TURN client's 5-tuple. */
#define TURN_CHANNEL_MIN 0x4000
#define TURN_CHANNEL_MAX 0x7FFF
/* Parses a ChannelData message: returns 0 with number and payload (borrowed), or -1 when it is not
 * one or the length field exceeds len (padding after the payload is allowed, §12.5). */
int stun_channel_parse(const uint8_t *buf, size_t len, uint16_t *number, const uint8_t **data,
                       size_t *dlen);

#endif
