/* uri_normalize: nginx's merging of slashes, dot segments and %-decoding. */
#include "tap.h"
#include "http/uri.h"

static void check(const char *in, const char *want)
{
    char out[256];
    long n = uri_normalize(str_from_cstr(in), out, sizeof(out));
    char name[300];
    snprintf(name, sizeof(name), "%s -> %s", in, want ? want : "(invalid)");
    if (!want) {
        is_int(n, -1, name);
        return;
    }
    tap_is_mem(n < 0 ? "" : out, n < 0 ? 0 : (size_t)n, want, strlen(want), __FILE__, __LINE__, name);
}

int main(void)
{
    check("/", "/");
    check("/index.html", "/index.html");
    check("/a/b/", "/a/b/");
    check("//a///b", "/a/b");
    check("/a/./b", "/a/b");
    check("/a/.", "/a/");
    check("/a/b/..", "/a/");
    check("/a/b/../c", "/a/c");
    check("/a/../../etc/passwd", NULL);
    check("/..", NULL);
    check("/%2e%2e/etc", NULL);
    check("/a/%2e%2e/b", "/b");
    check("/%61%62c", "/abc");
    check("/a%2Fb", "/a/b");
    check("/a%2F..%2Fb", "/b");
    check("/web%20socket/", "/web socket/");
    check("/%", NULL);
    check("/%4", NULL);
    check("/%zz", NULL);
    check("/%00", NULL);
    check("/.secret.txt", "/.secret.txt");
    check("/...", "/...");
    check("/a/..b", "/a/..b");
    check("relative", NULL);
    return tap_done();
}
