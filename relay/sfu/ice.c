/* ice.c — see ice.h. */
#include "ice.h"

#include <agent.h>
#include <gio/gio.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "sendq.h"

struct ice {
    NiceAgent *agent;
    guint stream;
    ice_callbacks_t cb;
    char *ufrag, *pwd;
    char *remote_ufrag;
    ice_state_t state;
    int connected; /* ever reached CONNECTED/READY */
    /* The selected pair's local socket and remote address when its local candidate is a host (or srflx)
     * one, so that media bypasses nice_agent_send and goes out batched (sendq.h); -1 when the pair is
     * relayed through TURN (libnice must wrap each datagram) or not selected yet. The fd stays libnice's:
     * it closes with the stream, and ice_free flushes the queue before that. */
    int direct_fd;
    socklen_t direct_len;
    struct sockaddr_storage direct_to;
};

#define COMPONENT 1

static void on_recv(NiceAgent *agent, guint stream, guint component, guint len, gchar *buf, gpointer data)
{
    (void)agent;
    (void)stream;
    (void)component;
    ice_t *ice = data;
    ice->cb.recv(ice->cb.ctx, (uint8_t *)buf, len);
}

static void on_new_candidate(NiceAgent *agent, NiceCandidate *cand, gpointer data)
{
    ice_t *ice = data;
    gchar *line = nice_agent_generate_local_candidate_sdp(agent, cand);
    if (line) {
        /* libnice writes "a=candidate:…"; the contract carries "candidate:…". */
        ice->cb.candidate(ice->cb.ctx, strncmp(line, "a=", 2) == 0 ? line + 2 : line);
        g_free(line);
    }
}

/* Re-reads the selected pair (libnice may select another while it keeps checking). */
static void refresh_route(ice_t *ice)
{
    ice->direct_fd = -1;
    GSocket *sock = nice_agent_get_selected_socket(ice->agent, ice->stream, COMPONENT); /* NULL if relayed */
    if (!sock)
        return;
    NiceCandidate *l = NULL, *r = NULL;
    if (nice_agent_get_selected_pair(ice->agent, ice->stream, COMPONENT, &l, &r) && r) {
        nice_address_copy_to_sockaddr(&r->addr, (struct sockaddr *)&ice->direct_to);
        ice->direct_len = ice->direct_to.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
        if (ice->direct_to.ss_family == AF_INET || ice->direct_to.ss_family == AF_INET6)
            ice->direct_fd = g_socket_get_fd(sock);
    }
    g_object_unref(sock);
}

static void on_selected_pair(NiceAgent *agent, guint stream, guint component, NiceCandidate *l, NiceCandidate *r,
                             gpointer data)
{
    (void)agent;
    (void)stream;
    (void)component;
    (void)l;
    (void)r;
    refresh_route(data);
}

static void on_state(NiceAgent *agent, guint stream, guint component, guint state, gpointer data)
{
    (void)agent;
    (void)stream;
    (void)component;
    ice_t *ice = data;
    ice_state_t s = ice->state;
    if (state == NICE_COMPONENT_STATE_CONNECTED || state == NICE_COMPONENT_STATE_READY)
        s = ICE_CONNECTED;
    else if (state == NICE_COMPONENT_STATE_FAILED)
        s = ICE_FAILED;
    if (s == ICE_CONNECTED)
        refresh_route(ice);
    if (s != ice->state) {
        ice->state = s;
        ice->cb.state(ice->cb.ctx, s);
    }
}

ice_t *ice_new(const ice_params_t *p, const ice_callbacks_t *cb)
{
    ice_t *ice = g_new0(ice_t, 1);
    ice->cb = *cb;
    ice->state = ICE_CHECKING;
    ice->direct_fd = -1;
    ice->agent = nice_agent_new_full(g_main_context_default(), NICE_COMPATIBILITY_RFC5245, NICE_AGENT_OPTION_ICE_TRICKLE);
    if (!ice->agent)
        goto fail;
    g_object_set(ice->agent, "controlling-mode", p->controlling ? TRUE : FALSE, "upnp", FALSE, "ice-tcp", FALSE,
                 "keepalive-conncheck", TRUE, NULL);
    for (size_t i = 0; i < p->naddresses; i++) {
        NiceAddress a;
        nice_address_init(&a);
        if (!nice_address_set_from_string(&a, p->addresses[i]) || !nice_agent_add_local_address(ice->agent, &a)) {
            log_error("ice: media address %s refused", p->addresses[i]);
            goto fail;
        }
    }
    ice->stream = nice_agent_add_stream(ice->agent, 1);
    if (!ice->stream)
        goto fail;
    nice_agent_set_stream_name(ice->agent, ice->stream, "video");
    if (p->port_min)
        nice_agent_set_port_range(ice->agent, ice->stream, COMPONENT, p->port_min, p->port_max);
    g_signal_connect(ice->agent, "new-candidate-full", G_CALLBACK(on_new_candidate), ice);
    g_signal_connect(ice->agent, "component-state-changed", G_CALLBACK(on_state), ice);
    g_signal_connect(ice->agent, "new-selected-pair-full", G_CALLBACK(on_selected_pair), ice);
    nice_agent_attach_recv(ice->agent, ice->stream, COMPONENT, g_main_context_default(), on_recv, ice);
    if (!nice_agent_get_local_credentials(ice->agent, ice->stream, &ice->ufrag, &ice->pwd))
        goto fail;
    if (!nice_agent_gather_candidates(ice->agent, ice->stream)) {
        log_error("ice: gathering failed (port range exhausted?)");
        goto fail;
    }
    return ice;
fail:
    ice_free(ice);
    return NULL;
}

const char *ice_ufrag(const ice_t *ice) { return ice->ufrag; }
const char *ice_pwd(const ice_t *ice) { return ice->pwd; }

size_t ice_local_candidates(ice_t *ice, char **lines, size_t max)
{
    GSList *list = nice_agent_get_local_candidates(ice->agent, ice->stream, COMPONENT);
    size_t n = 0;
    for (GSList *l = list; l; l = l->next) {
        if (n < max) {
            gchar *line = nice_agent_generate_local_candidate_sdp(ice->agent, l->data);
            if (line && strncmp(line, "a=", 2) == 0) {
                lines[n++] = g_strdup(line + 2);
                g_free(line);
            } else if (line) {
                lines[n++] = line;
            }
        }
        nice_candidate_free(l->data);
    }
    g_slist_free(list);
    return n;
}

int ice_set_remote_credentials(ice_t *ice, const char *ufrag, const char *pwd)
{
    if (ice->remote_ufrag)
        return strcmp(ice->remote_ufrag, ufrag) == 0 ? 0 : -1;
    if (!nice_agent_set_remote_credentials(ice->agent, ice->stream, ufrag, pwd))
        return -1;
    ice->remote_ufrag = g_strdup(ufrag);
    return 0;
}

int ice_add_remote_candidate(ice_t *ice, const char *line)
{
    if (!*line) {
        nice_agent_peer_candidate_gathering_done(ice->agent, ice->stream);
        return 0;
    }
    char buf[600];
    if (strlen(line) > 512)
        return -1;
    snprintf(buf, sizeof buf, "%s%s", strncmp(line, "a=", 2) == 0 ? "" : "a=", line);
    NiceCandidate *c = nice_agent_parse_remote_candidate_sdp(ice->agent, ice->stream, buf);
    if (!c)
        return -1;
    int udp = c->transport == NICE_CANDIDATE_TRANSPORT_UDP;
    if (!udp || c->component_id != COMPONENT) {
        nice_candidate_free(c);
        return udp ? -1 : 0; /* TCP candidates: not used here, not an error */
    }
    GSList *list = g_slist_append(NULL, c);
    int n = nice_agent_set_remote_candidates(ice->agent, ice->stream, COMPONENT, list);
    g_slist_free(list);
    nice_candidate_free(c);
    return n < 0 ? -1 : 0;
}

int ice_send(ice_t *ice, const uint8_t *buf, size_t len)
{
    if (ice->state != ICE_CONNECTED)
        return -1;
    if (ice->direct_fd >= 0)
        return sendq_push(ice->direct_fd, (const struct sockaddr *)&ice->direct_to, ice->direct_len, buf, len);
    return nice_agent_send(ice->agent, ice->stream, COMPONENT, (guint)len, (const gchar *)buf) < 0 ? -1 : 0;
}

static const char *type_name(NiceCandidateType t)
{
    switch (t) {
    case NICE_CANDIDATE_TYPE_HOST: return "host";
    case NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE: return "srflx";
    case NICE_CANDIDATE_TYPE_PEER_REFLEXIVE: return "prflx";
    case NICE_CANDIDATE_TYPE_RELAYED: return "relay";
    }
    return "?";
}

void ice_describe_pair(ice_t *ice, char *buf, size_t len)
{
    NiceCandidate *l = NULL, *r = NULL;
    if (nice_agent_get_selected_pair(ice->agent, ice->stream, COMPONENT, &l, &r) && l && r) {
        char ra[NICE_ADDRESS_STRING_LEN];
        nice_address_to_string(&r->addr, ra);
        snprintf(buf, len, "%s/%s %s:%u", type_name(l->type), type_name(r->type), ra, nice_address_get_port(&r->addr));
    } else {
        snprintf(buf, len, "none");
    }
}

void ice_free(ice_t *ice)
{
    if (!ice)
        return;
    if (ice->direct_fd >= 0)
        sendq_flush(); /* what is queued for its socket goes before the socket closes with the stream */
    if (ice->agent) {
        g_signal_handlers_disconnect_by_data(ice->agent, ice);
        if (ice->stream) {
            nice_agent_attach_recv(ice->agent, ice->stream, COMPONENT, g_main_context_default(), NULL, NULL);
            nice_agent_remove_stream(ice->agent, ice->stream);
        }
        g_object_unref(ice->agent);
    }
    g_free(ice->ufrag);
    g_free(ice->pwd);
    g_free(ice->remote_ufrag);
    g_free(ice);
}
