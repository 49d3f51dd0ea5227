/* LD_PRELOAD shim: writes the NSS key log of every TLS session made by a program linked to
 * OpenSSL >= 1.1.1 (nginx has no key-log setting of its own) to $SSLKEYLOGFILE. It wraps
 * SSL_CTX_new and installs OpenSSL's own key-log callback on each new context; no other call
 * is changed. Built by tools/realcap/record_tlsleft.sh:
 *   gcc -shared -fPIC -O2 -o keylog_shim.so keylog_shim.c -ldl */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_method_st SSL_METHOD;
typedef void (*keylog_cb)(const SSL *, const char *);

static void write_line(const SSL *ssl, const char *line) {
    (void)ssl;
    const char *path = getenv("SSLKEYLOGFILE");
    if (path == NULL) return;
    FILE *f = fopen(path, "a");
    if (f == NULL) return;
    fprintf(f, "%s\n", line);
    fclose(f);
}

SSL_CTX *SSL_CTX_new(const SSL_METHOD *method) {
    static SSL_CTX *(*real_new)(const SSL_METHOD *);
    static void (*set_cb)(SSL_CTX *, keylog_cb);
    if (real_new == NULL) real_new = (SSL_CTX * (*)(const SSL_METHOD *)) dlsym(RTLD_NEXT, "SSL_CTX_new");
    if (set_cb == NULL) set_cb = (void (*)(SSL_CTX *, keylog_cb))dlsym(RTLD_DEFAULT, "SSL_CTX_set_keylog_callback");
    if (real_new == NULL) return NULL;
    SSL_CTX *ctx = real_new(method);
    if (ctx != NULL && set_cb != NULL) set_cb(ctx, write_line);
    return ctx;
}
