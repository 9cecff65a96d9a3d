/*
 * relu_budget.c - an example DeepReDuce Workbench OPTIMIZATION plugin in C99.
 *
 * What it does
 * ------------
 * It implements one method, "deepreduce.optimization/1:apply". The input is
 *
 *     {"network": <Network IR>, "params": {...}, "context": {...}}
 *
 * and the answer is one candidate network in which every active ReLU of the
 * selected stages is dropped, i.e. every node object with
 *
 *     "op":"Relu"   and   "stage":"S4"
 *
 * becomes the same node with "op":"Identity" (the layer stays in the graph as
 * the identity, exactly as the workbench's own culling does). A masked Relu
 * (ABI 1.1: "mask" and "dropped" members) is dropped whole: both members go
 * with it. "Poly" nodes hold no ReLU and stay. Everything else in the
 * network - other nodes, field order, "meta" annotations the plugin does
 * not know about - is copied byte for byte.
 *
 * The stages default to ["S4"]; pass {"params": {"stages": ["S4", "head"]}}
 * to choose others. "context" is accepted and ignored.
 *
 *     {"candidates":[{"description":"ReLUs of S4 dropped: ...",
 *                     "network": <the rewritten IR>}]}
 *
 * How it does it, with nothing but libc
 * --------------------------------------
 * There is no JSON library here. Instead of building a tree, the plugin uses
 * a small *validating scanner*: it walks the text once, checks it is strict
 * JSON (RFC 8259, UTF-8, nesting depth <= 128) and remembers only byte spans
 * - where the "network" value is, where each node's "op" value is. The
 * output is then the network text copied verbatim, with the 6-byte token
 * "Relu" (quotes included) of each selected node replaced by the 10-byte
 * token "Identity" and its "mask" and "dropped" members cut out. Every
 * read is bounded by the input's length; every write goes through a
 * growable buffer that checks its sizes.
 *
 * Things a plugin author must get right (see deepreduce_plugin.h):
 *   - export exactly one symbol, deepreduce_plugin_entry_v1, returning a
 *     pointer to a static DrPluginEntryV1 with struct_size = sizeof it;
 *   - the descriptor string lives as long as the library (a static const);
 *   - every string returned through call() is malloc'ed here and released by
 *     the host through our free_string(), which calls free();
 *   - no mutable global state: the host may call us from several threads.
 *
 * Build:  cc -std=c99 -shared -fPIC -I plugin-api/include \
 *            -o librelu_budget.so plugin-api/examples/c-plugin/relu_budget.c
 */

#include "deepreduce_plugin.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* The descriptor: who we are. A string literal lives as long as the        */
/* library, which is exactly what the ABI asks for.                         */
/* ------------------------------------------------------------------------ */

static const char DESCRIPTOR[] =
    "{"
    "\"id\":\"org.example.relu-budget\","
    "\"name\":\"ReLU budget (C example)\","
    "\"vendor\":\"Example Vendor\","
    "\"version\":\"1.0.0\","
    "\"kind\":\"optimization\","
    "\"description\":\"Example plugin written in plain C: drops every ReLU of "
    "the selected stages (default S4) by turning its Relu node into an "
    "Identity node. Params: {\\\"stages\\\": [\\\"S4\\\"]}.\","
    "\"capabilities\":[\"" DR_CAPABILITY_OPTIMIZATION "\"]"
    "}";

/* The stage dropped when params carry no "stages". */
#define DEFAULT_STAGE "S4"

/* Same nesting limit as serde_json's default. */
#define MAX_DEPTH 128

/* ------------------------------------------------------------------------ */
/* A growable output buffer. Allocation failures are sticky: once `oom` is  */
/* set further appends do nothing, and the caller checks it once at the end. */
/* ------------------------------------------------------------------------ */

typedef struct {
    char *data; /* NUL-terminated once anything was appended */
    size_t len; /* bytes used, without the NUL */
    size_t cap; /* bytes allocated */
    int oom;    /* an allocation failed or a size overflowed */
} Buf;

static void buf_put(Buf *b, const char *s, size_t n)
{
    size_t need;
    if (b->oom || n == 0) {
        return;
    }
    if (n > SIZE_MAX - 1 - b->len) {
        b->oom = 1;
        return;
    }
    need = b->len + n + 1;
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        char *grown;
        while (cap < need) {
            cap = (cap > SIZE_MAX / 2) ? need : cap * 2;
        }
        grown = (char *)realloc(b->data, cap);
        if (grown == NULL) {
            b->oom = 1;
            return;
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void buf_puts(Buf *b, const char *s)
{
    buf_put(b, s, strlen(s));
}

/* Appends `s` (valid UTF-8) as the *content* of a JSON string: quotes,
 * backslashes and control characters are escaped. */
static void buf_put_escaped(Buf *b, const char *s)
{
    const char *run = s; /* start of the pending run of plain bytes */
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\' || c < 0x20) {
            char esc[8];
            buf_put(b, run, (size_t)(s - run));
            if (c == '"' || c == '\\') {
                esc[0] = '\\';
                esc[1] = (char)c;
                esc[2] = '\0';
            } else {
                snprintf(esc, sizeof esc, "\\u%04x", (unsigned)c);
            }
            buf_puts(b, esc);
            run = s + 1;
        }
    }
    buf_put(b, run, (size_t)(s - run));
}

/* ------------------------------------------------------------------------ */
/* Error replies: {"error":"..."} allocated with malloc, like every output. */
/* ------------------------------------------------------------------------ */

/* Stores {"error":"<prefix><detail><suffix>"} in *output (NULL if out of
 * memory) and returns `status`. Any of the three parts may be NULL. */
static int32_t reply_error3(char **output, int32_t status, const char *prefix,
                            const char *detail, const char *suffix)
{
    Buf b = {NULL, 0, 0, 0};
    buf_puts(&b, "{\"error\":\"");
    if (prefix != NULL) {
        buf_put_escaped(&b, prefix);
    }
    if (detail != NULL) {
        buf_put_escaped(&b, detail);
    }
    if (suffix != NULL) {
        buf_put_escaped(&b, suffix);
    }
    buf_puts(&b, "\"}");
    if (b.oom) {
        free(b.data);
        b.data = NULL;
    }
    *output = b.data;
    return status;
}

static int32_t reply_error(char **output, int32_t status, const char *message)
{
    return reply_error3(output, status, message, NULL, NULL);
}

/* ------------------------------------------------------------------------ */
/* UTF-8 validation (rejects overlong forms, surrogates, > U+10FFFF).       */
/* ------------------------------------------------------------------------ */

static int utf8_valid(const char *text, size_t n)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len, k;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (n - i < len) {
            return 0;
        }
        for (k = 1; k < len; k++) {
            unsigned cc = s[i + k];
            if ((cc & 0xC0) != 0x80) {
                return 0;
            }
            cp = (cp << 6) | (cc & 0x3F);
        }
        if (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) {
            return 0;
        }
        if (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) {
            return 0;
        }
        i += len;
    }
    return 1;
}

/* ------------------------------------------------------------------------ */
/* The validating JSON scanner. It never builds values; it moves a cursor   */
/* over [p, end) and hands out spans of the text.                           */
/* ------------------------------------------------------------------------ */

/* A byte range [start, end) of the input. For a string token it includes
 * the surrounding quotes. */
typedef struct {
    const char *start;
    const char *end;
} Span;

typedef struct {
    const char *p;     /* next unread byte */
    const char *end;   /* one past the last byte we may read */
    const char *error; /* first syntax error (a static string), or NULL */
} Scanner;

/* Records a syntax error; always returns 0 so callers can `return fail(..)`. */
static int fail(Scanner *s, const char *message)
{
    if (s->error == NULL) {
        s->error = message;
    }
    return 0;
}

static void skip_ws(Scanner *s)
{
    while (s->p < s->end &&
           (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')) {
        s->p++;
    }
}

/* Whether the next byte is `c` (never reads past the end). */
static int peek_is(const Scanner *s, char c)
{
    return s->p < s->end && *s->p == c;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Decodes 4 hex digits at p (the caller guarantees 4 readable bytes);
 * returns -1 if one is not a hex digit. */
static long hex4(const char *p)
{
    long v = 0;
    int i;
    for (i = 0; i < 4; i++) {
        int d = hex_value(p[i]);
        if (d < 0) {
            return -1;
        }
        v = v * 16 + d;
    }
    return v;
}

/* Scans a string token starting at '"'; `tok` receives it, quotes included.
 * Checks escapes (including UTF-16 surrogate pairs) and control bytes; the
 * input's UTF-8 was validated beforehand. */
static int scan_string(Scanner *s, Span *tok)
{
    const char *start = s->p;
    if (!peek_is(s, '"')) {
        return fail(s, "expected a string");
    }
    s->p++;
    for (;;) {
        unsigned char c;
        if (s->p >= s->end) {
            return fail(s, "unterminated string");
        }
        c = (unsigned char)*s->p;
        if (c == '"') {
            s->p++;
            break;
        }
        if (c < 0x20) {
            return fail(s, "control character in a string");
        }
        if (c != '\\') {
            s->p++;
            continue;
        }
        /* An escape sequence. */
        if (s->end - s->p < 2) {
            return fail(s, "unterminated escape");
        }
        switch (s->p[1]) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
            s->p += 2;
            break;
        case 'u': {
            long cp;
            if (s->end - s->p < 6 || (cp = hex4(s->p + 2)) < 0) {
                return fail(s, "bad \\u escape");
            }
            s->p += 6;
            if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return fail(s, "lone low surrogate in \\u escape");
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                long low;
                if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u' ||
                    (low = hex4(s->p + 2)) < 0xDC00 || low > 0xDFFF) {
                    return fail(s, "lone high surrogate in \\u escape");
                }
                s->p += 6;
            }
            break;
        }
        default:
            return fail(s, "bad escape");
        }
    }
    tok->start = start;
    tok->end = s->p;
    return 1;
}

static int scan_digits(Scanner *s)
{
    const char *start = s->p;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
        s->p++;
    }
    return s->p > start;
}

/* -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? */
static int scan_number(Scanner *s)
{
    if (peek_is(s, '-')) {
        s->p++;
    }
    if (peek_is(s, '0')) {
        s->p++;
    } else if (!scan_digits(s)) {
        return fail(s, "bad number");
    }
    if (peek_is(s, '.')) {
        s->p++;
        if (!scan_digits(s)) {
            return fail(s, "bad number");
        }
    }
    if (peek_is(s, 'e') || peek_is(s, 'E')) {
        s->p++;
        if (peek_is(s, '+') || peek_is(s, '-')) {
            s->p++;
        }
        if (!scan_digits(s)) {
            return fail(s, "bad number");
        }
    }
    return 1;
}

static int scan_literal(Scanner *s, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0) {
        return fail(s, "unexpected character");
    }
    s->p += n;
    return 1;
}

/*
 * Object and array iteration. Usage:
 *
 *     int first = 1; Span key; int r;
 *     s.p++;                                  (consume the '{')
 *     while ((r = obj_next(&s, &first, &key)) == 1) {
 *         ... now s.p is at the value: consume it (e.g. skip_value) ...
 *     }
 *     if (r < 0) -> syntax error
 *
 * obj_next returns 1 with the key and the cursor on the value, 0 after
 * consuming the closing '}', -1 on a syntax error. arr_next is the same
 * for arrays, without a key.
 */
static int obj_next(Scanner *s, int *first, Span *key)
{
    skip_ws(s);
    if (peek_is(s, '}')) {
        s->p++;
        return 0;
    }
    if (!*first) {
        if (!peek_is(s, ',')) {
            fail(s, "expected ',' or '}'");
            return -1;
        }
        s->p++;
        skip_ws(s);
    }
    *first = 0;
    if (!peek_is(s, '"')) {
        fail(s, "expected a key");
        return -1;
    }
    if (!scan_string(s, key)) {
        return -1;
    }
    skip_ws(s);
    if (!peek_is(s, ':')) {
        fail(s, "expected ':'");
        return -1;
    }
    s->p++;
    skip_ws(s);
    return 1;
}

static int arr_next(Scanner *s, int *first)
{
    skip_ws(s);
    if (peek_is(s, ']')) {
        s->p++;
        return 0;
    }
    if (!*first) {
        if (!peek_is(s, ',')) {
            fail(s, "expected ',' or ']'");
            return -1;
        }
        s->p++;
        skip_ws(s);
    }
    *first = 0;
    return 1;
}

/* Validates and skips one value at nesting level `depth` (1 = top level).
 * Recursion is bounded by MAX_DEPTH. */
static int skip_value(Scanner *s, int depth)
{
    skip_ws(s);
    if (s->p >= s->end) {
        return fail(s, "unexpected end of input");
    }
    switch (*s->p) {
    case '{': {
        int first = 1, r;
        Span key;
        if (depth > MAX_DEPTH) {
            return fail(s, "nested too deeply");
        }
        s->p++;
        while ((r = obj_next(s, &first, &key)) == 1) {
            if (!skip_value(s, depth + 1)) {
                return 0;
            }
        }
        return r == 0;
    }
    case '[': {
        int first = 1, r;
        if (depth > MAX_DEPTH) {
            return fail(s, "nested too deeply");
        }
        s->p++;
        while ((r = arr_next(s, &first)) == 1) {
            if (!skip_value(s, depth + 1)) {
                return 0;
            }
        }
        return r == 0;
    }
    case '"': {
        Span tok;
        return scan_string(s, &tok);
    }
    case 't':
        return scan_literal(s, "true");
    case 'f':
        return scan_literal(s, "false");
    case 'n':
        return scan_literal(s, "null");
    default:
        if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9')) {
            return scan_number(s);
        }
        return fail(s, "unexpected character");
    }
}

/* ------------------------------------------------------------------------ */
/* Comparing JSON strings by their *decoded* text, so that "Relu" and       */
/* "\u0052elu" are the same op, as they are for the host.                   */
/* ------------------------------------------------------------------------ */

#define BAD_CP 0xFFFFFFFFu

/* Reads the next code point of a string body [*pp, end) (no quotes) and
 * advances *pp. The body was validated by scan_string; the bound checks are
 * belt and braces and yield BAD_CP. */
static uint32_t next_cp(const char **pp, const char *end)
{
    const unsigned char *p = (const unsigned char *)*pp;
    const unsigned char *e = (const unsigned char *)end;
    uint32_t cp;
    if (*p == '\\') {
        if (e - p < 2) {
            *pp = end;
            return BAD_CP;
        }
        switch (p[1]) {
        case 'b': cp = 0x08; p += 2; break;
        case 'f': cp = 0x0C; p += 2; break;
        case 'n': cp = 0x0A; p += 2; break;
        case 'r': cp = 0x0D; p += 2; break;
        case 't': cp = 0x09; p += 2; break;
        case 'u': {
            long hi, lo;
            if (e - p < 6 || (hi = hex4((const char *)p + 2)) < 0) {
                *pp = end;
                return BAD_CP;
            }
            p += 6;
            cp = (uint32_t)hi;
            if (hi >= 0xD800 && hi <= 0xDBFF) {
                if (e - p < 6 || (lo = hex4((const char *)p + 2)) < 0xDC00 || lo > 0xDFFF) {
                    *pp = end;
                    return BAD_CP;
                }
                p += 6;
                cp = 0x10000u + (((uint32_t)hi - 0xD800u) << 10) + ((uint32_t)lo - 0xDC00u);
            }
            break;
        }
        default: /* \" \\ \/ */
            cp = p[1];
            p += 2;
            break;
        }
    } else if (*p < 0x80) {
        cp = *p++;
    } else {
        /* Valid UTF-8 (checked up front): the lead byte gives the length. */
        size_t len = (*p >= 0xF0) ? 4 : (*p >= 0xE0) ? 3 : 2;
        size_t k;
        if ((size_t)(e - p) < len) {
            *pp = end;
            return BAD_CP;
        }
        cp = *p & (len == 2 ? 0x1Fu : len == 3 ? 0x0Fu : 0x07u);
        for (k = 1; k < len; k++) {
            cp = (cp << 6) | (p[k] & 0x3Fu);
        }
        p += len;
    }
    *pp = (const char *)p;
    return cp;
}

/* Whether two string bodies (without quotes) decode to the same text. */
static int body_equal(const char *a, const char *a_end, const char *b, const char *b_end)
{
    while (a < a_end && b < b_end) {
        uint32_t ca = next_cp(&a, a_end);
        uint32_t cb = next_cp(&b, b_end);
        if (ca != cb || ca == BAD_CP) {
            return 0;
        }
    }
    return a == a_end && b == b_end;
}

/* Whether the string token `tok` (quotes included) decodes to `word`, a
 * plain ASCII C string without quotes or backslashes. */
static int token_is(Span tok, const char *word)
{
    return body_equal(tok.start + 1, tok.end - 1, word, word + strlen(word));
}

static int tokens_equal(Span a, Span b)
{
    return body_equal(a.start + 1, a.end - 1, b.start + 1, b.end - 1);
}

/* ------------------------------------------------------------------------ */
/* The request: {"network": ..., "params": ..., "context": ...}             */
/* ------------------------------------------------------------------------ */

typedef struct {
    Span network;   /* the network object's text */
    Span params;    /* the params value's text, or {NULL, NULL} */
    int has_params;
} Request;

/* Which stages to drop: either the default, or a validated, non-empty JSON
 * array of strings whose text is `list`. */
typedef struct {
    int use_default;
    Span list;
} Stages;

/* A change to a node's text: [start, end) becomes `text`, or goes when
 * `text` is NULL. */
typedef struct {
    const char *start;
    const char *end;
    const char *text;
} Edit;

/* The edits that drop one node: its "op" token, its "mask" and "dropped"
 * members, and the comma of a member that becomes the first. */
#define MAX_EDITS 4

/* What a pass over the network found. */
typedef struct {
    size_t relus;   /* "Relu" nodes in the input network */
    size_t dropped; /* of which in a selected stage (turned into Identity) */
} Counts;

/* Writes "malformed input JSON: <what> at byte <n>" into msg. */
static void syntax_message(char *msg, size_t size, const Scanner *s, const char *input)
{
    snprintf(msg, size, "malformed input JSON: %s at byte %lu",
             s->error ? s->error : "syntax error", (unsigned long)(s->p - input));
}

/* Splits the request into spans and validates all of it as JSON. Unknown
 * top-level keys are ignored (as serde does); duplicates are refused. */
static int parse_request(const char *input, size_t len, Request *req, char *msg, size_t size)
{
    Scanner s;
    Span key;
    int first = 1, r, has_network = 0, has_context = 0;

    s.p = input;
    s.end = input + len;
    s.error = NULL;
    req->has_params = 0;
    req->params.start = req->params.end = NULL;

    skip_ws(&s);
    if (!peek_is(&s, '{')) {
        snprintf(msg, size, "the input must be a JSON object {\"network\": ..., \"params\": ..., \"context\": ...}");
        return 0;
    }
    s.p++;
    while ((r = obj_next(&s, &first, &key)) == 1) {
        int *seen = NULL;
        Span *where = NULL;
        const char *start = s.p;
        if (token_is(key, "network")) {
            seen = &has_network;
            where = &req->network;
        } else if (token_is(key, "params")) {
            seen = &req->has_params;
            where = &req->params;
        } else if (token_is(key, "context")) {
            seen = &has_context;
        }
        if (seen != NULL && *seen) {
            snprintf(msg, size, "duplicate key \"%.*s\" in the request",
                     (int)(key.end - key.start - 2), key.start + 1);
            return 0;
        }
        if (seen != NULL) {
            *seen = 1;
        }
        if (!skip_value(&s, 2)) {
            syntax_message(msg, size, &s, input);
            return 0;
        }
        if (where != NULL) {
            where->start = start;
            where->end = s.p;
        }
    }
    if (r < 0) {
        syntax_message(msg, size, &s, input);
        return 0;
    }
    skip_ws(&s);
    if (s.p != s.end) {
        s.error = "trailing characters after the JSON value";
        syntax_message(msg, size, &s, input);
        return 0;
    }
    if (!has_network) {
        snprintf(msg, size, "missing field \"network\"");
        return 0;
    }
    return 1;
}

/* Reads params: null/absent/{} -> the default stages; {"stages": [...]}
 * -> that list, which must be a non-empty array of strings. */
static int parse_params(const Request *req, Stages *stages, char *msg, size_t size)
{
    Scanner s;
    Span key;
    int first = 1, r, seen = 0;

    stages->use_default = 1;
    stages->list.start = stages->list.end = NULL;
    if (!req->has_params) {
        return 1;
    }
    s.p = req->params.start;
    s.end = req->params.end;
    s.error = NULL;
    if (scan_literal(&s, "null")) {
        return 1;
    }
    s.error = NULL;
    if (!peek_is(&s, '{')) {
        snprintf(msg, size, "\"params\" must be an object such as {\"stages\": [\"S4\"]}");
        return 0;
    }
    s.p++;
    while ((r = obj_next(&s, &first, &key)) == 1) {
        const char *start = s.p;
        if (!token_is(key, "stages")) {
            skip_value(&s, 3); /* unknown parameter: ignore it */
            continue;
        }
        if (seen) {
            snprintf(msg, size, "duplicate key \"stages\" in \"params\"");
            return 0;
        }
        seen = 1;
        if (peek_is(&s, '[')) {
            int afirst = 1, ar, count = 0;
            s.p++;
            while ((ar = arr_next(&s, &afirst)) == 1) {
                Span tok;
                if (!peek_is(&s, '"') || !scan_string(&s, &tok)) {
                    ar = -1;
                    break;
                }
                count++;
            }
            if (ar == 0 && count > 0) {
                stages->use_default = 0;
                stages->list.start = start;
                stages->list.end = s.p;
                continue;
            }
        }
        snprintf(msg, size, "\"params.stages\" must be a non-empty array of stage names, e.g. [\"S4\"]");
        return 0;
    }
    if (r < 0) { /* unreachable: parse_request validated the params text */
        snprintf(msg, size, "\"params\" is malformed");
        return 0;
    }
    return 1;
}

/* Whether the stage string token `stage` is one of the selected stages. */
static int stage_selected(Span stage, const Stages *stages)
{
    Scanner s;
    int first = 1;
    if (stages->use_default) {
        return token_is(stage, DEFAULT_STAGE);
    }
    s.p = stages->list.start + 1; /* after '[' */
    s.end = stages->list.end;
    s.error = NULL;
    while (arr_next(&s, &first) == 1) {
        Span tok;
        if (!scan_string(&s, &tok)) {
            return 0;
        }
        if (tokens_equal(tok, stage)) {
            return 1;
        }
    }
    return 0;
}

/* Appends the selected stage names, joined by " + ", as JSON string content.
 * The raw body of a valid JSON string is valid JSON string content, so the
 * names are copied without decoding. */
static void put_stage_list(Buf *b, const Stages *stages)
{
    Scanner s;
    int first = 1, n = 0;
    if (stages->use_default) {
        buf_puts(b, DEFAULT_STAGE);
        return;
    }
    s.p = stages->list.start + 1;
    s.end = stages->list.end;
    s.error = NULL;
    while (arr_next(&s, &first) == 1) {
        Span tok;
        if (!scan_string(&s, &tok)) {
            return;
        }
        if (n++ > 0) {
            buf_puts(b, " + ");
        }
        buf_put(b, tok.start + 1, (size_t)(tok.end - tok.start - 2));
    }
}

/*
 * The transformation. Walks the network object
 *     {"name": ..., "input": ..., "nodes": [ {node}, ... ], "output": ..., ...}
 * and, for each node object whose "op" is "Relu" and whose "stage" is
 * selected, replaces the "op" value token by "Identity". Since ABI 1.1 a
 * Relu may carry a "mask" and "dropped": those members are removed too, as
 * they do not apply to an Identity (the host refuses such a node).
 *
 * With out == NULL it only validates and counts; otherwise it also appends
 * the rewritten network text to `out`. Returns 0 with a message when the
 * network does not have the expected shape.
 */
static int rewrite_network(Span network, const Stages *stages, Buf *out, Counts *counts,
                           char *msg, size_t size)
{
    Scanner s;
    Span key;
    const char *copied = network.start; /* input copied to `out` up to here */
    int first = 1, r, has_nodes = 0;

    counts->relus = 0;
    counts->dropped = 0;
    s.p = network.start;
    s.end = network.end;
    s.error = NULL;

    if (!peek_is(&s, '{')) {
        snprintf(msg, size, "\"network\" must be a JSON object");
        return 0;
    }
    s.p++;
    while ((r = obj_next(&s, &first, &key)) == 1) {
        int nfirst = 1, nr;
        unsigned long index = 0;
        if (!token_is(key, "nodes")) {
            skip_value(&s, 3); /* name, input, output, meta, ...: keep as is */
            continue;
        }
        if (has_nodes) {
            snprintf(msg, size, "duplicate key \"nodes\" in the network");
            return 0;
        }
        has_nodes = 1;
        if (!peek_is(&s, '[')) {
            snprintf(msg, size, "\"network.nodes\" must be an array");
            return 0;
        }
        s.p++;
        while ((nr = arr_next(&s, &nfirst)) == 1) {
            /* One node: {"name":..., "op":..., <op fields>, "inputs":...,
             * "stage":..., "block":...} in any order. */
            Span op = {NULL, NULL}, stage = {NULL, NULL}, field;
            int ffirst = 1, fr, has_op = 0, has_stage = 0, has_mask = 0, has_dropped = 0;
            /* The edits that would drop this node, in text order; applied
             * only if it is dropped. `kept_any`: a member before stays. */
            Edit edits[MAX_EDITS];
            int n_edits = 0, kept_any = 0, k;
            if (!peek_is(&s, '{')) {
                snprintf(msg, size, "node #%lu is not a JSON object", index);
                return 0;
            }
            s.p++;
            for (;;) {
                /* A member's text starts after the previous value: its
                 * comma is part of it (the first member has none). */
                const char *before = s.p;
                int removed;
                if ((fr = obj_next(&s, &ffirst, &field)) != 1) {
                    break;
                }
                removed = token_is(field, "mask") || token_is(field, "dropped");
                if (!removed && !kept_any && n_edits > 0) {
                    /* Only removed members precede: this one becomes the
                     * first, without its comma. */
                    edits[n_edits].start = before;
                    edits[n_edits].end = field.start;
                    edits[n_edits].text = NULL;
                    n_edits++;
                }
                kept_any |= !removed;
                if (token_is(field, "op")) {
                    if (has_op) {
                        snprintf(msg, size, "node #%lu has two \"op\" keys", index);
                        return 0;
                    }
                    has_op = 1;
                    if (!peek_is(&s, '"') || !scan_string(&s, &op)) {
                        snprintf(msg, size, "node #%lu: \"op\" must be a string", index);
                        return 0;
                    }
                    edits[n_edits].start = op.start;
                    edits[n_edits].end = op.end;
                    edits[n_edits].text = "\"Identity\"";
                    n_edits++;
                } else if (token_is(field, "stage")) {
                    if (has_stage) {
                        snprintf(msg, size, "node #%lu has two \"stage\" keys", index);
                        return 0;
                    }
                    has_stage = 1;
                    if (peek_is(&s, '"')) {
                        if (!scan_string(&s, &stage)) {
                            snprintf(msg, size, "node #%lu: bad \"stage\" string", index);
                            return 0; /* unreachable: validated already */
                        }
                    } else if (scan_literal(&s, "null")) {
                        stage.start = stage.end = NULL; /* no stage */
                    } else {
                        snprintf(msg, size, "node #%lu: \"stage\" must be a string or null", index);
                        return 0;
                    }
                } else if (removed) {
                    int *seen = token_is(field, "mask") ? &has_mask : &has_dropped;
                    if (*seen) {
                        snprintf(msg, size, "node #%lu has two \"%s\" keys", index,
                                 seen == &has_mask ? "mask" : "dropped");
                        return 0;
                    }
                    *seen = 1;
                    skip_value(&s, 5);
                    edits[n_edits].start = before;
                    edits[n_edits].end = s.p;
                    edits[n_edits].text = NULL;
                    n_edits++;
                } else {
                    skip_value(&s, 5);
                }
            }
            if (fr < 0) {
                snprintf(msg, size, "node #%lu is malformed", index);
                return 0;
            }
            if (!has_op) {
                snprintf(msg, size, "node #%lu has no \"op\"", index);
                return 0;
            }
            if (token_is(op, "Relu")) {
                counts->relus++;
                if (stage.start != NULL && stage_selected(stage, stages)) {
                    counts->dropped++;
                    for (k = 0; out != NULL && k < n_edits; k++) {
                        buf_put(out, copied, (size_t)(edits[k].start - copied));
                        if (edits[k].text != NULL) {
                            buf_puts(out, edits[k].text);
                        }
                        copied = edits[k].end;
                    }
                }
            }
            index++;
        }
        if (nr < 0) {
            snprintf(msg, size, "\"network.nodes\" is malformed");
            return 0;
        }
    }
    if (r < 0) {
        snprintf(msg, size, "\"network\" is malformed");
        return 0;
    }
    if (!has_nodes) {
        snprintf(msg, size, "missing field \"nodes\" in the network");
        return 0;
    }
    if (out != NULL) {
        buf_put(out, copied, (size_t)(network.end - copied));
    }
    return 1;
}

/* deepreduce.optimization/1:apply */
static int32_t apply(const char *input, char **output)
{
    size_t len = strlen(input);
    char msg[256];
    Request req;
    Stages stages;
    Counts counts;
    Buf out = {NULL, 0, 0, 0};

    if (!utf8_valid(input, len)) {
        return reply_error(output, DR_STATUS_BAD_INPUT, "input is not UTF-8");
    }
    if (!parse_request(input, len, &req, msg, sizeof msg) ||
        !parse_params(&req, &stages, msg, sizeof msg) ||
        /* First pass: validate the shape and count, without writing. */
        !rewrite_network(req.network, &stages, NULL, &counts, msg, sizeof msg)) {
        return reply_error(output, DR_STATUS_BAD_INPUT, msg);
    }

    if (counts.dropped == 0) {
        /* Nothing to do: refuse rather than return an unchanged network. */
        buf_puts(&out, "{\"error\":\"the network has no active ReLU in ");
        put_stage_list(&out, &stages);
        buf_puts(&out, "; nothing to drop\"}");
        if (out.oom) {
            free(out.data);
            out.data = NULL;
        }
        *output = out.data;
        return DR_STATUS_ERROR;
    }

    /* Second pass: write the answer. */
    buf_puts(&out, "{\"candidates\":[{\"description\":\"ReLUs of ");
    put_stage_list(&out, &stages);
    snprintf(msg, sizeof msg, " dropped: %lu of %lu ReLU layers become Identity",
             (unsigned long)counts.dropped, (unsigned long)counts.relus);
    buf_puts(&out, msg);
    buf_puts(&out, "\",\"network\":");
    if (!rewrite_network(req.network, &stages, &out, &counts, msg, sizeof msg)) {
        free(out.data);
        return reply_error(output, DR_STATUS_ERROR, msg); /* cannot happen */
    }
    buf_puts(&out, "}]}");
    if (out.oom) {
        free(out.data);
        return reply_error(output, DR_STATUS_ERROR, "out of memory");
    }
    *output = out.data;
    return DR_STATUS_OK;
}

/* ------------------------------------------------------------------------ */
/* The three ABI functions and the entry point.                             */
/* ------------------------------------------------------------------------ */

static const char *rb_descriptor(void)
{
    return DESCRIPTOR;
}

static int32_t rb_call(const char *method, const char *input, char **output)
{
    if (output == NULL) {
        return DR_STATUS_BAD_INPUT; /* nowhere to put an answer */
    }
    *output = NULL;
    if (method == NULL || input == NULL) {
        return reply_error(output, DR_STATUS_BAD_INPUT, "method or input is a null pointer");
    }
    if (!utf8_valid(method, strlen(method))) {
        return reply_error(output, DR_STATUS_BAD_INPUT, "method id is not UTF-8");
    }
    if (strcmp(method, DR_METHOD_OPTIMIZATION_APPLY) == 0) {
        return apply(input, output);
    }
    return reply_error3(output, DR_STATUS_UNSUPPORTED, "unknown method '", method, "'");
}

/* Every string rb_call returns was allocated with malloc/realloc. */
static void rb_free_string(char *s)
{
    free(s); /* free(NULL) is a no-op, as the ABI requires */
}

static const DrPluginEntryV1 ENTRY = {
    (uint32_t)sizeof(DrPluginEntryV1),
    DEEPREDUCE_ABI_MAJOR,
    DEEPREDUCE_ABI_MINOR,
    rb_descriptor,
    rb_call,
    rb_free_string,
};

DR_EXPORT const DrPluginEntryV1 *deepreduce_plugin_entry_v1(void)
{
    return &ENTRY;
}
