/* The demo's built-in chat backend (plain ws://), on a thread of its own. */
#ifndef WSSGATE_APP_DEMO_CHAT_H
#define WSSGATE_APP_DEMO_CHAT_H

#include "net/addr.h"

#include <stddef.h>

struct demo_chat;

/* Listens on addr and starts relaying. Block SIGINT/SIGTERM in the caller first: the thread
 * inherits the mask. Returns NULL with err on failure. */
struct demo_chat *demo_chat_start(const struct net_addr *addr, char *err, size_t errlen);

/* Closes every client, stops the thread and frees everything. NULL is allowed. */
void demo_chat_stop(struct demo_chat *chat);

#endif
