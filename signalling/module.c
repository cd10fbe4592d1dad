/* module.c — see module.h. */
#include "module.h"

#include "log.h"

static const module_t *modules[MODULE_MAX];
static size_t nmodules;
static size_t nstarted;

int module_register(const module_t *m)
{
    if (nmodules == MODULE_MAX) {
        log_error("module %s: more than %d modules", m->name, MODULE_MAX);
        return -1;
    }
    modules[nmodules++] = m;
    return 0;
}

const module_t *const *module_list(size_t *n)
{
    *n = nmodules;
    return modules;
}

int module_add_routes(void)
{
    for (size_t i = 0; i < nmodules; i++) {
        for (const module_route_t *r = modules[i]->routes; r && r->prefix; r++) {
            if (ws_route_add(r->prefix, r->fn, r->arg) < 0) {
                log_error("module %s: cannot serve %s", modules[i]->name, r->prefix);
                return -1;
            }
        }
        for (const module_route_t *r = modules[i]->method_routes; r && r->prefix; r++) {
            if (ws_route_add_methods(r->prefix, r->fn, r->arg, 1) < 0) {
                log_error("module %s: cannot serve %s", modules[i]->name, r->prefix);
                return -1;
            }
        }
    }
    return 0;
}

int module_start_all(uv_loop_t *loop)
{
    for (nstarted = 0; nstarted < nmodules; nstarted++) {
        const module_t *m = modules[nstarted];
        if (m->start && m->start(loop) < 0) {
            log_error("module %s failed to start", m->name);
            return -1;
        }
    }
    return 0;
}

void module_stop_all(void)
{
    while (nstarted > 0) {
        const module_t *m = modules[--nstarted];
        if (m->stop)
            m->stop();
    }
}

void module_conn_gone(conn_t *c)
{
    for (size_t i = 0; i < nmodules; i++)
        if (modules[i]->conn_gone)
            modules[i]->conn_gone(c);
}

void module_reset(void)
{
    nmodules = nstarted = 0;
}
