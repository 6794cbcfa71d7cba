/*
 * media_guard.cpp - libmtmd's calls with their C++ exceptions caught, so that none reaches llamac's C code.
 *
 * One pattern throughout: run the call inside try, and turn std::bad_alloc / std::length_error into "no memory" and
 * any other exception into its text. Where libmtmd's helper could fall through to its video path (a buffer stb_image
 * cannot decode is handed to ffprobe when libmtmd was built with video support), the ffmpeg directory is set to one
 * that holds no program: llamac only passes formats it has recognised, and this closes the path for the rest.
 */
#include "media_guard.h"

#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <stdexcept>

/* A directory that cannot hold an ffmpeg: starting a program from it fails at once (ENOTDIR). */
static const char no_ffmpeg_dir[] = "/dev/null/llamac-no-video";

static void set_ok(llamac__guard *g) {
    g->kind = LLAMAC__GUARD_OK;
    g->code = 0;
    g->what[0] = '\0';
}

static void set_failed(llamac__guard *g, int code) {
    g->kind = LLAMAC__GUARD_FAILED;
    g->code = code;
}

static void set_exception(llamac__guard *g, llamac__guard_kind kind, const char *what) {
    g->kind = kind;
    g->code = -1;
    std::snprintf(g->what, sizeof g->what, "%s", what);
}

/* Runs f() and records what it threw. */
template <typename F> static void guarded(llamac__guard *g, F f) {
    set_ok(g);
    try {
        f();
    } catch (const std::bad_alloc &e) {
        set_exception(g, LLAMAC__GUARD_NO_MEMORY, e.what());
    } catch (const std::length_error &e) {
        set_exception(g, LLAMAC__GUARD_NO_MEMORY, e.what());
    } catch (const std::exception &e) {
        set_exception(g, LLAMAC__GUARD_EXCEPTION, e.what());
    } catch (...) {
        set_exception(g, LLAMAC__GUARD_EXCEPTION, "unknown exception");
    }
}

extern "C" mtmd_context *llamac__mtmd_init(const char *path, const struct llama_model *model,
                                           struct mtmd_context_params params, llamac__guard *g) {
    mtmd_context *ctx = nullptr;
    guarded(g, [&] { ctx = mtmd_init_from_file(path, model, params); });
    if (!ctx && g->kind == LLAMAC__GUARD_OK) {
        set_failed(g, 1);
    }
    return ctx;
}

extern "C" mtmd_bitmap *llamac__mtmd_bitmap_from_buf(const mtmd_context *ctx, const unsigned char *buf, size_t len,
                                                     llamac__guard *g) {
    mtmd_helper_bitmap_wrapper w = { nullptr, nullptr };
    guarded(g, [&] {
        mtmd_helper_init_opt opt = mtmd_helper_init_opt_default();
        opt.video_params.ffmpeg_bin_dir = no_ffmpeg_dir;
        w = mtmd_helper_bitmap_init_from_buf(ctx, buf, len, false, opt);
    });
    if (w.video_ctx) {
        /* A video: never asked for (the format was checked), never kept. */
        mtmd_helper_video_free(w.video_ctx);
        mtmd_bitmap_free(w.bitmap);
        w.bitmap = nullptr;
    }
    if (!w.bitmap && g->kind == LLAMAC__GUARD_OK) {
        set_failed(g, 1);
    }
    return w.bitmap;
}

extern "C" mtmd_bitmap *llamac__mtmd_bitmap_rgb(uint32_t nx, uint32_t ny, const unsigned char *rgb, llamac__guard *g) {
    mtmd_bitmap *b = nullptr;
    guarded(g, [&] { b = mtmd_bitmap_init(nx, ny, rgb); });
    if (!b && g->kind == LLAMAC__GUARD_OK) {
        set_failed(g, 1);
    }
    return b;
}

extern "C" mtmd_bitmap *llamac__mtmd_bitmap_pcm(size_t n, const float *samples, llamac__guard *g) {
    mtmd_bitmap *b = nullptr;
    guarded(g, [&] { b = mtmd_bitmap_init_from_audio(n, samples); });
    if (!b && g->kind == LLAMAC__GUARD_OK) {
        set_failed(g, 1);
    }
    return b;
}

extern "C" bool llamac__mtmd_bitmap_set_id(mtmd_bitmap *bitmap, const char *id, llamac__guard *g) {
    guarded(g, [&] { mtmd_bitmap_set_id(bitmap, id); });
    return g->kind == LLAMAC__GUARD_OK;
}

extern "C" int32_t llamac__mtmd_tokenize(const mtmd_context *ctx, mtmd_input_chunks *out,
                                         const mtmd_input_part *const *parts, size_t n_parts, bool add_special,
                                         llamac__guard *g) {
    int32_t rc = -1;
    guarded(g, [&] { rc = mtmd_tokenize_from_parts(ctx, out, parts, n_parts, add_special); });
    if (rc != 0 && g->kind == LLAMAC__GUARD_OK) {
        set_failed(g, rc);
    }
    return rc;
}

extern "C" bool llamac__mtmd_encode(mtmd_context *ctx, const mtmd_input_chunk *chunk, float *out, size_t n_floats,
                                    llamac__guard *g) {
    int32_t rc = -1;
    guarded(g, [&] {
        rc = mtmd_encode_chunk(ctx, chunk);
        if (rc == 0) {
            std::memcpy(out, mtmd_get_output_embd(ctx), n_floats * sizeof(float));
        }
    });
    if (rc != 0 && g->kind == LLAMAC__GUARD_OK) {
        set_failed(g, rc);
    }
    return g->kind == LLAMAC__GUARD_OK;
}

extern "C" bool llamac__mtmd_decode_media(mtmd_context *ctx, struct llama_context *lctx, const mtmd_input_chunk *chunk,
                                          float *embd, llama_pos n_past, llama_seq_id seq, int32_t n_batch,
                                          llama_pos *new_n_past, llamac__guard *g) {
    int32_t rc = -1;
    guarded(g, [&] {
        rc = mtmd_helper_decode_image_chunk(ctx, lctx, chunk, embd, n_past, seq, n_batch, new_n_past, nullptr, nullptr);
    });
    if (rc != 0 && g->kind == LLAMAC__GUARD_OK) {
        set_failed(g, rc);
    }
    return g->kind == LLAMAC__GUARD_OK;
}

extern "C" mtmd_input_chunk *llamac__mtmd_chunk_copy(const mtmd_input_chunk *chunk, llamac__guard *g) {
    mtmd_input_chunk *c = nullptr;
    guarded(g, [&] { c = mtmd_input_chunk_copy(chunk); });
    if (!c && g->kind == LLAMAC__GUARD_OK) {
        set_failed(g, 1);
    }
    return c;
}
