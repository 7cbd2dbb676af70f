/* Tokenizer of nginx's configuration language: words, quoted strings, ";", "{", "}", comments.
 * It follows ngx_conf_read_token's rules and reports lexical errors as "FILE:LINE: what; fix". */
#ifndef WSSGATE_CONF_CONF_LEX_H
#define WSSGATE_CONF_CONF_LEX_H

#include <stdbool.h>
#include <stddef.h>

/* Longest word, in raw bytes between its delimiters (quotes excluded, escapes not yet decoded). */
#define CONF_MAX_TOKEN (64 * 1024)

/* Every error of the conf/ modules: "FILE:LINE: what is wrong; how to fix it", NUL-terminated. */
struct conf_error {
    char msg[512];
};

enum conf_tok {
    CONF_TOK_WORD,  /* a word or quoted string; see struct conf_token */
    CONF_TOK_SEMI,  /* ";" */
    CONF_TOK_OPEN,  /* "{" */
    CONF_TOK_CLOSE, /* "}" */
    CONF_TOK_EOF,
    CONF_TOK_ERROR, /* err is filled; the lexer must not be called again */
};

struct conf_token {
    enum conf_tok kind;
    const char *p; /* WORD: raw bytes in the lexer's buffer, quotes stripped, escapes kept */
    size_t len;
    bool quoted;   /* WORD: written as "..." or '...' */
    unsigned line; /* where the token starts; for EOF, the last line of the text */
};

/* Lexer state over one buffer; the buffer must outlive every token taken from it. */
struct conf_lex {
    const char *buf, *p, *end;
    const char *name; /* file name for messages; not copied */
    unsigned line;
    bool need_space; /* a quoted string just ended: only blank, ";", "{", "}" or ")" may follow */
};

/* Starts lexing buf[0..len) (no NUL terminator needed) as the file called name. */
void conf_lex_init(struct conf_lex *lx, const char *buf, size_t len, const char *name);

/* Reads the next token into *tok and returns its kind. The grammar, as nginx's:
 *  - blanks are space, tab, CR and LF; "#" at the start of a token comments to the end of line;
 *  - ";", "{" and "}" at the start of a token are tokens; inside a word ";" and "{" end the word
 *    (and are the next token) except a "{" right after "$" ("${var}"); "}" inside a word is a
 *    plain character;
 *  - a word starting with " or ' runs to the matching quote; after it only a blank, ";", "{",
 *    "}" or ")" may follow (the ")" starts the next word, for "if ($a = "b")");
 *  - "\" makes the next byte part of the word (escapes are decoded by conf_lex_unescape);
 *  - a NUL byte anywhere, a word longer than CONF_MAX_TOKEN and an unterminated quote are
 *    errors (CONF_TOK_ERROR, err->msg set). Any other byte, UTF-8 or not, is a word byte. */
enum conf_tok conf_lex_next(struct conf_lex *lx, struct conf_token *tok, struct conf_error *err);

/* Decodes a word's raw bytes into dst (room for len bytes; the result is never longer):
 * \" \' \\ give the second character, \n \r \t the control character, and any other "\x"
 * stays as both characters, as nginx does. Returns the decoded length; dst is not terminated. */
size_t conf_lex_unescape(char *dst, const char *src, size_t len);

#endif
