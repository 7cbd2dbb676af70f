/* Writing an error message into a caller's buffer, the convention of setup functions that
 * return -1 with `char *err, size_t errlen`. */
#ifndef WSSGATE_CORE_ERRBUF_H
#define WSSGATE_CORE_ERRBUF_H

#include <stddef.h>

/* printf into err[0..errlen); does nothing when err is NULL or errlen is 0. */
void errbuf_set(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
