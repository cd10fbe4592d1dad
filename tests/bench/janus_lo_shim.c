/* janus_lo_shim.c — preloaded into Janus only, by tests/bench/janus.mjs (LD_PRELOAD); never into
 * Staffroom or the load program.
 *
 * Why: Janus 1.1.2 leaves interfaces flagged IFF_LOOPBACK out of ICE gathering, even with
 * ice_enforce_list = "lo" (its janus_ice_setup walks getifaddrs() and skips loopback before the
 * enforce list is consulted). The benchmark runs on 127.0.0.1 only, so Janus would offer no candidate the
 * load program can reach and ICE would fail. This getifaddrs() returns the real list with IFF_LOOPBACK
 * cleared on every entry, so Janus gathers 127.0.0.1 like any other address; the enforce list
 * (ice_enforce_list = "lo") then keeps it to that one interface. Nothing else changes: the sockets,
 * routes and packets are the kernel's, so Janus does the same work per packet as on a real interface.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stddef.h>

int getifaddrs(struct ifaddrs **ifap)
{
    static int (*real)(struct ifaddrs **);
    if (!real)
        real = (int (*)(struct ifaddrs **))dlsym(RTLD_NEXT, "getifaddrs");
    if (!real)
        return -1;
    int rc = real(ifap);
    if (rc == 0)
        for (struct ifaddrs *i = *ifap; i; i = i->ifa_next)
            i->ifa_flags &= ~(unsigned)IFF_LOOPBACK;
    return rc;
}
