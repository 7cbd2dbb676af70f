/* Location matching. */
#include "route/route.h"

#include <string.h>

const struct route_location *route_find(const struct route_server *srv, struct str path)
{
    const struct route_location *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < srv->nlocs; i++) {
        const struct route_location *l = &srv->locs[i];
        struct str p = str_from_cstr(l->prefix);
        if (l->exact) {
            if (str_eq(path, p))
                return l;
            continue;
        }
        if (str_starts_with(path, p) && (!best || p.len > best_len)) {
            best = l;
            best_len = p.len;
        }
    }
    return best;
}
