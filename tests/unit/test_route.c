/* route: longest prefix wins, exact locations first, no match is NULL. */
#include "tap.h"
#include "route/route.h"

int main(void)
{
    const struct route_location locs[] = {
        { .prefix = "/", .kind = ROUTE_PAGE },
        { .prefix = "/websocket/", .kind = ROUTE_PROXY },
        { .prefix = "/websocket", .exact = true, .kind = ROUTE_PROXY },
        { .prefix = "/websocket/admin/", .kind = ROUTE_REDIRECT_HTTPS },
    };
    const struct route_server srv = { locs, 4 };
    ok(route_find(&srv, STR_LIT("/")) == &locs[0], "/ → root");
    ok(route_find(&srv, STR_LIT("/index.html")) == &locs[0], "any page → root");
    ok(route_find(&srv, STR_LIT("/websocket/")) == &locs[1], "/websocket/ → its prefix");
    ok(route_find(&srv, STR_LIT("/websocket/chat")) == &locs[1], "below it too");
    ok(route_find(&srv, STR_LIT("/websocket")) == &locs[2], "exact /websocket");
    ok(route_find(&srv, STR_LIT("/websocketx")) == &locs[0], "not a prefix match of /websocket/");
    ok(route_find(&srv, STR_LIT("/websocket/admin/x")) == &locs[3], "longest prefix wins");
    const struct route_server only = { &locs[1], 1 };
    ok(route_find(&only, STR_LIT("/other")) == NULL, "no location → NULL (404)");
    return tap_done();
}
