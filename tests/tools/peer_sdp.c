/* peer_sdp.c — see peer_sdp.h. */
#include "peer_sdp.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The transport attributes every bundled section repeats (JSEP §5.2.1 writes them in each). */
static void transport(GString *s, const peer_sdp_local_t *l)
{
    g_string_append_printf(s, "c=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:%s\r\na=ice-pwd:%s\r\n"
                              "a=ice-options:trickle\r\na=fingerprint:sha-256 %s\r\n",
                           l->ufrag, l->pwd, l->fingerprint);
}

static void ssrc_lines(GString *s, const peer_sdp_local_t *l, int which)
{
    g_string_append_printf(s, "a=ssrc:%u cname:p%d\r\na=ssrc:%u msid:p%d %c%d\r\n", l->ssrc[which], l->index,
                           l->ssrc[which], l->index, which ? 'v' : 'a', l->index);
}

/* Rid simulcast (RFC 8853): the layers we send, and their SSRCs left to the rtp-stream-id extension. */
const char *peer_sdp_rids = PEER_SDP_RIDS;

static void simulcast_lines(GString *s, const char *dir)
{
    char **rids = g_strsplit(peer_sdp_rids, ";", -1);
    for (char **r = rids; *r; r++)
        g_string_append_printf(s, "a=rid:%s %s\r\n", *r, dir);
    g_strfreev(rids);
    g_string_append_printf(s, "a=simulcast:%s %s\r\n", dir, peer_sdp_rids);
}

char *peer_sdp_offer(const peer_sdp_local_t *l)
{
    const char *dir = l->publisher ? "sendonly" : "recvonly";
    GString *s = g_string_new(NULL);
    g_string_append_printf(s, "v=0\r\no=- %u 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n"
                              "a=extmap-allow-mixed\r\na=msid-semantic: WMS p%d\r\n",
                           g_random_int(), l->index);
    g_string_append_printf(s, "m=audio 9 UDP/TLS/RTP/SAVPF %d\r\n", PEER_SDP_PT_OPUS);
    transport(s, l);
    g_string_append_printf(s, "a=setup:actpass\r\na=mid:0\r\na=extmap:%d urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"
                              "a=%s\r\na=msid:p%d a%d\r\na=rtcp-mux\r\na=rtpmap:%d opus/48000/2\r\n"
                              "a=rtcp-fb:%d transport-cc\r\na=fmtp:%d minptime=10;useinbandfec=1\r\n",
                           PEER_SDP_AUDIO_LEVEL_ID, dir, l->index, l->index, PEER_SDP_PT_OPUS, PEER_SDP_PT_OPUS,
                           PEER_SDP_PT_OPUS);
    if (l->publisher)
        ssrc_lines(s, l, 0);
    g_string_append_printf(s, "m=video 9 UDP/TLS/RTP/SAVPF %d\r\n", PEER_SDP_PT_VP8);
    transport(s, l);
    g_string_append_printf(s, "a=setup:actpass\r\na=mid:1\r\n");
    /* With simulcast the layers' SSRCs are not in the SDP: the receiver learns them from these two. */
    if (l->simulcast && l->publisher)
        g_string_append_printf(s, "a=extmap:%d urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
                                  "a=extmap:%d urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r\n",
                               PEER_SDP_MID_ID, PEER_SDP_RID_ID);
    g_string_append_printf(s, "a=%s\r\na=msid:p%d v%d\r\na=rtcp-mux\r\na=rtcp-rsize\r\n"
                              "a=rtpmap:%d VP8/90000\r\na=rtcp-fb:%d goog-remb\r\na=rtcp-fb:%d transport-cc\r\n"
                              "a=rtcp-fb:%d ccm fir\r\na=rtcp-fb:%d nack\r\na=rtcp-fb:%d nack pli\r\n",
                           dir, l->index, l->index, PEER_SDP_PT_VP8, PEER_SDP_PT_VP8, PEER_SDP_PT_VP8,
                           PEER_SDP_PT_VP8, PEER_SDP_PT_VP8, PEER_SDP_PT_VP8);
    if (l->publisher && l->simulcast)
        simulcast_lines(s, "send");
    else if (l->publisher)
        ssrc_lines(s, l, 1);
    return g_string_free(s, FALSE);
}

/* One m-section of the offer being answered, as read so far. */
typedef struct {
    bool open, rejected;
    char kind[16], mid[64], dir[16];
    const char *rest; /* the m= line after its port: " UDP/TLS/RTP/SAVPF 96" (borrowed) */
    GString *codecs;  /* the offer's rtpmap/fmtp/rtcp-fb/extmap lines, echoed */
} section_t;

static const char *mirror(const char *dir, bool ours, bool publisher)
{
    if (!strcmp(dir, "sendonly"))
        return "recvonly";
    if (!strcmp(dir, "recvonly"))
        return ours && publisher ? "sendonly" : "inactive";
    if (!strcmp(dir, "sendrecv"))
        return "sendrecv";
    return "inactive";
}

static void close_section(const peer_sdp_local_t *l, section_t *m, GString *bundle, GString *body)
{
    if (!m->open)
        return;
    bool ours = !strcmp(m->mid, "0") || !strcmp(m->mid, "1");
    const char *dir = m->rejected ? "inactive" : mirror(m->dir, ours, l->publisher);
    g_string_append_printf(body, "m=%s %d%s\r\n", m->kind, m->rejected ? 0 : 9, m->rest ? m->rest : "");
    if (!m->rejected) {
        g_string_append_printf(bundle, " %s", m->mid);
        transport(body, l);
        g_string_append_printf(body, "a=setup:%s\r\n", l->dtls_client ? "active" : "passive");
    }
    g_string_append_printf(body, "a=mid:%s\r\na=%s\r\na=rtcp-mux\r\n%s", m->mid, dir, m->codecs->str);
    /* Our own sections keep announcing what we send on them. */
    if (!m->rejected && ours && !strcmp(dir, "sendonly")) {
        if (l->simulcast && m->mid[0] == '1')
            simulcast_lines(body, "send");
        else
            ssrc_lines(body, l, m->mid[0] - '0');
    }
    m->open = false;
}

char *peer_sdp_answer(const peer_sdp_local_t *l, const char *offer)
{
    char **lines = g_strsplit(offer, "\n", -1);
    GString *bundle = g_string_new("a=group:BUNDLE");
    GString *body = g_string_new(NULL);
    section_t m = {.codecs = g_string_new(NULL)};
    for (char **p = lines; *p; p++) {
        const char *x = g_strstrip(*p);
        if (g_str_has_prefix(x, "m=")) {
            close_section(l, &m, bundle, body);
            int port = 0;
            m.kind[0] = 0;
            sscanf(x, "m=%15s %d", m.kind, &port);
            m.rejected = port == 0;
            m.rest = strchr(x, ' ');
            m.rest = m.rest ? strchr(m.rest + 1, ' ') : NULL;
            m.mid[0] = 0;
            g_strlcpy(m.dir, "sendrecv", sizeof m.dir);
            g_string_truncate(m.codecs, 0);
            m.open = true;
        } else if (!m.open) {
            continue;
        } else if (g_str_has_prefix(x, "a=mid:")) {
            g_strlcpy(m.mid, x + 6, sizeof m.mid);
        } else if (!strcmp(x, "a=sendonly") || !strcmp(x, "a=recvonly") || !strcmp(x, "a=inactive") ||
                   !strcmp(x, "a=sendrecv")) {
            g_strlcpy(m.dir, x + 2, sizeof m.dir);
        } else if (g_str_has_prefix(x, "a=rtpmap:") || g_str_has_prefix(x, "a=fmtp:") ||
                   g_str_has_prefix(x, "a=rtcp-fb:") || g_str_has_prefix(x, "a=extmap:")) {
            g_string_append_printf(m.codecs, "%s\r\n", x);
        }
    }
    close_section(l, &m, bundle, body);
    GString *s = g_string_new(NULL);
    g_string_append_printf(s, "v=0\r\no=- %u 3 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n%s\r\na=msid-semantic: WMS p%d\r\n%s",
                           g_random_int(), bundle->str, l->index, body->str);
    g_string_free(bundle, TRUE);
    g_string_free(body, TRUE);
    g_string_free(m.codecs, TRUE);
    g_strfreev(lines);
    return g_string_free(s, FALSE);
}

int peer_sdp_read(const char *sdp, peer_sdp_remote_t *out)
{
    memset(out, 0, sizeof *out);
    char **lines = g_strsplit(sdp, "\n", -1);
    for (char **p = lines; *p; p++) {
        const char *x = g_strstrip(*p);
        if (g_str_has_prefix(x, "a=ice-ufrag:") && !out->ufrag[0])
            g_strlcpy(out->ufrag, x + 12, sizeof out->ufrag);
        else if (g_str_has_prefix(x, "a=ice-pwd:") && !out->pwd[0])
            g_strlcpy(out->pwd, x + 10, sizeof out->pwd);
        else if (g_str_has_prefix(x, "a=fingerprint:sha-256 ") && !out->fingerprint[0])
            g_strlcpy(out->fingerprint, x + 22, sizeof out->fingerprint);
        else if (g_str_has_prefix(x, "a=setup:") && !out->setup[0])
            g_strlcpy(out->setup, x + 8, sizeof out->setup);
        else if (g_str_has_prefix(x, "a=candidate:") && out->ncandidates < PEER_SDP_MAX_CANDIDATES)
            g_strlcpy(out->candidates[out->ncandidates++], x + 2, sizeof out->candidates[0]);
        else if (g_str_has_prefix(x, "a=rtpmap:") && strstr(x, " VP8/90000") && !out->vp8_pt)
            out->vp8_pt = atoi(x + 9);
    }
    g_strfreev(lines);
    return out->ufrag[0] && out->pwd[0] && out->fingerprint[0] ? 0 : -1;
}
