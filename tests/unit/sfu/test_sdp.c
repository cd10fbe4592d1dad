/* test_sdp.c — the SDP codec: a Chromium-shaped offer parsed field by field, WebRTC checks, limits and
 * errors naming the line, and a written description that parses back to the same thing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "chrome_offer.h"
#include "sdp.h"

static sdp_t *parse_ok(const char *text)
{
    char err[256] = "";
    sdp_t *s = sdp_parse(text, strlen(text), err, sizeof err);
    if (!s)
        fail_msg("parse failed: %s", err);
    return s;
}

static void expect_error(const char *text, const char *needle)
{
    char err[256] = "";
    sdp_t *s = sdp_parse(text, strlen(text), err, sizeof err);
    char check[256] = "";
    if (s) {
        int rc = sdp_check_webrtc(s, check, sizeof check);
        sdp_free(s);
        if (rc == 0)
            fail_msg("accepted: %s", text);
        if (!strstr(check, needle))
            fail_msg("error '%s' does not mention '%s'", check, needle);
        return;
    }
    if (!strstr(err, needle))
        fail_msg("error '%s' does not mention '%s'", err, needle);
}

static void test_chrome_offer(void **st)
{
    (void)st;
    sdp_t *s = parse_ok(chrome_offer);
    char err[256];
    assert_int_equal(sdp_check_webrtc(s, err, sizeof err), 0);
    assert_int_equal(s->nmedia, 3);
    assert_string_equal(s->bundle, " 0 1 2");
    const sdp_media_t *a = &s->media[0], *v = &s->media[1], *sc = &s->media[2];
    assert_string_equal(a->kind, "audio");
    assert_string_equal(a->mid, "0");
    assert_int_equal(a->dir, SDP_SENDONLY);
    assert_int_equal(a->ncodecs, 8);
    const sdp_codec_t *opus = sdp_find_codec(a, "opus", NULL);
    assert_non_null(opus);
    assert_int_equal(opus->pt, 111);
    assert_int_equal(opus->clock, 48000);
    assert_int_equal(opus->channels, 2);
    assert_string_equal(opus->fmtp, "minptime=10;useinbandfec=1");
    assert_true(opus->fb & SDP_FB_TCC);
    assert_int_equal(sdp_find_extmap(a, "urn:ietf:params:rtp-hdrext:ssrc-audio-level"), 1);
    assert_int_equal(a->nssrcs, 1);
    assert_int_equal(a->ssrcs[0].ssrc, 1001);
    assert_string_equal(a->ssrcs[0].cname, "abc");
    assert_string_equal(a->msid, "stream1 audio1");
    assert_true(a->rtcp_mux && a->rtcp_rsize);
    const char *alg;
    assert_string_equal(sdp_fingerprint(s, 0, &alg),
                        "0F:74:31:25:CB:A2:13:EC:28:6F:6D:2C:61:FF:5D:C2:BC:B9:DB:3D:98:14:8D:1A:BB:EA:33:0C:A4:60:A8:8E");
    assert_string_equal(alg, "sha-256");
    assert_string_equal(sdp_setup(s, 0), "actpass");
    assert_string_equal(sdp_ice_ufrag(s, 1), "Xy1f");

    const sdp_codec_t *vp8 = sdp_find_codec(v, "VP8", NULL);
    assert_non_null(vp8);
    assert_int_equal(vp8->fb, SDP_FB_REMB | SDP_FB_TCC | SDP_FB_FIR | SDP_FB_NACK | SDP_FB_PLI);
    const sdp_codec_t *rtx = sdp_find_rtx(v, 96);
    assert_non_null(rtx);
    assert_int_equal(rtx->pt, 97);
    assert_non_null(sdp_find_codec(v, "H264", "packetization-mode=1"));
    assert_null(sdp_find_codec(v, "H264", "packetization-mode=0"));
    assert_int_equal(v->fid_primary, 2001);
    assert_int_equal(v->fid_rtx, 2002);
    assert_int_equal(sc->nrids, 2);
    assert_string_equal(sc->rids[0].id, "l");
    assert_true(sc->rids[1].send);
    assert_string_equal(sc->simulcast, "send l;h");
    assert_int_equal(sc->ncandidates, 1);
    assert_string_equal(sc->candidates[0], "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host generation 0");
    assert_true(sc->end_of_candidates);
    sdp_free(s);
}

static void test_write_parses_back(void **st)
{
    (void)st;
    sdp_t *s = parse_ok(chrome_offer);
    s->media[1].dir = SDP_RECVONLY;
    char *text = sdp_write(s);
    assert_non_null(text);
    sdp_t *b = parse_ok(text);
    char err[256];
    assert_int_equal(sdp_check_webrtc(b, err, sizeof err), 0);
    assert_int_equal(b->nmedia, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(b->media[i].mid, s->media[i].mid);
        assert_int_equal(b->media[i].ncodecs, s->media[i].ncodecs);
        assert_int_equal(b->media[i].nssrcs, s->media[i].nssrcs);
        assert_int_equal(b->media[i].dir, s->media[i].dir);
    }
    assert_int_equal(b->media[1].dir, SDP_RECVONLY);
    assert_int_equal(b->media[1].fid_rtx, 2002);
    assert_string_equal(sdp_find_codec(&b->media[1], "VP8", NULL)->name, "VP8");
    assert_non_null(strstr(text, "a=group:BUNDLE 0 1 2\r\n"));
    free(text);
    sdp_free(b);
    sdp_free(s);
}

static void test_errors_name_the_line(void **st)
{
    (void)st;
    expect_error("", "empty");
    expect_error("hello", "line 1");
    expect_error("v=1\r\n", "v=0");
    expect_error("v=0\r\nm=audio x UDP/TLS/RTP/SAVPF 111\r\n", "line 2: m=: bad port");
    expect_error("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF abc\r\n", "not a payload type");
    expect_error("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus\r\n", "line 3: a=rtpmap");
    expect_error("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:300 opus/48000\r\n", "a=rtpmap");
    expect_error("v=0\r\nm=audio 9 RTP/AVP 0\r\na=ssrc:99999999999 cname:x\r\n", "a=ssrc");
    expect_error("v=0\r\nm=audio 9 RTP/AVP 0\r\na=fingerprint:sha-256 ZZ:11\r\n", "not hex");
    expect_error("v=0\r\nm=audio 9 RTP/AVP 0\r\na=rid:l sideways\r\n", "a=rid");
    expect_error("v=0\r\nm=audio 9 RTP/AVP 0\r\n", "no a=mid");
    /* WebRTC checks: credentials, fingerprint, setup, rtcp-mux, duplicate mids. */
    expect_error("v=0\r\nm=audio 9 RTP/AVP 0\r\na=mid:a\r\n", "ICE credentials");
    expect_error("v=0\r\na=ice-ufrag:u\r\na=ice-pwd:p\r\nm=audio 9 RTP/AVP 0\r\na=mid:a\r\n", "fingerprint");
    expect_error("v=0\r\na=ice-ufrag:u\r\na=ice-pwd:p\r\na=fingerprint:sha-256 AA\r\nm=audio 9 RTP/AVP 0\r\na=mid:a\r\n"
                 "a=setup:maybe\r\n", "setup");
    expect_error("v=0\r\na=ice-ufrag:u\r\na=ice-pwd:p\r\na=fingerprint:sha-256 AA\r\na=setup:actpass\r\n"
                 "m=audio 9 RTP/AVP 0\r\na=mid:a\r\n", "rtcp-mux");
    expect_error("v=0\r\na=ice-ufrag:u\r\na=ice-pwd:p\r\na=fingerprint:sha-256 AA\r\na=setup:actpass\r\n"
                 "m=audio 9 RTP/AVP 0\r\na=mid:a\r\na=rtcp-mux\r\nm=audio 9 RTP/AVP 0\r\na=mid:a\r\na=rtcp-mux\r\n", "twice");
    expect_error("v=0\r\n", "no m-section");
}

static void test_limits(void **st)
{
    (void)st;
    char err[256];
    /* Too large as a whole. */
    size_t big = SDP_MAX_TEXT + 1;
    char *text = malloc(big);
    memset(text, 'a', big);
    assert_null(sdp_parse(text, big, err, sizeof err));
    assert_non_null(strstr(err, "larger"));
    /* A line too long. */
    memcpy(text, "v=0\r\na=", 7);
    memset(text + 7, 'x', SDP_MAX_LINE + 10);
    assert_null(sdp_parse(text, 7 + SDP_MAX_LINE + 10, err, sizeof err));
    assert_non_null(strstr(err, "line 2: longer"));
    free(text);
    /* Too many m-sections. */
    size_t cap = 64 * (SDP_MAX_MEDIA + 2), n = 0;
    text = malloc(cap);
    n += (size_t)snprintf(text, cap, "v=0\r\n");
    for (int i = 0; i <= SDP_MAX_MEDIA; i++)
        n += (size_t)snprintf(text + n, cap - n, "m=audio 9 RTP/AVP 0\r\na=mid:%d\r\n", i);
    assert_null(sdp_parse(text, n, err, sizeof err));
    assert_non_null(strstr(err, "m-sections"));
    free(text);
    /* More codecs than the table holds: the extra ones are skipped, not an error. */
    char many[8192];
    n = (size_t)snprintf(many, sizeof many, "v=0\r\nm=video 9 RTP/AVP");
    for (int pt = 0; pt < 100; pt++)
        n += (size_t)snprintf(many + n, sizeof many - n, " %d", pt);
    n += (size_t)snprintf(many + n, sizeof many - n, "\r\na=rtpmap:99 VP8/90000\r\n");
    sdp_t *s = sdp_parse(many, n, err, sizeof err);
    assert_non_null(s);
    assert_int_equal(s->media[0].ncodecs, SDP_MAX_CODECS);
    assert_null(sdp_find_codec(&s->media[0], "VP8", NULL));
    sdp_free(s);
    /* Not terminated input is fine: the parser never reads past len. */
    s = sdp_parse(chrome_offer, 5, err, sizeof err);
    assert_non_null(s);
    sdp_free(s);
}

/* RFC 8853: the answerer mirrors the rids it takes, lowest first as offered; alternatives, paused rids,
 * rids the offer does not declare and fewer than two layers are not simulcast. */
static void test_simulcast_answer(void **st)
{
    (void)st;
    sdp_t *o = parse_ok("v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\na=rtpmap:96 VP8/90000\r\n"
                        "a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r\n"
                        "a=rid:q send\r\na=rid:h send\r\na=rid:f send\r\na=simulcast:send q;h;f\r\n");
    sdp_media_t a;
    memset(&a, 0, sizeof a);
    assert_int_equal(sdp_accept_simulcast(&o->media[0], &a, 4), 1);
    assert_int_equal(a.nrids, 3);
    assert_string_equal(a.rids[0].id, "q");
    assert_string_equal(a.rids[2].id, "f");
    assert_false(a.rids[1].send);
    assert_string_equal(a.simulcast, "recv q;h;f");
    /* written and parsed back: the answer's lines */
    sdp_t *ans = sdp_new();
    sdp_media_t *m = sdp_add_media(ans);
    *m = a;
    snprintf(m->kind, sizeof m->kind, "video");
    snprintf(m->proto, sizeof m->proto, "UDP/TLS/RTP/SAVPF");
    snprintf(m->mid, sizeof m->mid, "0");
    char *text = sdp_write(ans);
    assert_non_null(strstr(text, "a=rid:q recv\r\n"));
    assert_non_null(strstr(text, "a=simulcast:recv q;h;f\r\n"));
    free(text);
    sdp_free(ans);
    /* the layer limit keeps the lowest */
    assert_int_equal(sdp_accept_simulcast(&o->media[0], &a, 2), 1);
    assert_string_equal(a.simulcast, "recv q;h");
    sdp_free(o);

    /* paused and alternative rids, an undeclared rid: one layer left, so no simulcast */
    o = parse_ok("v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\na=rid:a send\r\na=rid:b send\r\n"
                 "a=simulcast:send ~a;b,c;zz\r\n");
    assert_int_equal(sdp_accept_simulcast(&o->media[0], &a, 4), 0);
    assert_int_equal(a.nrids, 0);
    assert_string_equal(a.simulcast, "");
    sdp_free(o);
    /* receive-only simulcast, or none */
    o = parse_ok("v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\na=rid:a recv\r\na=rid:b recv\r\n"
                 "a=simulcast:recv a;b\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\n");
    assert_int_equal(sdp_accept_simulcast(&o->media[0], &a, 4), 0);
    assert_int_equal(sdp_accept_simulcast(&o->media[1], &a, 4), 0);
    sdp_free(o);
    /* the Chromium-shaped offer's two layers */
    o = parse_ok(chrome_offer);
    assert_int_equal(sdp_accept_simulcast(&o->media[2], &a, 4), 1);
    assert_string_equal(a.simulcast, "recv l;h");
    sdp_free(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chrome_offer),
        cmocka_unit_test(test_write_parses_back),
        cmocka_unit_test(test_errors_name_the_line),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_simulcast_answer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
