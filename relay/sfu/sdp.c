/* sdp.c — see sdp.h. */
#include "sdp.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- parsing helpers ---------------------------------------------------------------------------- */

typedef struct {
    const char *p; /* the line's value (after "x="), not terminated */
    size_t n;
} span_t;

static int fail(char *err, size_t errlen, int line, const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "line %d: %s", line, why);
    return -1;
}

/* Copies span into dst (size cap), terminated. Returns -1 if it does not fit. */
static int copy_span(char *dst, size_t cap, span_t s)
{
    if (s.n >= cap)
        return -1;
    memcpy(dst, s.p, s.n);
    dst[s.n] = 0;
    return 0;
}

static int starts(span_t s, const char *prefix)
{
    size_t k = strlen(prefix);
    return s.n >= k && memcmp(s.p, prefix, k) == 0;
}

static span_t after(span_t s, size_t k) { return (span_t){s.p + k, s.n - k}; }

/* Splits off the next space-separated token of *s. Returns 0 and the token, or -1 when none is left. */
static int token(span_t *s, span_t *tok)
{
    size_t i = 0;
    while (i < s->n && s->p[i] == ' ')
        i++;
    if (i == s->n)
        return -1;
    size_t j = i;
    while (j < s->n && s->p[j] != ' ')
        j++;
    *tok = (span_t){s->p + i, j - i};
    *s = (span_t){s->p + j, s->n - j};
    return 0;
}

/* An unsigned decimal of at most 20 digits no greater than max. */
static int number(span_t s, uint64_t max, uint64_t *out)
{
    if (s.n == 0 || s.n > 20)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < s.n; i++) {
        if (s.p[i] < '0' || s.p[i] > '9')
            return -1;
        uint64_t d = (uint64_t)(s.p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

/* Printable ASCII without control characters: what any SDP value we keep must be. */
static int printable(span_t s)
{
    for (size_t i = 0; i < s.n; i++)
        if ((unsigned char)s.p[i] < 0x20 || (unsigned char)s.p[i] > 0x7e)
            return 0;
    return 1;
}

static sdp_codec_t *codec_by_pt(sdp_media_t *m, int pt)
{
    for (size_t i = 0; i < m->ncodecs; i++)
        if (m->codecs[i].pt == pt)
            return &m->codecs[i];
    return NULL;
}

/* "PT rest": the payload type of an rtpmap/fmtp/rtcp-fb line and what follows it. */
static int pt_and_rest(span_t v, int *pt, span_t *rest, int allow_star)
{
    span_t tok;
    if (token(&v, &tok) < 0)
        return -1;
    uint64_t n;
    if (allow_star && tok.n == 1 && tok.p[0] == '*')
        *pt = -1;
    else if (number(tok, 127, &n) < 0)
        return -1;
    else
        *pt = (int)n;
    while (v.n && v.p[0] == ' ')
        v = after(v, 1);
    *rest = v;
    return 0;
}

/* ---- one attribute ------------------------------------------------------------------------------ */

typedef struct {
    sdp_t *s;
    sdp_media_t *m; /* NULL at session level */
    int line;
    char *err;
    size_t errlen;
} ctx_t;

#define BAD(...) return fail(c->err, c->errlen, c->line, __VA_ARGS__)

static int attr_rtpmap(ctx_t *c, span_t v)
{
    int pt;
    span_t rest;
    if (!c->m || pt_and_rest(v, &pt, &rest, 0) < 0)
        BAD("a=rtpmap: expected 'PT name/clock[/channels]'");
    sdp_codec_t *k = codec_by_pt(c->m, pt);
    if (!k)
        return 0; /* not in the m= line's format list, or beyond the table: ignored */
    const char *slash = memchr(rest.p, '/', rest.n);
    if (!slash)
        BAD("a=rtpmap: no clock rate");
    span_t name = {rest.p, (size_t)(slash - rest.p)};
    span_t tail = {slash + 1, rest.n - name.n - 1};
    const char *slash2 = memchr(tail.p, '/', tail.n);
    span_t clock = {tail.p, slash2 ? (size_t)(slash2 - tail.p) : tail.n};
    uint64_t hz, ch = 0;
    if (copy_span(k->name, sizeof k->name, name) < 0 || !printable(name) || number(clock, 10000000, &hz) < 0 || hz == 0)
        BAD("a=rtpmap: bad codec name or clock rate");
    if (slash2 && number((span_t){slash2 + 1, tail.n - clock.n - 1}, 255, &ch) < 0)
        BAD("a=rtpmap: bad channel count");
    k->clock = (uint32_t)hz;
    k->channels = (int)ch;
    return 0;
}

static int attr_fmtp(ctx_t *c, span_t v)
{
    int pt;
    span_t rest;
    if (!c->m || pt_and_rest(v, &pt, &rest, 0) < 0)
        BAD("a=fmtp: expected 'PT parameters'");
    sdp_codec_t *k = codec_by_pt(c->m, pt);
    if (!k)
        return 0;
    if (!printable(rest) || copy_span(k->fmtp, sizeof k->fmtp, rest) < 0)
        BAD("a=fmtp: parameters too long or not printable");
    const char *apt = strstr(k->fmtp, "apt=");
    if (apt) {
        char *end;
        errno = 0;
        long a = strtol(apt + 4, &end, 10);
        if (end == apt + 4 || a < 0 || a > 127)
            BAD("a=fmtp: bad apt");
        k->apt = (int)a;
    }
    return 0;
}

static int attr_rtcp_fb(ctx_t *c, span_t v)
{
    int pt;
    span_t rest;
    if (!c->m || pt_and_rest(v, &pt, &rest, 1) < 0)
        BAD("a=rtcp-fb: expected 'PT type'");
    unsigned fb = 0;
    if (rest.n == 4 && !memcmp(rest.p, "nack", 4))
        fb = SDP_FB_NACK;
    else if (rest.n == 8 && !memcmp(rest.p, "nack pli", 8))
        fb = SDP_FB_PLI;
    else if (rest.n == 7 && !memcmp(rest.p, "ccm fir", 7))
        fb = SDP_FB_FIR;
    else if (rest.n == 9 && !memcmp(rest.p, "goog-remb", 9))
        fb = SDP_FB_REMB;
    else if (rest.n == 12 && !memcmp(rest.p, "transport-cc", 12))
        fb = SDP_FB_TCC;
    for (size_t i = 0; i < c->m->ncodecs; i++)
        if (pt < 0 || c->m->codecs[i].pt == pt)
            c->m->codecs[i].fb |= fb;
    return 0;
}

static int attr_extmap(ctx_t *c, span_t v)
{
    span_t id, uri;
    if (!c->m || token(&v, &id) < 0 || token(&v, &uri) < 0)
        BAD("a=extmap: expected 'ID[/direction] URI'");
    const char *slash = memchr(id.p, '/', id.n);
    if (slash)
        id.n = (size_t)(slash - id.p);
    uint64_t n;
    if (number(id, 255, &n) < 0 || n == 0)
        BAD("a=extmap: bad id");
    if (c->m->nextmaps == SDP_MAX_EXTMAPS)
        return 0;
    sdp_extmap_t *e = &c->m->extmaps[c->m->nextmaps];
    if (!printable(uri) || copy_span(e->uri, sizeof e->uri, uri) < 0)
        BAD("a=extmap: URI too long");
    e->id = (int)n;
    c->m->nextmaps++;
    return 0;
}

static int attr_ssrc(ctx_t *c, span_t v)
{
    span_t id;
    uint64_t n;
    if (!c->m || token(&v, &id) < 0 || number(id, UINT32_MAX, &n) < 0)
        BAD("a=ssrc: expected 'SSRC attribute'");
    sdp_ssrc_t *e = NULL;
    for (size_t i = 0; i < c->m->nssrcs; i++)
        if (c->m->ssrcs[i].ssrc == n)
            e = &c->m->ssrcs[i];
    if (!e) {
        if (c->m->nssrcs == SDP_MAX_SSRCS)
            return 0;
        e = &c->m->ssrcs[c->m->nssrcs++];
        e->ssrc = (uint32_t)n;
    }
    while (v.n && v.p[0] == ' ')
        v = after(v, 1);
    if (!printable(v))
        BAD("a=ssrc: not printable");
    if (starts(v, "cname:") && copy_span(e->cname, sizeof e->cname, after(v, 6)) < 0)
        BAD("a=ssrc: cname too long");
    if (starts(v, "msid:") && copy_span(e->msid, sizeof e->msid, after(v, 5)) < 0)
        BAD("a=ssrc: msid too long");
    return 0;
}

static int attr_ssrc_group(ctx_t *c, span_t v)
{
    span_t sem, a, b;
    uint64_t x, y;
    if (!c->m || token(&v, &sem) < 0)
        BAD("a=ssrc-group: expected 'semantics SSRC…'");
    if (!(sem.n == 3 && !memcmp(sem.p, "FID", 3)))
        return 0; /* SIM, FEC-FR: not used */
    if (token(&v, &a) < 0 || token(&v, &b) < 0 || number(a, UINT32_MAX, &x) < 0 || number(b, UINT32_MAX, &y) < 0)
        BAD("a=ssrc-group:FID: expected two SSRCs");
    c->m->fid_primary = (uint32_t)x;
    c->m->fid_rtx = (uint32_t)y;
    return 0;
}

static int attr_rid(ctx_t *c, span_t v)
{
    span_t id, dir;
    if (!c->m || token(&v, &id) < 0 || token(&v, &dir) < 0)
        BAD("a=rid: expected 'id send|recv'");
    int send = dir.n == 4 && !memcmp(dir.p, "send", 4);
    if (!send && !(dir.n == 4 && !memcmp(dir.p, "recv", 4)))
        BAD("a=rid: direction must be send or recv");
    for (size_t i = 0; i < id.n; i++)
        if (!isalnum((unsigned char)id.p[i]) && id.p[i] != '-' && id.p[i] != '_')
            BAD("a=rid: bad id");
    if (c->m->nrids == SDP_MAX_RIDS)
        return 0;
    sdp_rid_t *r = &c->m->rids[c->m->nrids];
    if (copy_span(r->id, sizeof r->id, id) < 0)
        BAD("a=rid: id longer than 16");
    r->send = send;
    c->m->nrids++;
    return 0;
}

static int attr_fingerprint(ctx_t *c, span_t v, char *alg, size_t alglen, char *fp, size_t fplen)
{
    span_t a, h;
    if (token(&v, &a) < 0 || token(&v, &h) < 0 || a.n == 0 || h.n == 0)
        BAD("a=fingerprint: expected 'algorithm hash'");
    if (copy_span(alg, alglen, a) < 0 || copy_span(fp, fplen, h) < 0)
        BAD("a=fingerprint: too long");
    for (size_t i = 0; i < h.n; i++)
        if (!isxdigit((unsigned char)h.p[i]) && h.p[i] != ':')
            BAD("a=fingerprint: hash is not hex");
    return 0;
}

/* Values that are single tokens of printable text (ufrag, pwd, setup, mid). */
static int attr_word(ctx_t *c, span_t v, char *dst, size_t cap, const char *what)
{
    if (v.n == 0 || !printable(v) || memchr(v.p, ' ', v.n) || copy_span(dst, cap, v) < 0)
        BAD("a=%s: empty, too long or not a single printable word", what);
    return 0;
}

static int attr(ctx_t *c, span_t v)
{
    sdp_t *s = c->s;
    sdp_media_t *m = c->m;
    char *ufrag = m ? m->ice_ufrag : s->ice_ufrag, *pwd = m ? m->ice_pwd : s->ice_pwd;
    char *fpa = m ? m->fingerprint_alg : s->fingerprint_alg, *fp = m ? m->fingerprint : s->fingerprint;
    char *setup = m ? m->setup : s->setup;
    if (starts(v, "rtpmap:"))
        return attr_rtpmap(c, after(v, 7));
    if (starts(v, "fmtp:"))
        return attr_fmtp(c, after(v, 5));
    if (starts(v, "rtcp-fb:"))
        return attr_rtcp_fb(c, after(v, 8));
    if (starts(v, "extmap:"))
        return attr_extmap(c, after(v, 7));
    if (starts(v, "ssrc:"))
        return attr_ssrc(c, after(v, 5));
    if (starts(v, "ssrc-group:"))
        return attr_ssrc_group(c, after(v, 11));
    if (starts(v, "rid:"))
        return attr_rid(c, after(v, 4));
    if (starts(v, "ice-ufrag:"))
        return attr_word(c, after(v, 10), ufrag, sizeof s->ice_ufrag, "ice-ufrag");
    if (starts(v, "ice-pwd:"))
        return attr_word(c, after(v, 8), pwd, sizeof s->ice_pwd, "ice-pwd");
    if (starts(v, "fingerprint:"))
        return attr_fingerprint(c, after(v, 12), fpa, sizeof s->fingerprint_alg, fp, sizeof s->fingerprint);
    if (starts(v, "setup:"))
        return attr_word(c, after(v, 6), setup, sizeof s->setup, "setup");
    if (starts(v, "group:BUNDLE")) {
        span_t mids = after(v, 12);
        if (!printable(mids) || copy_span(s->bundle, sizeof s->bundle, mids) < 0)
            BAD("a=group:BUNDLE: too long");
        return 0;
    }
    if (v.n == 8 && !memcmp(v.p, "ice-lite", 8)) {
        s->ice_lite = 1;
        return 0;
    }
    if (!m)
        return 0; /* other session attributes: msid-semantic, extmap-allow-mixed, … */
    if (starts(v, "mid:"))
        return attr_word(c, after(v, 4), m->mid, sizeof m->mid, "mid");
    if (starts(v, "msid:")) {
        span_t x = after(v, 5);
        if (!printable(x) || copy_span(m->msid, sizeof m->msid, x) < 0)
            BAD("a=msid: too long");
        return 0;
    }
    if (starts(v, "candidate:")) {
        if (!printable(v))
            BAD("a=candidate: not printable");
        if (m->ncandidates < SDP_MAX_CANDIDATES && copy_span(m->candidates[m->ncandidates], sizeof m->candidates[0], v) == 0)
            m->ncandidates++;
        return 0;
    }
    if (starts(v, "simulcast:")) {
        if (!printable(v) || copy_span(m->simulcast, sizeof m->simulcast, after(v, 10)) < 0)
            BAD("a=simulcast: too long");
        return 0;
    }
    static const struct {
        const char *name;
        sdp_dir_t dir;
    } dirs[] = {{"sendrecv", SDP_SENDRECV}, {"sendonly", SDP_SENDONLY}, {"recvonly", SDP_RECVONLY}, {"inactive", SDP_INACTIVE}};
    for (size_t i = 0; i < 4; i++)
        if (v.n == strlen(dirs[i].name) && !memcmp(v.p, dirs[i].name, v.n)) {
            m->dir = dirs[i].dir;
            return 0;
        }
    if (v.n == 8 && !memcmp(v.p, "rtcp-mux", 8))
        m->rtcp_mux = 1;
    else if (v.n == 10 && !memcmp(v.p, "rtcp-rsize", 10))
        m->rtcp_rsize = 1;
    else if (v.n == 17 && !memcmp(v.p, "end-of-candidates", 17))
        m->end_of_candidates = 1;
    return 0;
}

/* m=<kind> <port>[/n] <proto> <fmt>… */
static int media_line(ctx_t *c, span_t v)
{
    sdp_media_t *m = sdp_add_media(c->s);
    if (!m)
        BAD("more than %d m-sections", SDP_MAX_MEDIA);
    c->m = m;
    span_t kind, port, proto, fmt;
    uint64_t n;
    if (token(&v, &kind) < 0 || token(&v, &port) < 0 || token(&v, &proto) < 0)
        BAD("m=: expected 'kind port proto formats'");
    const char *slash = memchr(port.p, '/', port.n);
    if (slash)
        port.n = (size_t)(slash - port.p);
    if (copy_span(m->kind, sizeof m->kind, kind) < 0 || !printable(kind))
        BAD("m=: media kind too long");
    if (number(port, 65535, &n) < 0)
        BAD("m=: bad port");
    m->port = (uint16_t)n;
    if (copy_span(m->proto, sizeof m->proto, proto) < 0 || !printable(proto))
        BAD("m=: protocol too long");
    int rtp = strstr(m->proto, "RTP") != NULL;
    while (token(&v, &fmt) == 0) {
        if (!rtp)
            continue;
        if (number(fmt, 127, &n) < 0)
            BAD("m=: format '%.*s' is not a payload type", (int)(fmt.n > 16 ? 16 : fmt.n), fmt.p);
        if (m->ncodecs < SDP_MAX_CODECS && !codec_by_pt(m, (int)n)) {
            sdp_codec_t *k = &m->codecs[m->ncodecs++];
            memset(k, 0, sizeof *k);
            k->pt = (int)n;
            k->apt = -1;
        }
    }
    return 0;
}

/* o=<username> <sess-id> <sess-version> IN IP4 <address> */
static int origin_line(ctx_t *c, span_t v)
{
    span_t user, id, version;
    uint64_t a, b;
    if (token(&v, &user) < 0 || token(&v, &id) < 0 || token(&v, &version) < 0 || number(id, UINT64_MAX, &a) < 0 ||
        number(version, UINT64_MAX, &b) < 0)
        BAD("o=: expected 'user id version nettype addrtype address'");
    c->s->session_id = a;
    c->s->session_version = b;
    return 0;
}

sdp_t *sdp_new(void) { return calloc(1, sizeof(sdp_t)); }

sdp_media_t *sdp_add_media(sdp_t *s)
{
    if (s->nmedia == SDP_MAX_MEDIA)
        return NULL;
    if (s->nmedia == s->media_cap) { /* doubling: growing one at a time copied O(n^2) bytes of big sections */
        size_t cap = s->media_cap ? s->media_cap * 2 : 4;
        if (cap > SDP_MAX_MEDIA)
            cap = SDP_MAX_MEDIA;
        sdp_media_t *grown = realloc(s->media, cap * sizeof *grown);
        if (!grown)
            return NULL;
        s->media = grown;
        s->media_cap = cap;
    }
    sdp_media_t *m = &s->media[s->nmedia++];
    memset(m, 0, sizeof *m);
    m->port = 9;
    m->dir = SDP_SENDRECV;
    return m;
}

sdp_t *sdp_parse(const char *text, size_t len, char *err, size_t errlen)
{
    if (len > SDP_MAX_TEXT) {
        snprintf(err, errlen, "SDP larger than %d bytes", SDP_MAX_TEXT);
        return NULL;
    }
    sdp_t *s = sdp_new();
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    ctx_t c = {.s = s, .err = err, .errlen = errlen};
    size_t at = 0;
    while (at < len) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - text) : len;
        size_t n = end - at;
        if (n && text[at + n - 1] == '\r')
            n--;
        c.line++;
        const char *line = text + at;
        at = end + 1;
        if (n == 0)
            continue;
        if (n > SDP_MAX_LINE) {
            fail(err, errlen, c.line, "longer than %d bytes", SDP_MAX_LINE);
            goto bad;
        }
        if (n < 2 || line[1] != '=' || line[0] < 'a' || line[0] > 'z') {
            fail(err, errlen, c.line, "not a 'x=value' line");
            goto bad;
        }
        if (c.line == 1 && !(n == 3 && !memcmp(line, "v=0", 3))) {
            fail(err, errlen, 1, "an SDP starts with v=0");
            goto bad;
        }
        span_t v = {line + 2, n - 2};
        int rc = 0;
        switch (line[0]) {
        case 'm':
            rc = media_line(&c, v);
            break;
        case 'a':
            rc = attr(&c, v);
            break;
        case 'o':
            rc = c.m ? 0 : origin_line(&c, v);
            break;
        default:
            break; /* v, s, t, c, b, …: nothing the SFU uses */
        }
        if (rc < 0)
            goto bad;
    }
    if (c.line == 0) {
        snprintf(err, errlen, "empty SDP");
        goto bad;
    }
    return s;
bad:
    sdp_free(s);
    return NULL;
}

void sdp_free(sdp_t *s)
{
    if (!s)
        return;
    free(s->media);
    free(s);
}

/* ---- lookups ------------------------------------------------------------------------------------ */

const char *sdp_ice_ufrag(const sdp_t *s, size_t i) { return *s->media[i].ice_ufrag ? s->media[i].ice_ufrag : s->ice_ufrag; }
const char *sdp_ice_pwd(const sdp_t *s, size_t i) { return *s->media[i].ice_pwd ? s->media[i].ice_pwd : s->ice_pwd; }
const char *sdp_setup(const sdp_t *s, size_t i) { return *s->media[i].setup ? s->media[i].setup : s->setup; }

const char *sdp_fingerprint(const sdp_t *s, size_t i, const char **alg)
{
    const sdp_media_t *m = &s->media[i];
    if (*m->fingerprint) {
        *alg = m->fingerprint_alg;
        return m->fingerprint;
    }
    *alg = s->fingerprint_alg;
    return s->fingerprint;
}

int sdp_check_webrtc(const sdp_t *s, char *err, size_t errlen)
{
    if (s->nmedia == 0) {
        snprintf(err, errlen, "no m-section");
        return -1;
    }
    for (size_t i = 0; i < s->nmedia; i++) {
        const sdp_media_t *m = &s->media[i];
        if (!*m->mid) {
            snprintf(err, errlen, "m-section %zu has no a=mid (BUNDLE needs one)", i);
            return -1;
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp(s->media[j].mid, m->mid)) {
                snprintf(err, errlen, "mid '%s' used twice", m->mid);
                return -1;
            }
        if (m->port == 0)
            continue;
        if (!*sdp_ice_ufrag(s, i) || !*sdp_ice_pwd(s, i)) {
            snprintf(err, errlen, "m-section %zu (mid %s) has no ICE credentials", i, m->mid);
            return -1;
        }
        const char *alg, *fp = sdp_fingerprint(s, i, &alg);
        if (!*fp || strcasecmp(alg, "sha-256") != 0) {
            snprintf(err, errlen, "m-section %zu (mid %s) has no sha-256 fingerprint", i, m->mid);
            return -1;
        }
        const char *setup = sdp_setup(s, i);
        if (strcmp(setup, "actpass") && strcmp(setup, "active") && strcmp(setup, "passive")) {
            snprintf(err, errlen, "m-section %zu (mid %s): a=setup must be actpass, active or passive", i, m->mid);
            return -1;
        }
        if (strstr(m->proto, "RTP") && !m->rtcp_mux) {
            snprintf(err, errlen, "m-section %zu (mid %s) has no a=rtcp-mux", i, m->mid);
            return -1;
        }
    }
    return 0;
}

const sdp_codec_t *sdp_find_codec(const sdp_media_t *m, const char *name, const char *fmtp_part)
{
    for (size_t i = 0; i < m->ncodecs; i++)
        if (!strcasecmp(m->codecs[i].name, name) && (!fmtp_part || strstr(m->codecs[i].fmtp, fmtp_part)))
            return &m->codecs[i];
    return NULL;
}

const sdp_codec_t *sdp_find_rtx(const sdp_media_t *m, int pt)
{
    for (size_t i = 0; i < m->ncodecs; i++)
        if (!strcasecmp(m->codecs[i].name, "rtx") && m->codecs[i].apt == pt)
            return &m->codecs[i];
    return NULL;
}

int sdp_find_extmap(const sdp_media_t *m, const char *uri)
{
    for (size_t i = 0; i < m->nextmaps; i++)
        if (!strcmp(m->extmaps[i].uri, uri))
            return m->extmaps[i].id;
    return 0;
}

sdp_codec_t *sdp_add_codec(sdp_media_t *m, const sdp_codec_t *c)
{
    if (m->ncodecs == SDP_MAX_CODECS)
        return NULL;
    m->codecs[m->ncodecs] = *c;
    return &m->codecs[m->ncodecs++];
}

int sdp_accept_simulcast(const sdp_media_t *offer, sdp_media_t *answer, size_t max)
{
    answer->nrids = 0;
    answer->simulcast[0] = 0;
    if (strncmp(offer->simulcast, "send ", 5) != 0)
        return 0;
    if (max > SDP_MAX_RIDS)
        max = SDP_MAX_RIDS;
    char list[sizeof offer->simulcast];
    snprintf(list, sizeof list, "%s", offer->simulcast + 5);
    char *space = strchr(list, ' ');
    if (space)
        *space = 0; /* a "recv …" part after it: the SFU sends nothing as simulcast */
    char accepted[sizeof answer->simulcast] = "recv ";
    size_t at = 5;
    for (char *save = NULL, *tok = strtok_r(list, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
        char *comma = strchr(tok, ',');
        if (comma)
            *comma = 0;
        if (*tok == '~' || answer->nrids == max)
            continue;
        int offered = 0;
        for (size_t i = 0; i < offer->nrids; i++)
            offered |= offer->rids[i].send && !strcmp(offer->rids[i].id, tok);
        if (!offered)
            continue;
        snprintf(answer->rids[answer->nrids].id, sizeof answer->rids[0].id, "%s", tok);
        answer->rids[answer->nrids++].send = 0;
        at += (size_t)snprintf(accepted + at, sizeof accepted - at, "%s%s", answer->nrids > 1 ? ";" : "", tok);
    }
    if (answer->nrids < 2) {
        answer->nrids = 0;
        return 0;
    }
    snprintf(answer->simulcast, sizeof answer->simulcast, "%s", accepted);
    return 1;
}

const char *sdp_dir_name(sdp_dir_t d)
{
    static const char *const names[] = {"sendrecv", "sendonly", "recvonly", "inactive"};
    return names[d & 3];
}

/* ---- writing ------------------------------------------------------------------------------------ */

typedef struct {
    char *buf;
    size_t len, cap;
    int oom;
} out_t;

static void put(out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(out_t *o, const char *fmt, ...)
{
    if (o->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        /* NULL + 0 is undefined in C: the first call measures into no buffer at all */
        int n = vsnprintf(o->buf ? o->buf + o->len : NULL, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            o->oom = 1;
            return;
        }
        if ((size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        size_t cap = (o->cap + (size_t)n + 1) * 2;
        char *b = realloc(o->buf, cap);
        if (!b) {
            o->oom = 1;
            return;
        }
        o->buf = b;
        o->cap = cap;
    }
}

static void write_media(out_t *o, const sdp_t *s, const sdp_media_t *m)
{
    put(o, "m=%s %u %s", m->kind, m->port, m->proto);
    for (size_t i = 0; i < m->ncodecs; i++)
        put(o, " %d", m->codecs[i].pt);
    put(o, "\r\nc=IN IP4 0.0.0.0\r\n");
    if (strstr(m->proto, "RTP"))
        put(o, "a=rtcp:9 IN IP4 0.0.0.0\r\n");
    const char *ufrag = *m->ice_ufrag ? m->ice_ufrag : s->ice_ufrag;
    const char *pwd = *m->ice_pwd ? m->ice_pwd : s->ice_pwd;
    const char *fpa = *m->fingerprint ? m->fingerprint_alg : s->fingerprint_alg;
    const char *fp = *m->fingerprint ? m->fingerprint : s->fingerprint;
    const char *setup = *m->setup ? m->setup : s->setup;
    if (*ufrag)
        put(o, "a=ice-ufrag:%s\r\n", ufrag);
    if (*pwd)
        put(o, "a=ice-pwd:%s\r\n", pwd);
    if (*fpa && *fp) /* the parser never keeps one without the other; written only whole */
        put(o, "a=fingerprint:%s %s\r\n", fpa, fp);
    if (*setup)
        put(o, "a=setup:%s\r\n", setup);
    if (*m->mid)
        put(o, "a=mid:%s\r\n", m->mid);
    for (size_t i = 0; i < m->nextmaps; i++)
        put(o, "a=extmap:%d %s\r\n", m->extmaps[i].id, m->extmaps[i].uri);
    put(o, "a=%s\r\n", sdp_dir_name(m->dir));
    if (*m->msid)
        put(o, "a=msid:%s\r\n", m->msid);
    if (m->rtcp_mux)
        put(o, "a=rtcp-mux\r\n");
    if (m->rtcp_rsize)
        put(o, "a=rtcp-rsize\r\n");
    for (size_t i = 0; i < m->ncodecs; i++) {
        const sdp_codec_t *k = &m->codecs[i];
        if (!*k->name || !k->clock)
            ; /* listed on the m= line without an rtpmap (a static payload type): nothing to map */
        else if (k->channels)
            put(o, "a=rtpmap:%d %s/%u/%d\r\n", k->pt, k->name, k->clock, k->channels);
        else
            put(o, "a=rtpmap:%d %s/%u\r\n", k->pt, k->name, k->clock);
        static const struct {
            unsigned bit;
            const char *text;
        } fbs[] = {{SDP_FB_REMB, "goog-remb"}, {SDP_FB_TCC, "transport-cc"}, {SDP_FB_FIR, "ccm fir"}, {SDP_FB_NACK, "nack"}, {SDP_FB_PLI, "nack pli"}};
        for (size_t j = 0; j < sizeof fbs / sizeof fbs[0]; j++)
            if (k->fb & fbs[j].bit)
                put(o, "a=rtcp-fb:%d %s\r\n", k->pt, fbs[j].text);
        if (*k->fmtp)
            put(o, "a=fmtp:%d %s\r\n", k->pt, k->fmtp);
    }
    for (size_t i = 0; i < m->nrids; i++)
        put(o, "a=rid:%s %s\r\n", m->rids[i].id, m->rids[i].send ? "send" : "recv");
    if (*m->simulcast)
        put(o, "a=simulcast:%s\r\n", m->simulcast);
    if (m->fid_primary && m->fid_rtx)
        put(o, "a=ssrc-group:FID %u %u\r\n", m->fid_primary, m->fid_rtx);
    for (size_t i = 0; i < m->nssrcs; i++) {
        const sdp_ssrc_t *x = &m->ssrcs[i];
        if (*x->cname)
            put(o, "a=ssrc:%u cname:%s\r\n", x->ssrc, x->cname);
        if (*x->msid)
            put(o, "a=ssrc:%u msid:%s\r\n", x->ssrc, x->msid);
    }
    for (size_t i = 0; i < m->ncandidates; i++)
        put(o, "a=%s\r\n", m->candidates[i]);
    if (m->end_of_candidates)
        put(o, "a=end-of-candidates\r\n");
}

char *sdp_write(const sdp_t *s)
{
    out_t o = {0};
    put(&o, "v=0\r\no=- %llu %llu IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", (unsigned long long)s->session_id,
        (unsigned long long)s->session_version);
    put(&o, "a=group:BUNDLE");
    for (size_t i = 0; i < s->nmedia; i++)
        if (s->media[i].port)
            put(&o, " %s", s->media[i].mid);
    put(&o, "\r\na=msid-semantic: WMS *\r\n");
    if (s->ice_lite)
        put(&o, "a=ice-lite\r\n");
    for (size_t i = 0; i < s->nmedia; i++)
        write_media(&o, s, &s->media[i]);
    if (o.oom) {
        free(o.buf);
        return NULL;
    }
    return o.buf;
}
