/* container_of: from an embedded member (a watcher, a timer) back to its owner. */
#ifndef WSSGATE_CORE_CONTAINER_H
#define WSSGATE_CORE_CONTAINER_H

#include <stddef.h>

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#endif
