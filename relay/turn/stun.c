/* stun.c — see stun.h. RFC 8489 (STUN) and RFC 8656 (TURN) message syntax. */
#include "stun.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "bytes.h"

#define STUN_FP_XOR 0x5354554eu /* RFC 8489 §14.7 */

uint32_t stun_crc32(const uint8_t *p, size_t n)
{
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

int stun_is_stun(const uint8_t *buf, size_t len)
{
    return len >= STUN_HEADER_LEN && (buf[0] & 0xc0) == 0 && rd32(buf + 4) == STUN_MAGIC;
}

/* Attributes that may legitimately repeat: CreatePermission carries one XOR-PEER-ADDRESS per peer
 * (RFC 8656 §9.1); a dual-stack Allocate success carries two XOR-RELAYED-ADDRESSes (§7.3). */
static int stun_may_repeat(uint16_t t)
{
    return t == TURN_A_XOR_PEER_ADDRESS || t == TURN_A_XOR_RELAYED_ADDRESS;
}

int stun_parse(const uint8_t *buf, size_t len, stun_msg_t *out)
{
    if (len < STUN_HEADER_LEN)
        return STUN_ERR_SHORT;
    if ((buf[0] & 0xc0) != 0 || rd32(buf + 4) != STUN_MAGIC) /* §6: top bits, §5: cookie */
        return STUN_ERR_NOT_STUN;
    size_t mlen = rd16(buf + 2);
    if (mlen % 4) /* §5: attributes are padded, so the length is a multiple of 4 */
        return STUN_ERR_LENGTH;
    if (STUN_HEADER_LEN + mlen > STUN_MAX_MSG)
        return STUN_ERR_LENGTH;
    if (len < STUN_HEADER_LEN + mlen)
        return STUN_ERR_SHORT;
    if (len > STUN_HEADER_LEN + mlen)
        return STUN_ERR_LENGTH;

    uint16_t type = rd16(buf);
    out->buf = buf;
    out->len = len;
    /* §5: the method bits are split around the two class bits C0 (bit 4) and C1 (bit 8). */
    out->method = (uint16_t)((type & 0x000f) | ((type & 0x00e0) >> 1) | ((type & 0x3e00) >> 2));
    out->cls = (uint8_t)(((type >> 4) & 1) | ((type >> 7) & 2));
    memcpy(out->tid, buf + 8, STUN_TID_LEN);
    out->nattrs = 0;
    out->mi_index = out->mi256_index = out->fp_index = -1;

    size_t pos = STUN_HEADER_LEN;
    while (pos < len) {
        if (len - pos < 4)
            return STUN_ERR_ATTR;
        uint16_t t = rd16(buf + pos), l = rd16(buf + pos + 2);
        size_t room = len - pos - 4;
        if (l > room)
            return STUN_ERR_ATTR;
        size_t padded = ((size_t)l + 3) & ~(size_t)3; /* §14: padding to 4 bytes, contents ignored */
        if (padded > room)
            return STUN_ERR_ATTR;
        /* §14.7: FINGERPRINT is last. §14.6: only FINGERPRINT after MI-SHA256. §14.5: only
         * MI-SHA256 and FINGERPRINT after MI (we reject rather than ignore: no client sends more). */
        if (out->fp_index >= 0)
            return STUN_ERR_ORDER;
        if (out->mi256_index >= 0 && t != STUN_A_FINGERPRINT)
            return STUN_ERR_ORDER;
        if (out->mi_index >= 0 && t != STUN_A_FINGERPRINT && t != STUN_A_MESSAGE_INTEGRITY_SHA256)
            return STUN_ERR_ORDER;
        if (!stun_may_repeat(t))
            for (size_t i = 0; i < out->nattrs; i++)
                if (out->attrs[i].type == t)
                    return STUN_ERR_DUP;
        if (out->nattrs >= STUN_MAX_ATTRS)
            return STUN_ERR_TOO_MANY;
        switch (t) {
        case STUN_A_MESSAGE_INTEGRITY:
            if (l != 20)
                return STUN_ERR_ATTR;
            out->mi_index = (int)out->nattrs;
            break;
        case STUN_A_MESSAGE_INTEGRITY_SHA256: /* §14.6: 16..32 bytes, a multiple of 4 */
            if (l < 16 || l > 32 || l % 4)
                return STUN_ERR_ATTR;
            out->mi256_index = (int)out->nattrs;
            break;
        case STUN_A_FINGERPRINT:
            if (l != 4)
                return STUN_ERR_ATTR;
            out->fp_index = (int)out->nattrs;
            break;
        default:
            break;
        }
        out->attrs[out->nattrs++] = (stun_attr_t){.type = t, .len = l, .offset = (uint32_t)(pos + 4)};
        pos += 4 + padded;
    }
    if (out->fp_index >= 0) {
        const stun_attr_t *fp = &out->attrs[out->fp_index];
        uint32_t want = stun_crc32(buf, fp->offset - 4) ^ STUN_FP_XOR;
        if (rd32(buf + fp->offset) != want)
            return STUN_ERR_FINGERPRINT;
    }
    return 0;
}

long stun_frame_len(const uint8_t *buf, size_t len)
{
    if (len < 4)
        return 0;
    switch (buf[0] >> 6) {
    case 0: /* STUN: 20-byte header + length (RFC 8489 §5) */
        if (len >= 8 && rd32(buf + 4) != STUN_MAGIC)
            return -1;
        if (rd16(buf + 2) % 4)
            return -1;
        return STUN_HEADER_LEN + (long)rd16(buf + 2);
    case 1: /* ChannelData: over TCP padded to a multiple of 4 (RFC 8656 §12.5) */
        return 4 + (((long)rd16(buf + 2) + 3) & ~3L);
    default:
        return -1;
    }
}

const stun_attr_t *stun_find(const stun_msg_t *m, uint16_t type)
{
    for (size_t i = 0; i < m->nattrs; i++)
        if (m->attrs[i].type == type)
            return &m->attrs[i];
    return NULL;
}

int stun_decode_xor_addr(const stun_msg_t *m, const stun_attr_t *a, addr_t *out)
{
    const uint8_t *v = stun_attr_value(m, a);
    memset(out, 0, sizeof *out);
    if (a->len < 4)
        return STUN_ERR_VALUE;
    uint8_t fam = v[1];
    out->port = rd16(v + 2) ^ (uint16_t)(STUN_MAGIC >> 16); /* §14.2: X-Port */
    uint8_t mask[16];
    wr32(mask, STUN_MAGIC);
    memcpy(mask + 4, m->tid, STUN_TID_LEN);
    if (fam == 0x01 && a->len == 8) {
        out->family = ADDR_V4;
        for (int i = 0; i < 4; i++)
            out->ip[i] = v[4 + i] ^ mask[i];
        return 0;
    }
    if (fam == 0x02 && a->len == 20) {
        out->family = ADDR_V6;
        for (int i = 0; i < 16; i++)
            out->ip[i] = v[4 + i] ^ mask[i];
        return 0;
    }
    memset(out, 0, sizeof *out);
    return STUN_ERR_VALUE;
}

int stun_get_xor_addr(const stun_msg_t *m, uint16_t type, addr_t *out)
{
    const stun_attr_t *a = stun_find(m, type);
    if (!a)
        return STUN_ERR_MISSING;
    return stun_decode_xor_addr(m, a, out);
}

int stun_get_u32(const stun_msg_t *m, uint16_t type, uint32_t *out)
{
    const stun_attr_t *a = stun_find(m, type);
    if (!a)
        return STUN_ERR_MISSING;
    if (a->len != 4)
        return STUN_ERR_VALUE;
    *out = rd32(stun_attr_value(m, a));
    return 0;
}

int stun_get_error(const stun_msg_t *m, int *code)
{
    const stun_attr_t *a = stun_find(m, STUN_A_ERROR_CODE);
    if (!a)
        return STUN_ERR_MISSING;
    const uint8_t *v = stun_attr_value(m, a);
    if (a->len < 4 || (v[2] & 7) < 3 || (v[2] & 7) > 6 || v[3] > 99)
        return STUN_ERR_VALUE;
    *code = (v[2] & 7) * 100 + v[3];
    return 0;
}

/* HMAC over buf[0..upto) as if the header length field said `fake_len` (RFC 8489 §14.5). */
static int stun_hmac(const EVP_MD *md, const uint8_t *key, size_t keylen, const uint8_t *buf,
                     size_t upto, uint16_t fake_len, uint8_t *out, unsigned *outlen)
{
    static _Thread_local uint8_t scratch[STUN_MAX_MSG];
    if (upto > sizeof scratch || upto < STUN_HEADER_LEN)
        return -1;
    memcpy(scratch, buf, upto);
    wr16(scratch + 2, fake_len);
    return HMAC(md, key, (int)keylen, scratch, upto, out, outlen) ? 0 : -1;
}

int stun_check_integrity(const stun_msg_t *m, const uint8_t *key, size_t keylen)
{
    int idx = m->mi256_index >= 0 ? m->mi256_index : m->mi_index;
    if (idx < 0)
        return STUN_ERR_INTEGRITY;
    const stun_attr_t *a = &m->attrs[idx];
    const EVP_MD *md = idx == m->mi256_index ? EVP_sha256() : EVP_sha1();
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;
    uint16_t fake = (uint16_t)(a->offset + a->len - STUN_HEADER_LEN);
    if (stun_hmac(md, key, keylen, m->buf, a->offset - 4, fake, mac, &maclen) < 0)
        return STUN_ERR_INTEGRITY;
    if (a->len > maclen || CRYPTO_memcmp(mac, m->buf + a->offset, a->len) != 0)
        return STUN_ERR_INTEGRITY;
    return idx == m->mi256_index ? STUN_MI_SHA256 : STUN_MI_SHA1;
}

void stun_build(stun_builder_t *b, uint8_t *buf, size_t cap, uint16_t method, uint8_t cls,
                const uint8_t tid[STUN_TID_LEN])
{
    b->buf = buf;
    b->cap = cap > STUN_MAX_MSG ? STUN_MAX_MSG : cap;
    b->len = 0;
    b->err = 0;
    if (b->cap < STUN_HEADER_LEN) {
        b->err = STUN_ERR_NOSPACE;
        return;
    }
    uint16_t type = (uint16_t)((method & 0x000f) | ((method & 0x0070) << 1) | ((method & 0x0f80) << 2) |
                               ((cls & 1) << 4) | ((cls & 2) << 7));
    wr16(buf, type);
    wr16(buf + 2, 0);
    wr32(buf + 4, STUN_MAGIC);
    memcpy(buf + 8, tid, STUN_TID_LEN);
    b->len = STUN_HEADER_LEN;
}

void stun_add(stun_builder_t *b, uint16_t type, const void *val, size_t len)
{
    size_t padded = (len + 3) & ~(size_t)3;
    if (b->err || len > 0xffff || b->cap - b->len < 4 + padded) {
        b->err = STUN_ERR_NOSPACE;
        return;
    }
    uint8_t *p = b->buf + b->len;
    wr16(p, type);
    wr16(p + 2, (uint16_t)len);
    if (len)
        memcpy(p + 4, val, len);
    memset(p + 4 + len, 0, padded - len);
    b->len += 4 + padded;
    wr16(b->buf + 2, (uint16_t)(b->len - STUN_HEADER_LEN));
}

void stun_add_u32(stun_builder_t *b, uint16_t type, uint32_t v)
{
    uint8_t x[4];
    wr32(x, v);
    stun_add(b, type, x, 4);
}

void stun_add_xor_addr(stun_builder_t *b, uint16_t type, const addr_t *a)
{
    uint8_t v[20] = {0}, mask[16];
    if (b->err)
        return;
    wr32(mask, STUN_MAGIC);
    memcpy(mask + 4, b->buf + 8, STUN_TID_LEN);
    v[1] = a->family == ADDR_V6 ? 0x02 : 0x01;
    wr16(v + 2, a->port ^ (uint16_t)(STUN_MAGIC >> 16));
    size_t n = addr_ip_len(a);
    for (size_t i = 0; i < n; i++)
        v[4 + i] = a->ip[i] ^ mask[i];
    stun_add(b, type, v, 4 + n);
}

const char *stun_reason(int code)
{
    switch (code) {
    case 300: return "Try Alternate";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 420: return "Unknown Attribute";
    case 437: return "Allocation Mismatch";
    case 438: return "Stale Nonce";
    case 440: return "Address Family not Supported";
    case 441: return "Wrong Credentials";
    case 442: return "Unsupported Transport Protocol";
    case 443: return "Peer Address Family Mismatch";
    case 486: return "Allocation Quota Reached";
    case 500: return "Server Error";
    case 508: return "Insufficient Capacity";
    default: return "Error";
    }
}

void stun_add_error(stun_builder_t *b, int code)
{
    uint8_t v[4 + 64];
    const char *r = stun_reason(code);
    size_t rl = strlen(r);
    v[0] = v[1] = 0;
    v[2] = (uint8_t)(code / 100);
    v[3] = (uint8_t)(code % 100);
    memcpy(v + 4, r, rl);
    stun_add(b, STUN_A_ERROR_CODE, v, 4 + rl);
}

void stun_add_integrity(stun_builder_t *b, stun_mi_kind_t kind, const uint8_t *key, size_t keylen)
{
    size_t hl = kind == STUN_MI_SHA256 ? 32 : 20;
    if (b->err || b->cap - b->len < 4 + hl) {
        b->err = STUN_ERR_NOSPACE;
        return;
    }
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;
    /* §14.5: the length field counts the integrity attribute itself, not what may follow. */
    wr16(b->buf + 2, (uint16_t)(b->len - STUN_HEADER_LEN + 4 + hl));
    if (!HMAC(kind == STUN_MI_SHA256 ? EVP_sha256() : EVP_sha1(), key, (int)keylen, b->buf, b->len,
              mac, &maclen)) {
        b->err = STUN_ERR_INTEGRITY;
        return;
    }
    stun_add(b, kind == STUN_MI_SHA256 ? STUN_A_MESSAGE_INTEGRITY_SHA256 : STUN_A_MESSAGE_INTEGRITY,
             mac, hl);
}

void stun_add_fingerprint(stun_builder_t *b)
{
    if (b->err || b->cap - b->len < 8) {
        b->err = STUN_ERR_NOSPACE;
        return;
    }
    wr16(b->buf + 2, (uint16_t)(b->len - STUN_HEADER_LEN + 8));
    stun_add_u32(b, STUN_A_FINGERPRINT, stun_crc32(b->buf, b->len) ^ STUN_FP_XOR);
}

long stun_finish(stun_builder_t *b)
{
    return b->err ? b->err : (long)b->len;
}

int stun_channel_parse(const uint8_t *buf, size_t len, uint16_t *number, const uint8_t **data,
                       size_t *dlen)
{
    if (len < 4)
        return -1;
    uint16_t n = rd16(buf), l = rd16(buf + 2);
    if (n < TURN_CHANNEL_MIN || n > TURN_CHANNEL_MAX || (size_t)l > len - 4)
        return -1;
    *number = n;
    *data = buf + 4;
    *dlen = l;
    return 0;
}
