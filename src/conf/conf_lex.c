/* Tokenizer of nginx's configuration language (see conf_lex.h for the grammar), one token per
 * call over an in-memory buffer; words point into the buffer and are decoded on demand.
 *
 * States between tokens, and what moves them (nginx's last_space / need_space / sharp_comment):
 *
 *   BLANK ──"#"──▶ COMMENT ──LF──▶ BLANK
 *     │ ";" "{" "}" → token, stay in BLANK
 *     │ " or '  ──▶ QUOTED ──closing quote──▶ NEED_SPACE ──blank ; { } )──▶ BLANK
 *     └ other   ──▶ WORD ──blank ; {──▶ BLANK (the ";" or "{" is the next token)
 *
 * Inside QUOTED and WORD, "\" swallows the next byte, and "$" lets one or more "{" follow without
 * ending a WORD. Lines are counted on every LF, wherever it is. */
#include "conf/conf_lex.h"

#include <stdio.h>
#include <string.h>

void conf_lex_init(struct conf_lex *lx, const char *buf, size_t len, const char *name)
{
    lx->buf = buf;
    lx->p = buf;
    lx->end = buf + len;
    lx->name = name;
    lx->line = 1;
    lx->need_space = false;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* A byte for a message: printable as itself, anything else as \xNN. */
static void show_byte(char out[8], char c)
{
    unsigned char u = (unsigned char)c;
    if (u >= 0x21 && u < 0x7f)
        snprintf(out, 8, "%c", c);
    else
        snprintf(out, 8, "\\x%02x", u);
}

static enum conf_tok fail_nul(struct conf_lex *lx, struct conf_error *err)
{
    snprintf(err->msg, sizeof(err->msg),
             "%s:%u: NUL byte in the file; a configuration file is text: check that this is the "
             "right file and that it is not damaged",
             lx->name, lx->line);
    return CONF_TOK_ERROR;
}

/* Blanks and comments up to the next token; fails only on a NUL byte. */
static int skip_blanks(struct conf_lex *lx, struct conf_error *err)
{
    bool comment = false;
    while (lx->p < lx->end) {
        char c = *lx->p;
        if (c == '\0') {
            fail_nul(lx, err);
            return -1;
        }
        if (c == '\n') {
            lx->line++;
            comment = false;
        } else if (!comment && c == '#') {
            comment = true;
        } else if (!comment && !is_blank(c)) {
            return 0;
        }
        lx->p++;
    }
    return 0;
}

static enum conf_tok fail_long(struct conf_lex *lx, const struct conf_token *tok,
                               struct conf_error *err)
{
    char head[11];
    for (size_t i = 0; i < 10; i++) {
        unsigned char u = (unsigned char)tok->p[i];
        head[i] = (u >= 0x20 && u < 0x7f) ? (char)u : '?';
    }
    head[10] = '\0';
    snprintf(err->msg, sizeof(err->msg),
             "%s:%u: parameter \"%s...\" is longer than %d bytes; shorten it (or close the "
             "quote that swallowed it)",
             lx->name, tok->line, head, CONF_MAX_TOKEN);
    return CONF_TOK_ERROR;
}

static enum conf_tok fail_unterminated(struct conf_lex *lx, const struct conf_token *tok,
                                       char quote, struct conf_error *err)
{
    snprintf(err->msg, sizeof(err->msg),
             "%s:%u: unterminated quoted string: the %c opened here is never closed; add the "
             "closing %c (write \\%c for a quote inside the string)",
             lx->name, tok->line, quote, quote, quote);
    return CONF_TOK_ERROR;
}

/* A word from lx->p (its first byte is not blank, ";", "{", "}" or "#"). */
static enum conf_tok scan_word(struct conf_lex *lx, struct conf_token *tok, struct conf_error *err)
{
    char quote = (*lx->p == '"' || *lx->p == '\'') ? *lx->p : 0;
    bool escaped = false, variable = false;

    tok->kind = CONF_TOK_WORD;
    tok->quoted = quote != 0;
    tok->line = lx->line;
    if (quote)
        lx->p++;
    tok->p = lx->p;
    for (; lx->p < lx->end; lx->p++) {
        char c = *lx->p;
        if (c == '\0')
            return fail_nul(lx, err);
        if (escaped) {
            escaped = false;
            lx->line += c == '\n';
            continue;
        }
        if (c == '{' && variable)
            continue;
        variable = false;
        if (c == '\\') {
            escaped = true;
        } else if (c == '$') {
            variable = true;
        } else if (quote && c == quote) {
            tok->len = (size_t)(lx->p - tok->p);
            lx->p++;
            lx->need_space = true;
            return tok->len > CONF_MAX_TOKEN ? fail_long(lx, tok, err) : CONF_TOK_WORD;
        } else if (!quote && (is_blank(c) || c == ';' || c == '{')) {
            break; /* the terminator is left for the next call, which counts its LF */
        }
        lx->line += c == '\n';
    }
    if (quote)
        return fail_unterminated(lx, tok, quote, err);
    /* A word cut by the end of the text: the parser reports the unfinished directive. */
    tok->len = (size_t)(lx->p - tok->p);
    return tok->len > CONF_MAX_TOKEN ? fail_long(lx, tok, err) : CONF_TOK_WORD;
}

/* After a closing quote nginx wants a separator; "}" is let through so that the parser can say
 * that the directive is not terminated, which is the real mistake. */
static int check_need_space(struct conf_lex *lx, struct conf_error *err)
{
    lx->need_space = false;
    if (lx->p == lx->end)
        return 0;
    char c = *lx->p;
    if (is_blank(c) || c == ';' || c == '{' || c == '}' || c == ')')
        return 0;
    if (c == '\0') {
        fail_nul(lx, err);
        return -1;
    }
    char shown[8];
    show_byte(shown, c);
    snprintf(err->msg, sizeof(err->msg),
             "%s:%u: unexpected \"%s\" right after a quoted string; put a space after the "
             "closing quote",
             lx->name, lx->line, shown);
    return -1;
}

enum conf_tok conf_lex_next(struct conf_lex *lx, struct conf_token *tok, struct conf_error *err)
{
    memset(tok, 0, sizeof(*tok));
    if (lx->need_space && check_need_space(lx, err) < 0)
        return tok->kind = CONF_TOK_ERROR;
    if (skip_blanks(lx, err) < 0)
        return tok->kind = CONF_TOK_ERROR;
    tok->line = lx->line;
    if (lx->p == lx->end) {
        /* Point at the last line that has bytes, not at the empty one after the final LF. */
        if (lx->p > lx->buf && lx->p[-1] == '\n' && tok->line > 1)
            tok->line--;
        return tok->kind = CONF_TOK_EOF;
    }
    switch (*lx->p) {
    case ';':
        lx->p++;
        return tok->kind = CONF_TOK_SEMI;
    case '{':
        lx->p++;
        return tok->kind = CONF_TOK_OPEN;
    case '}':
        lx->p++;
        return tok->kind = CONF_TOK_CLOSE;
    default:
        return tok->kind = scan_word(lx, tok, err);
    }
}

size_t conf_lex_unescape(char *dst, const char *src, size_t len)
{
    size_t i = 0, n = 0;
    while (i < len) {
        if (src[i] == '\\' && i + 1 < len) {
            char e = src[i + 1];
            char out = e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : e;
            if (e == '"' || e == '\'' || e == '\\' || e == 'n' || e == 'r' || e == 't') {
                dst[n++] = out;
                i += 2;
                continue;
            }
        }
        dst[n++] = src[i++];
    }
    return n;
}
