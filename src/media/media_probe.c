/*
 * media_probe.c - which image or audio format a buffer holds, and what its header says, before anything decodes it.
 *
 * libmtmd's helper decides between audio (by magic bytes) and image (whatever stb_image can decode), and hands
 * anything else to ffprobe when it was built with video support; stb_image sizes its buffer from the header, so a
 * small file can ask for gigabytes. So llamac lets through only the formats it recognises here (PNG, baseline and
 * progressive JPEG, GIF, BMP; WAV, MP3, FLAC, detected exactly as libmtmd detects audio), reads each image's width
 * and height from its header for the caller to cap, and each audio file's duration where the header records it (WAV,
 * FLAC) or allows an estimate (MP3: its first frame's bit rate). Every read is bounds-checked against the buffer.
 */
#include "media/media_internal.h"

#include <string.h>

static uint32_t be16(const unsigned char *p) {
    return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t le16(const unsigned char *p) {
    return (uint32_t)p[1] << 8 | p[0];
}

static uint32_t le32(const unsigned char *p) {
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static llamac_status truncated(const char *format, size_t len) {
    return llamac__fail(LLAMAC_E_MEDIA, "the %s header is cut short (the data is %zu bytes)", format, len);
}

/* PNG: the signature, then the IHDR chunk with width and height. */
static llamac_status probe_png(const unsigned char *b, size_t len, struct llamac__media_probe *out) {
    if (len < 24) {
        return truncated("PNG", len);
    }
    if (memcmp(b + 12, "IHDR", 4) != 0) {
        return llamac__fail(LLAMAC_E_MEDIA, "the PNG data does not start with its IHDR chunk");
    }
    out->width = be32(b + 16);
    out->height = be32(b + 20);
    return LLAMAC_OK;
}

/* JPEG: markers up to the start-of-frame, which holds the size. stb_image decodes baseline, extended and progressive
 * Huffman frames (SOF0-SOF2); other frames (lossless, arithmetic coding) are refused here. */
static llamac_status probe_jpeg(const unsigned char *b, size_t len, struct llamac__media_probe *out) {
    size_t i = 2;
    for (;;) {
        if (i < len && b[i] != 0xFF) {
            return llamac__fail(LLAMAC_E_MEDIA, "the JPEG data has no marker at byte %zu", i);
        }
        while (i < len && b[i] == 0xFF) { /* a marker, after any fill bytes */
            i++;
        }
        if (i >= len) {
            return truncated("JPEG", len);
        }
        unsigned m = b[i++];
        if (m == 0x01 || (m >= 0xD0 && m <= 0xD7)) {
            continue; /* markers without a length */
        }
        if (m == 0xD9 || m == 0xDA) {
            return llamac__fail(LLAMAC_E_MEDIA, "the JPEG data has no frame header before its %s",
                                m == 0xD9 ? "end" : "image data");
        }
        if (i + 2 > len) {
            return truncated("JPEG", len);
        }
        size_t seg = be16(b + i);
        if (seg < 2 || i + seg > len) {
            return truncated("JPEG", len);
        }
        if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
            if (m > 0xC2) {
                return llamac__fail(
                    LLAMAC_E_MEDIA,
                    "the JPEG is a kind that cannot be decoded (frame type SOF%u: lossless or arithmetic "
                    "coding; baseline and progressive JPEGs are accepted)",
                    m - 0xC0);
            }
            if (seg < 8) {
                return truncated("JPEG", len);
            }
            out->height = be16(b + i + 3);
            out->width = be16(b + i + 5);
            return LLAMAC_OK;
        }
        i += seg;
    }
}

/* GIF: the logical screen size. */
static llamac_status probe_gif(const unsigned char *b, size_t len, struct llamac__media_probe *out) {
    if (len < 10) {
        return truncated("GIF", len);
    }
    out->width = le16(b + 6);
    out->height = le16(b + 8);
    return LLAMAC_OK;
}

/* BMP: the DIB header (OS/2's 12-byte one with 16-bit sizes, or a Windows one with signed 32-bit sizes, a negative
 * height meaning top-down rows). */
static llamac_status probe_bmp(const unsigned char *b, size_t len, struct llamac__media_probe *out) {
    if (len < 26) {
        return truncated("BMP", len);
    }
    uint32_t dib = le32(b + 14);
    if (dib == 12) {
        out->width = le16(b + 18);
        out->height = le16(b + 20);
        return LLAMAC_OK;
    }
    int32_t w = (int32_t)le32(b + 18), h = (int32_t)le32(b + 22);
    if (w < 0 || h == INT32_MIN) {
        return llamac__fail(LLAMAC_E_MEDIA, "the BMP header gives an invalid size (%d x %d)", w, h);
    }
    out->width = (uint32_t)w;
    out->height = (uint32_t)(h < 0 ? -h : h);
    return LLAMAC_OK;
}

/* WAV: the "fmt " chunk must describe a sample encoding that libmtmd's decoder (miniaudio) reads, and a "data" chunk
 * with a whole frame at least must follow it; the duration comes from the two. Compressed encodings (MS and IMA ADPCM,
 * GSM, ...) are refused: miniaudio leaks its decoder when one of those fails to open (a 16-byte "fmt " chunk without
 * the ADPCM coefficients, data shorter than a block), and audio for a model is PCM or float in practice. */
static llamac_status probe_wav(const unsigned char *b, size_t len, struct llamac__media_probe *out) {
    uint32_t rate = 0, block = 0;
    for (size_t i = 12; i + 8 <= len;) {
        uint32_t size = le32(b + i + 4);
        if (memcmp(b + i, "fmt ", 4) == 0) {
            if (size < 16 || i + 8 + 16 > len) {
                return llamac__fail(LLAMAC_E_MEDIA, "the WAV's \"fmt \" chunk is %u bytes (at least 16 needed)", size);
            }
            const unsigned char *f = b + i + 8;
            uint32_t tag = le16(f), channels = le16(f + 2), bits = le16(f + 14);
            if (tag == 0xFFFE && size >= 40 && i + 8 + 40 <= len) {
                tag = le16(f + 24); /* WAVE_FORMAT_EXTENSIBLE: the sub-format GUID's first two bytes */
            }
            rate = le32(f + 4);
            block = le16(f + 12);
            bool pcm = tag == 1 && (bits == 8 || bits == 16 || bits == 24 || bits == 32);
            bool flt = tag == 3 && (bits == 32 || bits == 64);
            bool law = (tag == 6 || tag == 7) && bits == 8; /* A-law, mu-law */
            if (!pcm && !flt && !law) {
                return llamac__fail(LLAMAC_E_MEDIA,
                                    "the WAV's encoding (format tag 0x%04x, %u bits) is not accepted: WAV audio must "
                                    "be PCM (8, 16, 24 or 32 bits), float (32 or 64 bits), A-law or mu-law",
                                    tag, bits);
            }
            if (channels == 0 || rate == 0 || block != channels * (bits / 8)) {
                return llamac__fail(LLAMAC_E_MEDIA,
                                    "the WAV's \"fmt \" chunk is inconsistent (%u channels, %u Hz, %u-byte frames "
                                    "of %u-bit samples)",
                                    channels, rate, block, bits);
            }
        } else if (memcmp(b + i, "data", 4) == 0) {
            if (block == 0) {
                return llamac__fail(LLAMAC_E_MEDIA, "the WAV's \"data\" chunk comes before its \"fmt \" chunk");
            }
            size_t held = len - (i + 8) < size ? len - (i + 8) : size;
            if (held < block) {
                return llamac__fail(LLAMAC_E_MEDIA, "the WAV holds %zu bytes of samples, less than one %u-byte frame",
                                    held, block);
            }
            out->seconds = (double)size / block / rate;
            return LLAMAC_OK;
        }
        if ((uint64_t)i + 8 + size + (size & 1) > len) {
            break;
        }
        i += 8 + (size_t)size + (size & 1);
    }
    return llamac__fail(LLAMAC_E_MEDIA, block ? "the WAV has no \"data\" chunk" : "the WAV has no \"fmt \" chunk");
}

/* FLAC: STREAMINFO's sample rate and total samples (0: unknown). */
static void probe_flac(const unsigned char *b, size_t len, struct llamac__media_probe *out) {
    if (len < 8 + 18 || (b[4] & 0x7F) != 0) {
        return;
    }
    const unsigned char *si = b + 8;
    uint32_t rate = (uint32_t)si[10] << 12 | (uint32_t)si[11] << 4 | si[12] >> 4;
    uint64_t total = (uint64_t)(si[13] & 0x0F) << 32 | be32(si + 14);
    if (rate > 0 && total > 0) {
        out->seconds = (double)total / rate;
    }
}

/* MP3: an estimate from the first frame's bit rate (after any ID3v2 tag), as if the whole file were at that rate. */
static void probe_mp3(const unsigned char *b, size_t len, struct llamac__media_probe *out) {
    static const uint16_t kbps_v1_l3[16] = { 0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0 };
    static const uint16_t kbps_v2_l3[16] = { 0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0 };
    size_t i = 0;
    if (len >= 10 && memcmp(b, "ID3", 3) == 0) {
        i = 10 +
            ((size_t)(b[6] & 0x7F) << 21 | (size_t)(b[7] & 0x7F) << 14 | (size_t)(b[8] & 0x7F) << 7 | (b[9] & 0x7F));
    }
    if (i + 4 > len || b[i] != 0xFF || (b[i + 1] & 0xE0) != 0xE0) {
        return;
    }
    unsigned version = (b[i + 1] >> 3) & 3, layer = (b[i + 1] >> 1) & 3, index = b[i + 2] >> 4;
    if (layer != 1 || version == 1) { /* layer III only; version 1 is reserved */
        return;
    }
    unsigned kbps = version == 3 ? kbps_v1_l3[index] : kbps_v2_l3[index];
    if (kbps > 0) {
        out->seconds = (double)(len - i) * 8.0 / (kbps * 1000.0);
    }
}

llamac_status llamac__media_probe(const unsigned char *b, size_t len, struct llamac__media_probe *out) {
    memset(out, 0, sizeof *out);
    out->seconds = -1;
    if (len == 0) {
        return llamac__fail(LLAMAC_E_MEDIA, "the media data is empty");
    }
    /* Audio first, with libmtmd's own test: a buffer it takes for audio never reaches its image path. */
    if (len >= 12) {
        if (memcmp(b, "RIFF", 4) == 0 && memcmp(b + 8, "WAVE", 4) == 0) {
            *out = (struct llamac__media_probe){ LLAMAC__FMT_WAV, "wav", true, 0, 0, -1 };
            return probe_wav(b, len, out);
        }
        if (memcmp(b, "ID3", 3) == 0 || (b[0] == 0xFF && (b[1] & 0xE0) == 0xE0)) {
            *out = (struct llamac__media_probe){ LLAMAC__FMT_MP3, "mp3", true, 0, 0, -1 };
            probe_mp3(b, len, out);
            return LLAMAC_OK;
        }
        if (memcmp(b, "fLaC", 4) == 0) {
            *out = (struct llamac__media_probe){ LLAMAC__FMT_FLAC, "flac", true, 0, 0, -1 };
            probe_flac(b, len, out);
            return LLAMAC_OK;
        }
        if (memcmp(b, "RIFF", 4) == 0 && memcmp(b + 8, "WEBP", 4) == 0) {
            return llamac__fail(LLAMAC_E_MEDIA, "WebP images are not accepted (libmtmd decodes them only through "
                                                "ffmpeg); accepted images: PNG, JPEG, GIF, BMP");
        }
    }
    llamac_status st;
    if (len >= 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0) {
        out->format = LLAMAC__FMT_PNG;
        out->name = "png";
        st = probe_png(b, len, out);
    } else if (len >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) {
        out->format = LLAMAC__FMT_JPEG;
        out->name = "jpeg";
        st = probe_jpeg(b, len, out);
    } else if (len >= 6 && (memcmp(b, "GIF87a", 6) == 0 || memcmp(b, "GIF89a", 6) == 0)) {
        out->format = LLAMAC__FMT_GIF;
        out->name = "gif";
        st = probe_gif(b, len, out);
    } else if (len >= 2 && b[0] == 'B' && b[1] == 'M') {
        out->format = LLAMAC__FMT_BMP;
        out->name = "bmp";
        st = probe_bmp(b, len, out);
    } else {
        return llamac__fail(LLAMAC_E_MEDIA,
                            "the data (%zu bytes, starting %02x %02x %02x %02x) is not an accepted image or audio "
                            "format: PNG, JPEG, GIF, BMP; WAV, MP3, FLAC",
                            len, b[0], len > 1 ? b[1] : 0, len > 2 ? b[2] : 0, len > 3 ? b[3] : 0);
    }
    if (st == LLAMAC_OK && (out->width == 0 || out->height == 0)) {
        st = llamac__fail(LLAMAC_E_MEDIA, "the %s header gives an empty image (%u x %u)", out->name, out->width,
                          out->height);
    }
    return st;
}
