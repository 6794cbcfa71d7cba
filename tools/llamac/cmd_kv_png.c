/*
 * cmd_kv_png.c - `llamac kv --plot FILE.png`: the same bar chart as the SVG, rasterized into an RGB buffer and
 * written as a PNG with no image library.
 *
 * A PNG is a signature and CRC-32-checked chunks; its pixels are a zlib stream, which may use "stored" deflate blocks
 * (uncompressed, up to 65535 bytes each) closed by an Adler-32. So the writer is short: a chart of a few hundred
 * kilobytes needs no compression. Text uses a built-in 5x7 bitmap font covering printable ASCII (other bytes are
 * drawn as '?'); the image widens to fit the title, up to 4096 pixels.
 */
#include "kv_report.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GLYPH_W 5
#define GLYPH_H 7
#define ADVANCE 6 /* glyph width plus one column of space */
#define DESCENT 2 /* text is GLYPH_H + DESCENT pixels tall */

/* Rows of each printable ASCII character from ' ' (32) to '~' (126), top to bottom; bit 4 is the leftmost pixel.
 * The letters with descenders (g p q y) are drawn DESCENT pixels lower, so their bodies sit on the baseline. */
static const uint8_t font5x7[95][GLYPH_H] = {
    { 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 }, /* ' ' */
    { 0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x04 }, /* '!' */
    { 0x0a, 0x0a, 0x0a, 0x00, 0x00, 0x00, 0x00 }, /* '"' */
    { 0x0a, 0x0a, 0x1f, 0x0a, 0x1f, 0x0a, 0x0a }, /* '#' */
    { 0x04, 0x0f, 0x14, 0x0e, 0x05, 0x1e, 0x04 }, /* '$' */
    { 0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03 }, /* '%' */
    { 0x0c, 0x12, 0x14, 0x08, 0x15, 0x12, 0x0d }, /* '&' */
    { 0x04, 0x04, 0x08, 0x00, 0x00, 0x00, 0x00 }, /* "'" */
    { 0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02 }, /* '(' */
    { 0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08 }, /* ')' */
    { 0x00, 0x04, 0x15, 0x0e, 0x15, 0x04, 0x00 }, /* '*' */
    { 0x00, 0x04, 0x04, 0x1f, 0x04, 0x04, 0x00 }, /* '+' */
    { 0x00, 0x00, 0x00, 0x00, 0x0c, 0x04, 0x08 }, /* ',' */
    { 0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00 }, /* '-' */
    { 0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x0c }, /* '.' */
    { 0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00 }, /* '/' */
    { 0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e }, /* '0' */
    { 0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e }, /* '1' */
    { 0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f }, /* '2' */
    { 0x1e, 0x01, 0x01, 0x0e, 0x01, 0x01, 0x1e }, /* '3' */
    { 0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02 }, /* '4' */
    { 0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e }, /* '5' */
    { 0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e }, /* '6' */
    { 0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08 }, /* '7' */
    { 0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e }, /* '8' */
    { 0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c }, /* '9' */
    { 0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x0c, 0x00 }, /* ':' */
    { 0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x04, 0x08 }, /* ';' */
    { 0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02 }, /* '<' */
    { 0x00, 0x00, 0x1f, 0x00, 0x1f, 0x00, 0x00 }, /* '=' */
    { 0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08 }, /* '>' */
    { 0x0e, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04 }, /* '?' */
    { 0x0e, 0x11, 0x01, 0x0d, 0x15, 0x15, 0x0e }, /* '@' */
    { 0x0e, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11 }, /* 'A' */
    { 0x1e, 0x11, 0x11, 0x1e, 0x11, 0x11, 0x1e }, /* 'B' */
    { 0x0e, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0e }, /* 'C' */
    { 0x1c, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1c }, /* 'D' */
    { 0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x1f }, /* 'E' */
    { 0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x10 }, /* 'F' */
    { 0x0e, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0f }, /* 'G' */
    { 0x11, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11 }, /* 'H' */
    { 0x0e, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e }, /* 'I' */
    { 0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0c }, /* 'J' */
    { 0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11 }, /* 'K' */
    { 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1f }, /* 'L' */
    { 0x11, 0x1b, 0x15, 0x15, 0x11, 0x11, 0x11 }, /* 'M' */
    { 0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11 }, /* 'N' */
    { 0x0e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e }, /* 'O' */
    { 0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10, 0x10 }, /* 'P' */
    { 0x0e, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0d }, /* 'Q' */
    { 0x1e, 0x11, 0x11, 0x1e, 0x14, 0x12, 0x11 }, /* 'R' */
    { 0x0f, 0x10, 0x10, 0x0e, 0x01, 0x01, 0x1e }, /* 'S' */
    { 0x1f, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04 }, /* 'T' */
    { 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e }, /* 'U' */
    { 0x11, 0x11, 0x11, 0x11, 0x11, 0x0a, 0x04 }, /* 'V' */
    { 0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0a }, /* 'W' */
    { 0x11, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x11 }, /* 'X' */
    { 0x11, 0x11, 0x0a, 0x04, 0x04, 0x04, 0x04 }, /* 'Y' */
    { 0x1f, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1f }, /* 'Z' */
    { 0x0e, 0x08, 0x08, 0x08, 0x08, 0x08, 0x0e }, /* '[' */
    { 0x00, 0x10, 0x08, 0x04, 0x02, 0x01, 0x00 }, /* '\' */
    { 0x0e, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0e }, /* ']' */
    { 0x04, 0x0a, 0x11, 0x00, 0x00, 0x00, 0x00 }, /* '^' */
    { 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1f }, /* '_' */
    { 0x08, 0x04, 0x02, 0x00, 0x00, 0x00, 0x00 }, /* '`' */
    { 0x00, 0x00, 0x0e, 0x01, 0x0f, 0x11, 0x0f }, /* 'a' */
    { 0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1e }, /* 'b' */
    { 0x00, 0x00, 0x0e, 0x10, 0x10, 0x11, 0x0e }, /* 'c' */
    { 0x01, 0x01, 0x0d, 0x13, 0x11, 0x11, 0x0f }, /* 'd' */
    { 0x00, 0x00, 0x0e, 0x11, 0x1f, 0x10, 0x0e }, /* 'e' */
    { 0x06, 0x09, 0x08, 0x1c, 0x08, 0x08, 0x08 }, /* 'f' */
    { 0x0f, 0x11, 0x11, 0x13, 0x0d, 0x01, 0x0e }, /* 'g' */
    { 0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11 }, /* 'h' */
    { 0x04, 0x00, 0x0c, 0x04, 0x04, 0x04, 0x0e }, /* 'i' */
    { 0x02, 0x00, 0x06, 0x02, 0x02, 0x12, 0x0c }, /* 'j' */
    { 0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12 }, /* 'k' */
    { 0x0c, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e }, /* 'l' */
    { 0x00, 0x00, 0x1a, 0x15, 0x15, 0x11, 0x11 }, /* 'm' */
    { 0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11 }, /* 'n' */
    { 0x00, 0x00, 0x0e, 0x11, 0x11, 0x11, 0x0e }, /* 'o' */
    { 0x1e, 0x11, 0x11, 0x11, 0x1e, 0x10, 0x10 }, /* 'p' */
    { 0x0f, 0x11, 0x11, 0x11, 0x0f, 0x01, 0x01 }, /* 'q' */
    { 0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10 }, /* 'r' */
    { 0x00, 0x00, 0x0e, 0x10, 0x0e, 0x01, 0x1e }, /* 's' */
    { 0x08, 0x08, 0x1c, 0x08, 0x08, 0x09, 0x06 }, /* 't' */
    { 0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0d }, /* 'u' */
    { 0x00, 0x00, 0x11, 0x11, 0x11, 0x0a, 0x04 }, /* 'v' */
    { 0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0a }, /* 'w' */
    { 0x00, 0x00, 0x11, 0x0a, 0x04, 0x0a, 0x11 }, /* 'x' */
    { 0x11, 0x11, 0x11, 0x13, 0x0d, 0x01, 0x0e }, /* 'y' */
    { 0x00, 0x00, 0x1f, 0x02, 0x04, 0x08, 0x1f }, /* 'z' */
    { 0x02, 0x04, 0x04, 0x08, 0x04, 0x04, 0x02 }, /* '{' */
    { 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04 }, /* '|' */
    { 0x08, 0x04, 0x04, 0x02, 0x04, 0x04, 0x08 }, /* '}' */
    { 0x00, 0x00, 0x08, 0x15, 0x02, 0x00, 0x00 }, /* '~' */
};

struct canvas {
    int w, h;
    uint8_t *px; /* w * h * 3 bytes, RGB, row by row */
};

static const uint8_t BLACK[3] = { 0, 0, 0 };
static const uint8_t GREY[3] = { 96, 96, 96 };
static const uint8_t BLUE[3] = { 0x1f, 0x77, 0xb4 };   /* rotation on, as in the SVG */
static const uint8_t ORANGE[3] = { 0xff, 0x7f, 0x0e }; /* rotation off */

/* Fills the rectangle [x, x+w) x [y, y+h), clipped to the canvas. */
static void fill_rect(struct canvas *cv, int x, int y, int w, int h, const uint8_t rgb[3]) {
    int x0 = x < 0 ? 0 : x, y0 = y < 0 ? 0 : y;
    int x1 = x + w > cv->w ? cv->w : x + w, y1 = y + h > cv->h ? cv->h : y + h;
    for (int yy = y0; yy < y1; yy++) {
        for (int xx = x0; xx < x1; xx++) {
            memcpy(cv->px + ((size_t)yy * (size_t)cv->w + (size_t)xx) * 3, rgb, 3);
        }
    }
}

/* Draws s with its top-left corner at (x, y). */
static void draw_text(struct canvas *cv, int x, int y, const char *s, const uint8_t rgb[3]) {
    for (; *s; s++, x += ADVANCE) {
        unsigned char ch = (unsigned char)*s;
        const uint8_t *g = font5x7[(ch >= 32 && ch <= 126 ? ch : '?') - 32];
        int dy = strchr("gpqy", ch) ? DESCENT : 0; /* ch is never 0 here */
        for (int r = 0; r < GLYPH_H; r++) {
            for (int col = 0; col < GLYPH_W; col++) {
                if (g[r] & (1u << (GLYPH_W - 1 - col))) {
                    fill_rect(cv, x + col, y + dy + r, 1, 1, rgb);
                }
            }
        }
    }
}

static int text_width(const char *s) {
    size_t n = strlen(s);
    return n == 0 ? 0 : (int)n * ADVANCE - 1;
}

/* Text whose horizontal centre is at cx, or whose right end is at rx. */
static void draw_text_centered(struct canvas *cv, int cx, int y, const char *s, const uint8_t rgb[3]) {
    draw_text(cv, cx - text_width(s) / 2, y, s, rgb);
}

static void draw_text_right(struct canvas *cv, int rx, int y, const char *s, const uint8_t rgb[3]) {
    draw_text(cv, rx - text_width(s), y, s, rgb);
}

/* The CRC-32 table of the reflected polynomial 0xedb88320, filled per image (no global state). */
static void crc_init(uint32_t crc_table[256]) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) {
            c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
        }
        crc_table[n] = c;
    }
}

/* Continues a CRC-32 (ISO 3309, as PNG uses it) over n bytes; start with crc 0. */
static uint32_t crc_update(const uint32_t crc_table[256], uint32_t crc, const uint8_t *p, size_t n) {
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    }
    return ~crc;
}

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Writes one chunk: length, type, data, CRC of type and data. */
static bool write_chunk(FILE *f, const uint32_t crc_table[256], const char type[4], const uint8_t *data, size_t n) {
    uint8_t head[8], tail[4];
    put_be32(head, (uint32_t)n);
    memcpy(head + 4, type, 4);
    uint32_t crc = crc_update(crc_table, crc_update(crc_table, 0, head + 4, 4), data, n);
    put_be32(tail, crc);
    return fwrite(head, 1, 8, f) == 8 && (n == 0 || fwrite(data, 1, n, f) == n) && fwrite(tail, 1, 4, f) == 4;
}

/* The zlib stream of the filtered scanlines (filter byte 0, then the row's RGB bytes) in stored deflate blocks.
 * Returns a malloc'd buffer of *len bytes, or NULL when out of memory. */
static uint8_t *zlib_stored(const struct canvas *cv, size_t *len) {
    size_t row = (size_t)cv->w * 3 + 1, raw_n = row * (size_t)cv->h;
    size_t blocks = (raw_n + 65534) / 65535;
    uint8_t *raw = malloc(raw_n), *z = malloc(2 + blocks * 5 + raw_n + 4);
    if (!raw || !z) {
        free(raw);
        free(z);
        return NULL;
    }
    for (int y = 0; y < cv->h; y++) {
        raw[(size_t)y * row] = 0;
        memcpy(raw + (size_t)y * row + 1, cv->px + (size_t)y * (size_t)cv->w * 3, row - 1);
    }
    size_t o = 0;
    z[o++] = 0x78; /* deflate, 32 KiB window */
    z[o++] = 0x01; /* no preset dictionary, fastest; 0x7801 is a multiple of 31 */
    uint32_t a = 1, b = 0;
    for (size_t done = 0; done < raw_n;) {
        size_t n = raw_n - done > 65535 ? 65535 : raw_n - done;
        z[o++] = done + n == raw_n ? 1 : 0; /* BFINAL on the last block, BTYPE 00 (stored) */
        z[o++] = (uint8_t)(n & 0xff);
        z[o++] = (uint8_t)(n >> 8);
        z[o++] = (uint8_t)(~n & 0xff);
        z[o++] = (uint8_t)((~n >> 8) & 0xff);
        memcpy(z + o, raw + done, n);
        for (size_t i = 0; i < n; i++) {
            a = (a + raw[done + i]) % 65521;
            b = (b + a) % 65521;
        }
        o += n;
        done += n;
    }
    put_be32(z + o, (b << 16) | a);
    o += 4;
    free(raw);
    *len = o;
    return z;
}

static bool write_png(const struct canvas *cv, FILE *f) {
    static const uint8_t sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
    uint8_t ihdr[13];
    put_be32(ihdr, (uint32_t)cv->w);
    put_be32(ihdr + 4, (uint32_t)cv->h);
    ihdr[8] = 8;  /* bits per sample */
    ihdr[9] = 2;  /* truecolour RGB */
    ihdr[10] = 0; /* deflate */
    ihdr[11] = 0; /* adaptive filtering (every row uses filter 0, none) */
    ihdr[12] = 0; /* not interlaced */
    size_t zn = 0;
    uint8_t *z = zlib_stored(cv, &zn);
    if (!z) {
        return false;
    }
    uint32_t tab[256];
    crc_init(tab);
    bool ok = fwrite(sig, 1, 8, f) == 8 && write_chunk(f, tab, "IHDR", ihdr, sizeof ihdr) &&
              write_chunk(f, tab, "IDAT", z, zn) && write_chunk(f, tab, "IEND", NULL, 0);
    free(z);
    return ok;
}

/* Draws the chart: the layout of kv_plot_svg, with 7-pixel text. */
static void draw_chart(struct canvas *cv, const char *title, const struct kv_quality *results, size_t n_results,
                       const struct kv_chart *ch) {
    const int left = ch->left, top = ch->top, plot_h = ch->plot_h, bar_w = ch->bar_w;
    char num[32];
    fill_rect(cv, 0, 0, cv->w, cv->h, (const uint8_t[3]){ 255, 255, 255 });
    draw_text(cv, 10, 10, title, BLACK);
    const char *legend = "mean KL divergence per token (lower is closer to F16);";
    draw_text(cv, 10, 28, legend, GREY);
    int x = 10 + text_width(legend) + 2 * ADVANCE;
    fill_rect(cv, x, 28, 7, 7, BLUE);
    draw_text(cv, x + 10, 28, "rotation on", BLUE);
    x += 10 + text_width("rotation on") + 2 * ADVANCE;
    fill_rect(cv, x, 28, 7, 7, ORANGE);
    draw_text(cv, x + 10, 28, "rotation off", ORANGE);
    fill_rect(cv, left, top + plot_h, cv->w - 20 - left, 1, BLACK); /* x axis */
    fill_rect(cv, left, top, 1, plot_h + 1, BLACK);                 /* y axis */
    fill_rect(cv, left - 3, top, 3, 1, BLACK);
    snprintf(num, sizeof num, "%.3g", ch->max);
    draw_text_right(cv, left - 6, top - 3, num, BLACK);
    draw_text_right(cv, left - 6, top + plot_h - 3, "0", BLACK);
    int on_label_y = 0, on_label_right = -1; /* the rotation-on value label of the current group */
    for (size_t i = 0; i < n_results; i++) {
        const struct kv_quality *q = &results[i];
        int bx = kv_chart_bar_x(ch, i, q->rotation);
        if (q->rotation) {
            draw_text_centered(cv, bx + bar_w, top + plot_h + 8, q->config->label, BLACK);
        }
        if (q->skipped) {
            draw_text_centered(cv, bx + bar_w / 2, top + plot_h - 10, "n/a", GREY);
            continue;
        }
        int h = kv_chart_bar_h(ch, q->kld);
        fill_rect(cv, bx, top + plot_h - h, bar_w, h, q->rotation ? BLUE : ORANGE);
        snprintf(num, sizeof num, "%.2g", q->kld);
        int ly = top + plot_h - h - 10, lx = bx + bar_w / 2 - text_width(num) / 2;
        if (q->rotation) {
            on_label_y = ly;
            on_label_right = lx + text_width(num);
        } else if (i > 0 && results[i - 1].rotation && !results[i - 1].skipped && lx <= on_label_right + 2 &&
                   abs(ly - on_label_y) < GLYPH_H + DESCENT + 1) {
            ly = (ly < on_label_y ? ly : on_label_y) - (GLYPH_H + DESCENT + 1); /* above the neighbour's label */
        }
        draw_text(cv, lx, ly, num, BLACK);
    }
}

bool kv_plot_png(const struct cli_common *c, const char *path, const char *title, const struct kv_quality *results,
                 size_t n_results) {
    struct kv_chart ch;
    kv_chart_layout(results, n_results, &ch);
    if (ch.groups > KV_MAX_CONFIGS) {
        cli_error(c, "cannot plot %zu configurations (at most %d)", ch.groups, KV_MAX_CONFIGS);
        return false;
    }
    int width = ch.width, height = ch.height;
    if (width < 20 + text_width(title)) {
        width = 20 + text_width(title) > 4096 ? 4096 : 20 + text_width(title); /* beyond 4096 pixels it is clipped */
    }
    struct canvas cv = { width, height, malloc((size_t)width * (size_t)height * 3) };
    FILE *f = NULL;
    bool ok = false;
    if (!cv.px) {
        cli_error(c, "out of memory drawing '%s'", path);
        goto done;
    }
    draw_chart(&cv, title, results, n_results, &ch);
    f = fopen(path, "wb");
    if (!f) {
        cli_error(c, "cannot write '%s'", path);
        goto done;
    }
    ok = write_png(&cv, f);
    if (fclose(f) != 0) {
        ok = false;
    }
    if (!ok) {
        cli_error(c, "cannot write '%s'", path);
    }
done:
    free(cv.px);
    return ok;
}
