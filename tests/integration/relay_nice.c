/* relay_nice.c — end-to-end check of a TURN relay with an ICE implementation nobody on this project
 * wrote: two libnice agents in one process, relay candidates only, talking through the relay.
 *
 *   relay_nice PORT USERNAME PASSWORD [udp|tcp] [COUNT]
 *
 * Both agents use the relay at 127.0.0.1:PORT (TURN over UDP or over TCP), force-relay on, host
 * addresses restricted to 127.0.0.1 so no packet leaves the machine. Credentials and candidates are
 * exchanged in memory. Once both components are READY, each agent sends COUNT (default 300)
 * numbered messages; every one must arrive, in any order, exactly once, and the selected pair must be
 * relay/relay on both sides. Exit 0 on success; otherwise one line "relay_nice: FAIL: reason" and 1.
 * Everything is bounded by a 20 s timeout.
 * No TLS case: in RFC 5245 mode libnice 0.1.21 sends NICE_RELAY_TYPE_TURN_TLS as plain TURN over TCP
 * (TLS-like wrapping only in its Google/MSOC modes), so it cannot test a relay's TLS listener.
 */
#include <agent.h>
#include <gio/gio.h>
#include <glib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TIMEOUT_MS 20000
#define MAX_COUNT 100000
#define SEND_BATCH 10 /* messages per tick: paced so socket buffers never overflow */
#define SEND_TICK_MS 2
#define MSG_LEN 160

typedef struct side {
    const char *name;
    NiceAgent *agent;
    guint stream;
    gboolean gathered;
    gboolean ready;
    gboolean failed;
    guint sent;
    guint received;
    guint dups;
    guint8 *seen; /* one flag per message number from the other side */
    struct side *other;
} side_t;

typedef struct {
    GMainLoop *loop;
    side_t a, b;
    guint count;
    gboolean exchanged;
    gboolean sending;
    guint timer; /* the overall timeout source, 0 once it fired */
    int status; /* -1 running, 0 ok, 1 failed */
    char reason[512];
} test_t;

static test_t T;

static void finish(int status, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void finish(int status, const char *fmt, ...)
{
    if (T.status != -1)
        return;
    T.status = status;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(T.reason, sizeof T.reason, fmt, ap);
        va_end(ap);
    }
    g_main_loop_quit(T.loop);
}

static const char *cand_type(NiceCandidateType t)
{
    switch (t) {
    case NICE_CANDIDATE_TYPE_HOST: return "host";
    case NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE: return "srflx";
    case NICE_CANDIDATE_TYPE_PEER_REFLEXIVE: return "prflx";
    case NICE_CANDIDATE_TYPE_RELAYED: return "relay";
    }
    return "?";
}

/* Gives the other agent this one's ufrag/pwd and candidates, once both have gathered. */
static void exchange(void)
{
    side_t *sides[2] = {&T.a, &T.b};
    if (T.exchanged || !T.a.gathered || !T.b.gathered)
        return;
    T.exchanged = TRUE;
    for (int i = 0; i < 2; i++) {
        side_t *s = sides[i];
        gchar *ufrag = NULL, *pwd = NULL;
        if (!nice_agent_get_local_credentials(s->agent, s->stream, &ufrag, &pwd)) {
            finish(1, "%s: no local credentials", s->name);
            return;
        }
        nice_agent_set_remote_credentials(s->other->agent, s->other->stream, ufrag, pwd);
        g_free(ufrag);
        g_free(pwd);
        GSList *cands = nice_agent_get_local_candidates(s->agent, s->stream, 1);
        guint n = g_slist_length(cands), relayed = 0;
        for (GSList *l = cands; l; l = l->next)
            if (((NiceCandidate *)l->data)->type == NICE_CANDIDATE_TYPE_RELAYED)
                relayed++;
        if (relayed == 0) {
            g_slist_free_full(cands, (GDestroyNotify)nice_candidate_free);
            finish(1, "%s: no relay candidate gathered (%u candidates): Allocate failed?", s->name, n);
            return;
        }
        int added = nice_agent_set_remote_candidates(s->other->agent, s->other->stream, 1, cands);
        g_slist_free_full(cands, (GDestroyNotify)nice_candidate_free);
        if (added < 1) {
            finish(1, "%s: the other agent accepted none of %u candidates", s->name, n);
            return;
        }
    }
}

static side_t *side_of(NiceAgent *agent)
{
    return agent == T.a.agent ? &T.a : &T.b;
}

static void on_gathering_done(NiceAgent *agent, guint stream, gpointer data)
{
    (void)stream;
    (void)data;
    side_of(agent)->gathered = TRUE;
    exchange();
}

static gboolean send_tick(gpointer data)
{
    (void)data;
    side_t *sides[2] = {&T.a, &T.b};
    gboolean more = FALSE;
    for (int i = 0; i < 2; i++) {
        side_t *s = sides[i];
        for (int k = 0; k < SEND_BATCH && s->sent < T.count; k++) {
            char msg[MSG_LEN];
            memset(msg, 'x', sizeof msg);
            int n = snprintf(msg, sizeof msg, "%s %u", s->name, s->sent);
            msg[n] = 0; /* number ends at the NUL; the rest is padding */
            gint r = nice_agent_send(s->agent, s->stream, 1, sizeof msg, msg);
            if (r != (gint)sizeof msg) /* would block: try this one again next tick */
                break;
            s->sent++;
        }
        if (s->sent < T.count)
            more = TRUE;
    }
    return more ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

/* Checks both selected pairs are relay/relay, then starts sending. */
static void maybe_start(void)
{
    side_t *sides[2] = {&T.a, &T.b};
    if (T.sending || !T.a.ready || !T.b.ready)
        return;
    for (int i = 0; i < 2; i++) {
        NiceCandidate *local = NULL, *remote = NULL;
        if (!nice_agent_get_selected_pair(sides[i]->agent, sides[i]->stream, 1, &local, &remote)) {
            finish(1, "%s: READY without a selected pair", sides[i]->name);
            return;
        }
        if (local->type != NICE_CANDIDATE_TYPE_RELAYED || remote->type != NICE_CANDIDATE_TYPE_RELAYED) {
            finish(1, "%s: selected pair is %s/%s, not relay/relay", sides[i]->name,
                   cand_type(local->type), cand_type(remote->type));
            return;
        }
    }
    T.sending = TRUE;
    g_timeout_add(SEND_TICK_MS, send_tick, NULL);
}

static void on_state(NiceAgent *agent, guint stream, guint component, guint state, gpointer data)
{
    (void)stream;
    (void)component;
    (void)data;
    side_t *s = side_of(agent);
    if (state == NICE_COMPONENT_STATE_READY) {
        s->ready = TRUE;
        maybe_start();
    } else if (state == NICE_COMPONENT_STATE_FAILED) {
        finish(1, "%s: ICE failed (no working relay/relay pair)", s->name);
    }
}

static void on_recv(NiceAgent *agent, guint stream, guint component, guint len, gchar *buf,
                    gpointer data)
{
    (void)stream;
    (void)component;
    (void)data;
    side_t *s = side_of(agent);
    char name[8];
    unsigned num;
    if (len != MSG_LEN || memchr(buf, 0, len) == NULL ||
        sscanf(buf, "%7s %u", name, &num) != 2 || strcmp(name, s->other->name) != 0 || num >= T.count) {
        finish(1, "%s: received a message that was not sent (%u bytes)", s->name, len);
        return;
    }
    if (s->seen[num]) {
        s->dups++;
        return;
    }
    s->seen[num] = 1;
    s->received++;
    if (T.a.received == T.count && T.b.received == T.count)
        finish(0, NULL);
}

static gboolean on_timeout(gpointer data)
{
    (void)data;
    finish(1,
           "timeout after %d ms: gathered %d/%d, ready %d/%d, sent %u/%u, received %u/%u of %u",
           TIMEOUT_MS, T.a.gathered, T.b.gathered, T.a.ready, T.b.ready, T.a.sent, T.b.sent,
           T.a.received, T.b.received, T.count);
    T.timer = 0;
    return G_SOURCE_REMOVE;
}

static int side_init(side_t *s, const char *name, gboolean controlling, const char *port_s,
                     const char *user, const char *pass, NiceRelayType type)
{
    s->name = name;
    s->agent = nice_agent_new(g_main_loop_get_context(T.loop), NICE_COMPATIBILITY_RFC5245);
    if (!s->agent)
        return -1;
    g_object_set(s->agent, "controlling-mode", controlling, "force-relay", TRUE, "upnp", FALSE,
                 "ice-tcp", FALSE, NULL);
    /* Only loopback: without this libnice gathers on every interface. */
    NiceAddress lo;
    nice_address_init(&lo);
    if (!nice_address_set_from_string(&lo, "127.0.0.1") || !nice_agent_add_local_address(s->agent, &lo))
        return -1;
    g_signal_connect(s->agent, "candidate-gathering-done", G_CALLBACK(on_gathering_done), NULL);
    g_signal_connect(s->agent, "component-state-changed", G_CALLBACK(on_state), NULL);
    s->stream = nice_agent_add_stream(s->agent, 1);
    if (s->stream == 0)
        return -1;
    nice_agent_set_stream_name(s->agent, s->stream, "application");
    if (!nice_agent_set_relay_info(s->agent, s->stream, 1, "127.0.0.1", (guint)atoi(port_s), user,
                                   pass, type))
        return -1;
    nice_agent_attach_recv(s->agent, s->stream, 1, g_main_loop_get_context(T.loop), on_recv, NULL);
    s->seen = g_malloc0(T.count);
    return 0;
}

static guint closing;

static void on_closed(GObject *src, GAsyncResult *res, gpointer data)
{
    (void)src;
    (void)res;
    (void)data;
    if (--closing == 0)
        g_main_loop_quit(T.loop);
}

static gboolean on_close_timeout(gpointer data)
{
    (void)data;
    g_main_loop_quit(T.loop);
    return G_SOURCE_REMOVE;
}

/* Releases both allocations (Refresh lifetime 0) before the agents go, bounded by 2 s. */
static void close_agents(void)
{
    closing = 2;
    nice_agent_close_async(T.a.agent, on_closed, NULL);
    nice_agent_close_async(T.b.agent, on_closed, NULL);
    guint t = g_timeout_add(2000, on_close_timeout, NULL);
    g_main_loop_run(T.loop);
    if (closing)
        return; /* the timeout fired and removed itself */
    g_source_remove(t);
}

static void side_deinit(side_t *s)
{
    if (s->agent) {
        nice_agent_remove_stream(s->agent, s->stream);
        g_object_unref(s->agent);
    }
    g_free(s->seen);
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 6) {
        fprintf(stderr, "usage: %s PORT USERNAME PASSWORD [udp|tcp] [COUNT]\n", argv[0]);
        return 2;
    }
    const char *transport = argc > 4 ? argv[4] : "udp";
    NiceRelayType type;
    if (strcmp(transport, "udp") == 0)
        type = NICE_RELAY_TYPE_TURN_UDP;
    else if (strcmp(transport, "tcp") == 0)
        type = NICE_RELAY_TYPE_TURN_TCP;
    else {
        fprintf(stderr, "relay_nice: transport must be udp or tcp\n");
        return 2;
    }
    long count = argc > 5 ? strtol(argv[5], NULL, 10) : 300;
    if (count < 1 || count > MAX_COUNT) {
        fprintf(stderr, "relay_nice: COUNT must be 1..%d\n", MAX_COUNT);
        return 2;
    }
    T.count = (guint)count;
    T.status = -1;
    T.loop = g_main_loop_new(NULL, FALSE);
    T.a.other = &T.b;
    T.b.other = &T.a;
    int rc = 1;
    if (side_init(&T.a, "left", TRUE, argv[1], argv[2], argv[3], type) != 0 ||
        side_init(&T.b, "right", FALSE, argv[1], argv[2], argv[3], type) != 0) {
        fprintf(stderr, "relay_nice: FAIL: could not set up the agents\n");
        goto out;
    }
    T.timer = g_timeout_add(TIMEOUT_MS, on_timeout, NULL);
    if (!nice_agent_gather_candidates(T.a.agent, T.a.stream) ||
        !nice_agent_gather_candidates(T.b.agent, T.b.stream)) {
        fprintf(stderr, "relay_nice: FAIL: gathering did not start\n");
        goto out;
    }
    g_main_loop_run(T.loop);
    if (T.status == 0) {
        printf("relay_nice: OK over TURN/%s: %u messages each way through relay/relay pairs "
               "(duplicates %u/%u)\n",
               transport, T.count, T.a.dups, T.b.dups);
        rc = 0;
    } else {
        fprintf(stderr, "relay_nice: FAIL: %s\n", T.reason);
    }
    close_agents();
out:
    if (T.timer)
        g_source_remove(T.timer);
    side_deinit(&T.a);
    side_deinit(&T.b);
    g_main_loop_unref(T.loop);
    return rc;
}
