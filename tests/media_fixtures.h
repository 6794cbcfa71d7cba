/*
 * media_fixtures.h - the images and audio the multimodal tests feed, written by the tests themselves.
 *
 * Nothing binary is committed: each fixture is a pixel or sample formula, written as a PNG (8-bit RGB, its zlib
 * stream made of "stored" deflate blocks, so no compressor is needed) or a WAV (16-bit PCM, mono). The same table
 * writes the inputs of the fidelity references (scripts/reference/mtmd.sh runs `test_media_fidelity
 * --write-fixtures DIR`), so llama-mtmd-cli and llamac read the very same files. Last, what both multimodal tests use
 * to run a prompt with media on the engine (llamac serve's) and wait for it.
 */
#ifndef LLAMAC_MEDIA_FIXTURES_H
#define LLAMAC_MEDIA_FIXTURES_H

#include "helpers.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- PNG ---- */

static uint32_t fx_crc_table[256];

static uint32_t fx_crc(uint32_t crc, const uint8_t *p, size_t n) {
    if (!fx_crc_table[1]) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) {
                c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            }
            fx_crc_table[i] = c;
        }
    }
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc = fx_crc_table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    }
    return ~crc;
}

static void fx_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static bool fx_chunk(FILE *f, const char *type, const uint8_t *data, size_t n) {
    uint8_t head[8];
    fx_be32(head, (uint32_t)n);
    memcpy(head + 4, type, 4);
    uint32_t crc = fx_crc(fx_crc(0, head + 4, 4), data, n);
    uint8_t tail[4];
    fx_be32(tail, crc);
    return fwrite(head, 1, 8, f) == 8 && (n == 0 || fwrite(data, 1, n, f) == n) && fwrite(tail, 1, 4, f) == 4;
}

typedef void (*fx_pixel_fn)(uint32_t x, uint32_t y, uint8_t rgb[3]);

/* An 8-bit RGB PNG of w x h pixels from `pixel`. */
static bool fx_write_png(const char *path, uint32_t w, uint32_t h, fx_pixel_fn pixel) {
    size_t row = 1 + (size_t)w * 3, raw_n = row * h;
    uint8_t *raw = malloc(raw_n);
    size_t n_blocks = raw_n / 65535 + 1;
    uint8_t *z = malloc(2 + raw_n + 5 * n_blocks + 4);
    FILE *f = raw && z ? fopen(path, "wb") : NULL;
    bool ok = f != NULL;
    if (ok) {
        for (uint32_t y = 0; y < h; y++) {
            raw[y * row] = 0; /* filter: none */
            for (uint32_t x = 0; x < w; x++) {
                pixel(x, y, raw + y * row + 1 + (size_t)x * 3);
            }
        }
        size_t zn = 0;
        z[zn++] = 0x78;
        z[zn++] = 0x01;
        for (size_t at = 0; at < raw_n || at == 0;) {
            size_t k = raw_n - at < 65535 ? raw_n - at : 65535;
            z[zn++] = at + k == raw_n ? 1 : 0;
            z[zn++] = (uint8_t)k;
            z[zn++] = (uint8_t)(k >> 8);
            z[zn++] = (uint8_t)~k;
            z[zn++] = (uint8_t)(~k >> 8);
            memcpy(z + zn, raw + at, k);
            zn += k;
            at += k;
            if (raw_n == 0) {
                break;
            }
        }
        uint32_t a = 1, b = 0;
        for (size_t i = 0; i < raw_n; i++) {
            a = (a + raw[i]) % 65521;
            b = (b + a) % 65521;
        }
        fx_be32(z + zn, b << 16 | a);
        zn += 4;
        uint8_t ihdr[13];
        fx_be32(ihdr, w);
        fx_be32(ihdr + 4, h);
        ihdr[8] = 8;  /* bit depth */
        ihdr[9] = 2;  /* RGB */
        ihdr[10] = 0; /* deflate */
        ihdr[11] = 0; /* adaptive filtering */
        ihdr[12] = 0; /* no interlace */
        ok = fwrite("\x89PNG\r\n\x1a\n", 1, 8, f) == 8 && fx_chunk(f, "IHDR", ihdr, 13) && fx_chunk(f, "IDAT", z, zn) &&
             fx_chunk(f, "IEND", NULL, 0);
    }
    if (f && fclose(f) != 0) {
        ok = false;
    }
    free(raw);
    free(z);
    return ok;
}

/* ---- WAV ---- */

typedef float (*fx_sample_fn)(uint32_t i, uint32_t rate);

static void fx_le(uint8_t *p, uint32_t v, int bytes) {
    for (int i = 0; i < bytes; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

/* A 16-bit mono PCM WAV of n samples at `rate` Hz from `sample` (values in [-1, 1]). */
static bool fx_write_wav(const char *path, uint32_t rate, uint32_t n, fx_sample_fn sample) {
    uint8_t h[44];
    memcpy(h, "RIFF", 4);
    fx_le(h + 4, 36 + 2 * n, 4);
    memcpy(h + 8, "WAVEfmt ", 8);
    fx_le(h + 16, 16, 4);
    fx_le(h + 20, 1, 2); /* PCM */
    fx_le(h + 22, 1, 2); /* mono */
    fx_le(h + 24, rate, 4);
    fx_le(h + 28, rate * 2, 4);
    fx_le(h + 32, 2, 2);
    fx_le(h + 34, 16, 2);
    memcpy(h + 36, "data", 4);
    fx_le(h + 40, 2 * n, 4);
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(h, 1, sizeof h, f) == sizeof h;
    for (uint32_t i = 0; ok && i < n; i++) {
        float v = sample(i, rate);
        v = v > 1 ? 1 : v < -1 ? -1 : v;
        int16_t s = (int16_t)lrintf(v * 32767.0f);
        uint8_t b[2];
        fx_le(b, (uint32_t)(uint16_t)s, 2);
        ok = fwrite(b, 1, 2, f) == 2;
    }
    if (f && fclose(f) != 0) {
        ok = false;
    }
    return ok;
}

/* ---- the fixtures ---- */

static void fx_gradient(uint32_t x, uint32_t y, uint8_t rgb[3]) {
    rgb[0] = (uint8_t)(x * 8);
    rgb[1] = (uint8_t)(y * 8);
    rgb[2] = (uint8_t)((x + y) * 4);
}

static void fx_checker(uint32_t x, uint32_t y, uint8_t rgb[3]) {
    bool on = ((x / 4) + (y / 4)) % 2 == 0;
    rgb[0] = on ? 230 : 20;
    rgb[1] = (uint8_t)(x * y);
    rgb[2] = on ? 40 : 200;
}

static void fx_rings(uint32_t x, uint32_t y, uint8_t rgb[3]) {
    int32_t dx = (int32_t)x - 24, dy = (int32_t)y - 20;
    uint32_t d = (uint32_t)(dx * dx + dy * dy);
    rgb[0] = (uint8_t)(d * 3);
    rgb[1] = (uint8_t)(255 - d);
    rgb[2] = (uint8_t)(x ^ y);
}

static void fx_dot(uint32_t x, uint32_t y, uint8_t rgb[3]) {
    (void)x, (void)y;
    rgb[0] = 200;
    rgb[1] = 120;
    rgb[2] = 30;
}

static void fx_stripes(uint32_t x, uint32_t y, uint8_t rgb[3]) {
    rgb[0] = (uint8_t)(x % 8 < 4 ? 250 : 10);
    rgb[1] = (uint8_t)(y * 15);
    rgb[2] = (uint8_t)(x * 4);
}

static float fx_tone(uint32_t i, uint32_t rate) {
    const double tau = 6.283185307179586, t = (double)i / rate;
    return (float)(0.5 * sin(tau * 440 * t) + 0.2 * sin(tau * 1320 * t + 0.3));
}

struct fx_fixture {
    const char *file;
    uint32_t w, h;     /* images */
    fx_pixel_fn pixel; /* NULL for audio */
    uint32_t rate, n;  /* audio */
    fx_sample_fn sample;
};

/* The fidelity cases: an image at the projector's size, two others that must be resized (one not square), a single
 * pixel, a wide image (for projectors that keep the aspect ratio), and one second of audio. */
static const struct fx_fixture fx_fixtures[] = {
    { "gradient-32x32.png", 32, 32, fx_gradient, 0, 0, NULL }, { "checker-32x32.png", 32, 32, fx_checker, 0, 0, NULL },
    { "rings-48x40.png", 48, 40, fx_rings, 0, 0, NULL },       { "dot-1x1.png", 1, 1, fx_dot, 0, 0, NULL },
    { "stripes-64x16.png", 64, 16, fx_stripes, 0, 0, NULL },   { "tone-1s.wav", 0, 0, NULL, 16000, 16000, fx_tone },
};
#define FX_N_FIXTURES (sizeof fx_fixtures / sizeof fx_fixtures[0])

/* Writes fixture `f` into `dir`; the path into `path`. */
static bool fx_write(const struct fx_fixture *f, const char *dir, char *path, size_t cap) {
    snprintf(path, cap, "%s/%s", dir, f->file);
    return f->pixel ? fx_write_png(path, f->w, f->h, f->pixel) : fx_write_wav(path, f->rate, f->n, f->sample);
}

/* ---- a request on the engine, waited for ---- */

/* One engine request's outcome: its text and result; `then` (when set) is submitted from the request's first token,
 * so that two run at once (then_status: how that went). */
struct fx_run {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    struct test_sink text;
    llamac_engine_result res;
    llamac_engine *e;
    const llamac_engine_request *then;
    llamac_status then_status;
};

static inline bool fx_run_token(const llamac_engine_token *t, void *user_data) {
    struct fx_run *w = user_data;
    if (w->then && t->index == 0) {
        w->then_status = llamac_engine_submit(w->e, w->then, NULL);
        w->then = NULL;
    }
    return test_on_text(t->text, t->len, &w->text);
}

static inline void fx_run_done(const llamac_engine_result *r, void *user_data) {
    struct fx_run *w = user_data;
    pthread_mutex_lock(&w->lock);
    w->res = *r;
    w->res.error = NULL;
    w->res.stop = NULL;
    w->done = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

/* Readies w for a request on engine e (before it is submitted); `then` as above, or NULL. */
static inline void fx_run_init(struct fx_run *w, llamac_engine *e, const llamac_engine_request *then) {
    memset(w, 0, sizeof *w);
    w->lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER; /* static initialisers: nothing to destroy */
    w->cond = (pthread_cond_t)PTHREAD_COND_INITIALIZER;
    w->e = e;
    w->then = then;
}

/* Waits for the submitted request to end; its status must be OK. */
static inline void fx_run_wait(struct fx_run *w) {
    pthread_mutex_lock(&w->lock);
    while (!w->done) {
        pthread_cond_wait(&w->cond, &w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    CHECK_OK(w->res.status);
}

/* A greedy request of `chunks` (borrowed) on `slot` (-1: any), max_tokens long, its outcome into w. */
static inline llamac_engine_request fx_run_request(llamac_chunks *chunks, int32_t slot, int32_t max_tokens,
                                                   struct fx_run *w) {
    llamac_engine_request r = llamac_engine_request_default();
    r.sampling.temp = 0;
    r.max_tokens = max_tokens;
    r.chunks = chunks;
    r.slot = slot;
    r.on_token = fx_run_token;
    r.on_done = fx_run_done;
    r.user_data = w;
    return r;
}

#endif /* LLAMAC_MEDIA_FIXTURES_H */
