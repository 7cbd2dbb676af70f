/* Incremental chunked-body framing scanner: finds the end of a chunked body as its bytes stream
 * past and rejects malformed framing; data is skipped in bulk, never decoded or copied. */
#include "http/h1_chunked.h"

#include <limits.h>
#include <string.h>

/* States (one byte moves the machine, except DATA which skips a run of bytes at once):
 *
 *   SIZE --hex--> SIZE --SP/HT--> SIZE_WS --';'--> EXT --CR--> SIZE_LF --LF--> DATA (size > 0)
 *     |  \--';'------------------------------------^            ^    \--LF--> TRAILER (size 0)
 *     \--CR-------------------------------------------------------/
 *   DATA --(size bytes)--> DATA_CR --CR--> DATA_LF --LF--> SIZE
 *   TRAILER --tchar--> TR_NAME --':'--> TR_VALUE --CR--> TR_LF --LF--> TRAILER
 *   TRAILER --CR--> END_LF --LF--> DONE
 *   any unexpected byte, or a bound crossed --> ERROR (sticky)
 *
 * Only h1_chunked_scan moves the machine. */
enum {
    CH_SIZE,
    CH_SIZE_WS,
    CH_EXT,
    CH_SIZE_LF,
    CH_DATA,
    CH_DATA_CR,
    CH_DATA_LF,
    CH_TRAILER,
    CH_TR_NAME,
    CH_TR_VALUE,
    CH_TR_LF,
    CH_END_LF,
    CH_DONE,
    CH_ERROR,
};

static bool bad(struct h1_chunked *c, const char *reason)
{
    c->reason = reason;
    c->state = CH_ERROR;
    return false;
}

static int hex_value(unsigned char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* RFC 9110 tchar, for trailer field names. */
static bool is_tchar(unsigned char ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
        return true;
    return ch && memchr("!#$%&'*+-.^_`|~", ch, 15) != NULL;
}

/* HTAB, SP, VCHAR, obs-text: chunk-ext and field-value bytes. */
static bool is_text(unsigned char ch)
{
    return ch == '\t' || (ch >= 0x20 && ch != 0x7f);
}

/* chunk-size [ BWS chunk-ext ] CRLF; the extension is skipped, only its bytes are checked. */
static bool size_line_byte(struct h1_chunked *c, unsigned char ch)
{
    if (++c->line_len > H1_CHUNK_MAX_LINE)
        return bad(c, "chunk size line too long");
    switch (c->state) {
    case CH_SIZE:
        if (hex_value(ch) >= 0) {
            if (c->ndigits++ == H1_CHUNK_MAX_HEX)
                return bad(c, "chunk size too large");
            c->size = c->size * 16 + (uint64_t)hex_value(ch);
            return true;
        }
        if (c->ndigits == 0)
            return bad(c, "chunk size missing");
        if (ch == ' ' || ch == '\t')
            c->state = CH_SIZE_WS;
        else if (ch == ';')
            c->state = CH_EXT;
        else if (ch == '\r')
            c->state = CH_SIZE_LF;
        else
            return bad(c, "invalid byte after chunk size");
        return true;
    case CH_SIZE_WS:
        if (ch == ';')
            c->state = CH_EXT;
        else if (ch != ' ' && ch != '\t')
            return bad(c, "whitespace after chunk size");
        return true;
    case CH_EXT:
        if (ch == '\r')
            c->state = CH_SIZE_LF;
        else if (!is_text(ch))
            return bad(c, "control character in chunk extension");
        return true;
    default: /* CH_SIZE_LF */
        if (ch != '\n')
            return bad(c, "bare CR in chunk size line");
        c->line_len = 0;
        c->state = c->size ? CH_DATA : CH_TRAILER;
        return true;
    }
}

/* The CRLF that must follow chunk data. */
static bool data_end_byte(struct h1_chunked *c, unsigned char ch)
{
    if (c->state == CH_DATA_CR) {
        if (ch != '\r')
            return bad(c, "chunk data not followed by CRLF");
        c->state = CH_DATA_LF;
        return true;
    }
    if (ch != '\n')
        return bad(c, "chunk data not followed by CRLF");
    c->state = CH_SIZE;
    c->ndigits = 0;
    c->size = 0;
    return true;
}

/* trailer-section: *( field-name ":" field-value CRLF ) CRLF, bounded per line and in total. */
static bool trailer_byte(struct h1_chunked *c, unsigned char ch)
{
    if (++c->trailer_len > H1_CHUNK_MAX_TRAILER)
        return bad(c, "trailer section too large");
    if (++c->line_len > H1_CHUNK_MAX_LINE)
        return bad(c, "trailer line too long");
    switch (c->state) {
    case CH_TRAILER:
        if (ch == '\r')
            c->state = CH_END_LF;
        else if (is_tchar(ch))
            c->state = CH_TR_NAME;
        else
            return bad(c, ch == ' ' || ch == '\t' ? "obsolete line folding in trailer" : "invalid trailer field");
        return true;
    case CH_TR_NAME:
        if (ch == ':')
            c->state = CH_TR_VALUE;
        else if (!is_tchar(ch))
            return bad(c, "invalid trailer field name");
        return true;
    case CH_TR_VALUE:
        if (ch == '\r')
            c->state = CH_TR_LF;
        else if (!is_text(ch))
            return bad(c, "control character in trailer field");
        return true;
    case CH_TR_LF:
        if (ch != '\n')
            return bad(c, "bare CR in trailer");
        c->line_len = 0;
        c->state = CH_TRAILER;
        return true;
    default: /* CH_END_LF */
        if (ch != '\n')
            return bad(c, "bare CR at end of trailer section");
        c->state = CH_DONE;
        return true;
    }
}

/* Skips up to avail chunk-data bytes; returns how many. */
static size_t skip_data(struct h1_chunked *c, size_t avail)
{
    size_t n = c->size < avail ? (size_t)c->size : avail;
    c->size -= n;
    c->data = c->data > UINT64_MAX - n ? UINT64_MAX : c->data + n;
    if (c->size == 0)
        c->state = CH_DATA_CR;
    return n;
}

void h1_chunked_init(struct h1_chunked *c)
{
    *c = (struct h1_chunked){ .state = CH_SIZE };
}

long h1_chunked_scan(struct h1_chunked *c, const char *buf, size_t len, bool *done)
{
    size_t i = 0;
    bool good = true;

    if (len > LONG_MAX)
        len = LONG_MAX;
    while (i < len && good && c->state < CH_DONE) {
        unsigned char ch = (unsigned char)buf[i];
        if (c->state == CH_DATA) {
            i += skip_data(c, len - i);
            continue;
        }
        if (c->state <= CH_SIZE_LF)
            good = size_line_byte(c, ch);
        else if (c->state <= CH_DATA_LF)
            good = data_end_byte(c, ch);
        else
            good = trailer_byte(c, ch);
        i++;
    }
    *done = c->state == CH_DONE;
    if (c->state == CH_ERROR)
        return H1_INVALID;
    return (long)i;
}

uint64_t h1_chunked_data_bytes(const struct h1_chunked *c)
{
    return c->data;
}
