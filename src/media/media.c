/*
 * media.c - images and audio decoded for a projector: from a file, a buffer, RGB pixels or PCM samples.
 *
 * Before libmtmd's helper sees a buffer, the buffer is recognised and its header read (media_probe.c): only the
 * accepted formats get through, an image too large for the projector's limits is refused without being decoded, and
 * audio whose header gives a duration past the limit likewise. After decoding, audio is checked again (libmtmd
 * asserts on a single sample; llamac asks for at least 10 ms). The id of a medium is the sha256 of its input bytes,
 * which libmtmd's helper computes for files and buffers and llamac computes for raw pixels and samples.
 */
#include "media/media_internal.h"

#include "hub/hub_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIN_AUDIO_MS 10

static llamac_status guard_status(const struct llamac__guard *g, const char *what) {
    if (g->kind == LLAMAC__GUARD_NO_MEMORY) {
        return llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory %s", what);
    }
    return llamac__fail(LLAMAC_E_INTERNAL, "libmtmd failed %s: %s", what, g->what[0] ? g->what : "no reason given");
}

static llamac_status check_image_size(const llamac_mmproj *proj, uint64_t nx, uint64_t ny, const char *what) {
    if (nx == 0 || ny == 0) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "%s is empty (%llu x %llu)", what, (unsigned long long)nx,
                            (unsigned long long)ny);
    }
    if (nx > proj->max_image_side || ny > proj->max_image_side) {
        return llamac__fail(LLAMAC_E_MEDIA, "%s is %llu x %llu pixels; the largest side accepted is %u", what,
                            (unsigned long long)nx, (unsigned long long)ny, proj->max_image_side);
    }
    if (nx * ny > proj->max_image_pixels) {
        return llamac__fail(LLAMAC_E_MEDIA, "%s is %llu x %llu = %llu pixels; at most %llu are accepted", what,
                            (unsigned long long)nx, (unsigned long long)ny, (unsigned long long)(nx * ny),
                            (unsigned long long)proj->max_image_pixels);
    }
    return LLAMAC_OK;
}

static llamac_status check_audio_length(const llamac_mmproj *proj, uint64_t n, const char *what) {
    const int32_t rate = proj->info.audio_sample_rate;
    uint64_t min = (uint64_t)rate * MIN_AUDIO_MS / 1000;
    if (n < (min > 2 ? min : 2)) {
        return llamac__fail(LLAMAC_E_MEDIA, "%s is %llu samples (%.2f ms at %d Hz); at least %d ms are needed", what,
                            (unsigned long long)n, (double)n * 1000.0 / rate, rate, MIN_AUDIO_MS);
    }
    if ((double)n / rate > proj->max_audio_seconds) {
        return llamac__fail(LLAMAC_E_MEDIA, "%s lasts %.1f s; at most %g s are accepted", what, (double)n / rate,
                            proj->max_audio_seconds);
    }
    return LLAMAC_OK;
}

static llamac_status check_modality(const llamac_mmproj *proj, bool audio) {
    if (audio && !proj->info.audio) {
        return llamac__fail(LLAMAC_E_UNSUPPORTED, "the projector takes no audio (it has no audio encoder)");
    }
    if (!audio && !proj->info.vision) {
        return llamac__fail(LLAMAC_E_UNSUPPORTED, "the projector takes no images (it has no vision encoder)");
    }
    return LLAMAC_OK;
}

/* Wraps a bitmap into a medium; takes the bitmap in every case. */
static llamac_status make_media(llamac_mmproj *proj, mtmd_bitmap *bitmap, const char *format, llamac_media **out) {
    llamac_media *m = llamac__calloc(1, sizeof *m);
    if (!m) {
        mtmd_bitmap_free(bitmap);
        return LLAMAC_E_NO_MEMORY;
    }
    atomic_init(&m->refs, 1);
    m->bitmap = bitmap;
    const char *id = mtmd_bitmap_get_id(bitmap);
    snprintf(m->id, sizeof m->id, "%s", id ? id : "");
    bool audio = mtmd_bitmap_is_audio(bitmap);
    m->info.type = audio ? LLAMAC_MEDIA_AUDIO : LLAMAC_MEDIA_IMAGE;
    if (audio) {
        m->info.n_samples = mtmd_bitmap_get_nx(bitmap);
        m->info.sample_rate = proj->info.audio_sample_rate;
    } else {
        m->info.nx = mtmd_bitmap_get_nx(bitmap);
        m->info.ny = mtmd_bitmap_get_ny(bitmap);
    }
    m->info.id = m->id;
    m->info.format = format;
    *out = m;
    return llamac__ok();
}

llamac_status llamac_media_from_buffer(llamac_mmproj *proj, const void *data, size_t len, llamac_media **out) {
    if (out) {
        *out = NULL;
    }
    if (!proj || !out || (!data && len > 0)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_media_from_buffer: NULL argument");
    }
    if (len > proj->max_media_bytes) {
        return llamac__fail(LLAMAC_E_MEDIA, "the media data is %zu bytes; at most %llu are accepted", len,
                            (unsigned long long)proj->max_media_bytes);
    }
    struct llamac__media_probe probe;
    llamac_status st = llamac__media_probe(data, len, &probe);
    if (st != LLAMAC_OK || (st = check_modality(proj, probe.audio)) != LLAMAC_OK) {
        return st;
    }
    char what[64];
    snprintf(what, sizeof what, "the %s %s", probe.name, probe.audio ? "audio" : "image");
    if (!probe.audio && (st = check_image_size(proj, probe.width, probe.height, what)) != LLAMAC_OK) {
        return st;
    }
    if (probe.audio && probe.seconds > proj->max_audio_seconds) {
        return llamac__fail(LLAMAC_E_MEDIA, "%s lasts %.1f s by its header; at most %g s are accepted", what,
                            probe.seconds, proj->max_audio_seconds);
    }
    struct llamac__guard g;
    llamac__capture_begin();
    mtmd_bitmap *b = llamac__mtmd_bitmap_from_buf(proj->mctx, data, len, &g);
    const char *why = llamac__capture_end();
    if (!b) {
        if (g.kind != LLAMAC__GUARD_FAILED) {
            return guard_status(&g, "decoding the media");
        }
        return llamac__fail(LLAMAC_E_MEDIA, "%s cannot be decoded%s%s", what, why[0] ? ": " : "", why);
    }
    if (probe.audio && (st = check_audio_length(proj, mtmd_bitmap_get_nx(b), what)) != LLAMAC_OK) {
        mtmd_bitmap_free(b);
        return st;
    }
    return make_media(proj, b, probe.name, out);
}

/* Reads a whole regular file of at most `max` bytes. */
static llamac_status read_file(const char *path, uint64_t max, unsigned char **data, size_t *len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return llamac__fail(LLAMAC_E_IO, "cannot open media file '%s': %s", path, strerror(errno));
    }
    struct stat sb;
    llamac_status st = LLAMAC_OK;
    unsigned char *buf = NULL;
    if (fstat(fd, &sb) != 0) {
        st = llamac__fail(LLAMAC_E_IO, "cannot read media file '%s': %s", path, strerror(errno));
    } else if (S_ISDIR(sb.st_mode)) {
        st = llamac__fail(LLAMAC_E_IO, "cannot read media file '%s': it is a directory", path);
    } else if (!S_ISREG(sb.st_mode)) {
        st = llamac__fail(LLAMAC_E_IO, "cannot read media file '%s': not a regular file", path);
    } else if ((uint64_t)sb.st_size > max) {
        st = llamac__fail(LLAMAC_E_MEDIA, "media file '%s' is %lld bytes; at most %llu are accepted", path,
                          (long long)sb.st_size, (unsigned long long)max);
    } else if (!(buf = llamac__malloc(sb.st_size > 0 ? (size_t)sb.st_size : 1))) {
        st = LLAMAC_E_NO_MEMORY;
    }
    size_t got = 0;
    while (st == LLAMAC_OK && got < (size_t)sb.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            st = llamac__fail(LLAMAC_E_IO, "cannot read media file '%s': %s", path,
                              n < 0 ? strerror(errno)
                                    : "it "
                                      "shrank");
        } else {
            got += (size_t)n;
        }
    }
    close(fd);
    if (st != LLAMAC_OK) {
        free(buf);
        return st;
    }
    *data = buf;
    *len = got;
    return LLAMAC_OK;
}

llamac_status llamac_media_from_file(llamac_mmproj *proj, const char *path, llamac_media **out) {
    if (out) {
        *out = NULL;
    }
    if (!proj || !path || !out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_media_from_file: NULL argument");
    }
    unsigned char *data = NULL;
    size_t len = 0;
    llamac_status st = read_file(path, proj->max_media_bytes, &data, &len);
    if (st != LLAMAC_OK) {
        return st;
    }
    st = llamac_media_from_buffer(proj, data, len, out);
    if (st != LLAMAC_OK) {
        /* The buffer's message, with the file named. */
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", llamac_last_error());
        llamac__fail(st, "'%s': %s", path, msg);
    }
    free(data);
    return st;
}

/* Sets the id of a bitmap made from raw data: the sha256 of that data. */
static llamac_status set_id(mtmd_bitmap *b, const void *data, size_t len) {
    char hex[65];
    hub__sha256(data, len, hex);
    struct llamac__guard g;
    return llamac__mtmd_bitmap_set_id(b, hex, &g) ? LLAMAC_OK : guard_status(&g, "setting a media id");
}

llamac_status llamac_media_from_rgb(llamac_mmproj *proj, uint32_t nx, uint32_t ny, const uint8_t *rgb,
                                    llamac_media **out) {
    if (out) {
        *out = NULL;
    }
    if (!proj || !rgb || !out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_media_from_rgb: NULL argument");
    }
    llamac_status st = check_modality(proj, false);
    if (st == LLAMAC_OK) {
        st = check_image_size(proj, nx, ny, "the image");
    }
    if (st != LLAMAC_OK) {
        return st;
    }
    struct llamac__guard g;
    mtmd_bitmap *b = llamac__mtmd_bitmap_rgb(nx, ny, rgb, &g);
    if (!b) {
        return guard_status(&g, "copying the image");
    }
    if ((st = set_id(b, rgb, (size_t)nx * ny * 3)) != LLAMAC_OK) {
        mtmd_bitmap_free(b);
        return st;
    }
    return make_media(proj, b, "rgb", out);
}

llamac_status llamac_media_from_pcm(llamac_mmproj *proj, const float *samples, size_t n, llamac_media **out) {
    if (out) {
        *out = NULL;
    }
    if (!proj || !samples || !out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_media_from_pcm: NULL argument");
    }
    llamac_status st = check_modality(proj, true);
    if (st == LLAMAC_OK) {
        st = check_audio_length(proj, n, "the audio");
    }
    for (size_t i = 0; st == LLAMAC_OK && i < n; i++) {
        if (!isfinite(samples[i])) {
            st = llamac__fail(LLAMAC_E_MEDIA, "audio sample %zu is not a finite number", i);
        }
    }
    if (st != LLAMAC_OK) {
        return st;
    }
    struct llamac__guard g;
    mtmd_bitmap *b = llamac__mtmd_bitmap_pcm(n, samples, &g);
    if (!b) {
        return guard_status(&g, "copying the audio");
    }
    if ((st = set_id(b, samples, n * sizeof *samples)) != LLAMAC_OK) {
        mtmd_bitmap_free(b);
        return st;
    }
    return make_media(proj, b, "pcm", out);
}

void llamac__media_ref(llamac_media *media) {
    atomic_fetch_add(&media->refs, 1);
}

void llamac_media_free(llamac_media *media) {
    if (!media || atomic_fetch_sub(&media->refs, 1) != 1) {
        return;
    }
    mtmd_bitmap_free(media->bitmap);
    free(media);
}

llamac_status llamac_media_get_info(const llamac_media *media, llamac_media_info *out) {
    if (!media || !out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_media_get_info: NULL argument");
    }
    *out = media->info;
    return llamac__ok();
}
