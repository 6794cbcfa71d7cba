/*
 * mmproj_params.c - a projector's parameters: their defaults and their checks, and where its marker occurs in text,
 * the same in every build (a libllamac without libmtmd still answers llamac_mmproj_params_default).
 */
#include "media/media_internal.h"

#include <math.h>
#include <string.h>

#define MAX_MARKER 64

llamac_mmproj_params llamac_mmproj_params_default(void) {
    llamac_mmproj_params p;
    memset(&p, 0, sizeof p);
    p.offload = LLAMAC_MMPROJ_OFFLOAD_AUTO;
    p.flash_attn = LLAMAC_FLASH_ATTN_AUTO;
    p.warmup = true;
    p.max_image_side = 16384;
    p.max_image_pixels = (uint64_t)8192 * 8192;
    p.max_media_bytes = (uint64_t)256 << 20;
    p.max_audio_seconds = 3600;
    return p;
}

llamac_status llamac__mmproj_check_params(const llamac_mmproj_params *p) {
    if ((unsigned)p->offload > LLAMAC_MMPROJ_OFFLOAD_OFF) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "offload %d is not AUTO (0), ON (1) or OFF (2)",
                            (int)p->offload);
    }
    if (p->n_threads < 0 || p->n_threads > 1024) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "n_threads %d must be 0 (auto) to 1024", p->n_threads);
    }
    if (p->flash_attn < LLAMAC_FLASH_ATTN_AUTO || p->flash_attn > LLAMAC_FLASH_ATTN_ON) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "flash_attn %d is not AUTO (-1), OFF (0) or ON (1)",
                            (int)p->flash_attn);
    }
    if (p->marker) {
        size_t n = strlen(p->marker);
        if (n == 0 || n > MAX_MARKER) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "the media marker must be 1 to %d bytes, not %zu",
                                MAX_MARKER, n);
        }
        if (!llamac_utf8_valid(p->marker, n, NULL)) {
            return llamac__fail(LLAMAC_E_UTF8, "the media marker is not valid UTF-8");
        }
    }
    if (p->image_min_tokens < 0 || p->image_max_tokens < 0 || p->batch_max_tokens < 0) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "image_min_tokens %d, image_max_tokens %d and batch_max_tokens %d must be 0 (the "
                            "projector's) or more",
                            p->image_min_tokens, p->image_max_tokens, p->batch_max_tokens);
    }
    if (p->image_min_tokens > 0 && p->image_max_tokens > 0 && p->image_min_tokens > p->image_max_tokens) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "image_min_tokens %d is more than image_max_tokens %d",
                            p->image_min_tokens, p->image_max_tokens);
    }
    if (p->max_image_side == 0 || p->max_image_pixels == 0 || p->max_media_bytes == 0) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "max_image_side, max_image_pixels and max_media_bytes must be more than 0");
    }
    if (!(p->max_audio_seconds > 0) || isinf(p->max_audio_seconds)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "max_audio_seconds %g must be a positive number",
                            p->max_audio_seconds);
    }
    return LLAMAC_OK;
}

size_t llamac__count_marker(const char *text, size_t len, const char *marker, size_t mlen) {
    size_t n = 0;
    for (size_t i = 0; i + mlen <= len;) {
        if (memcmp(text + i, marker, mlen) == 0) {
            n++;
            i += mlen;
        } else {
            i++;
        }
    }
    return n;
}
