/* wssgate's entry point: picks the subcommand. */
#include "cli/cmd.h"
#include "conf/load.h"

#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#define WSSGATE_VERSION "0.1.0"

static void usage(FILE *f)
{
    fputs("wssgate " WSSGATE_VERSION " — wss:// in front of your ws:// service\n\n"
          "usage:\n"
          "  wssgate proxy --from https://HOST:PORT --to ws://127.0.0.1:9502   one-line wss\n"
          "  wssgate demo                         local CA, chat page and chat backend\n"
          "  wssgate cert NAME...                 a certificate from the local CA (--install: "
          "trust the CA)\n"
          "  wssgate doctor URL [--page ORIGIN]   why a WebSocket fails, in the browser's words\n"
          "  wssgate -c FILE [-t|-T|-s reload|stop]   an nginx-dialect configuration\n"
          "  wssgate --directives                 every directive it reads (docs/config.md)\n"
          "  wssgate version\n\n"
          "run 'wssgate COMMAND --help' for the options of proxy, demo, cert and doctor\n",
          f);
}

/* Each tunnel needs two descriptors: take the whole hard limit, as nginx's
 * worker_rlimit_nofile would, instead of the distribution's small soft default. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    raise_fd_limit();
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "proxy") == 0)
        return cmd_proxy(argc - 2, argv + 2);
    if (strcmp(cmd, "demo") == 0)
        return cmd_demo(argc - 2, argv + 2);
    if (strcmp(cmd, "cert") == 0)
        return cmd_cert(argc - 2, argv + 2);
    if (strcmp(cmd, "doctor") == 0)
        return cmd_doctor(argc - 2, argv + 2);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("wssgate %s (%s)\n", WSSGATE_VERSION, OpenSSL_version(OPENSSL_VERSION));
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "run") == 0)
        return cmd_run(argc - 2, argv + 2);
    if (cmd[0] == '-' && cmd[1] && strchr("ctTs", cmd[1]) && !cmd[2])
        return cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "--directives") == 0) {
        conf_write_directive_docs(stdout);
        return 0;
    }
    fprintf(stderr, "wssgate: unknown command \"%s\"\n\n", cmd);
    usage(stderr);
    return 2;
}
