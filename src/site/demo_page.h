/* The demo's chat page, embedded in the binary. */
#ifndef WSSGATE_SITE_DEMO_PAGE_H
#define WSSGATE_SITE_DEMO_PAGE_H

#include <stddef.h>

extern const char demo_page_html[];
extern const size_t demo_page_html_len;

#endif
