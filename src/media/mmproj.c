/*
 * mmproj.c - loading a multimodal projector for a model: parameters, the pre-check, libmtmd's context, its facts.
 *
 * The file is checked (mmproj_check.c) before libmtmd opens it, libmtmd's log is routed into llamac's (libmtmd
 * prints to stderr otherwise, and its reason for refusing a file only goes there), and its context is created with
 * exceptions caught. The projector holds a reference to its model, because libmtmd keeps the model's vocabulary,
 * and is itself reference-counted, so that chunks and chat sessions can outlive the caller's handle.
 */
#include "media/media_internal.h"

#include <stdlib.h>
#include <string.h>

static pthread_once_t log_once = PTHREAD_ONCE_INIT;

static void route_log(void) {
    mtmd_helper_log_set(llamac__llama_log, NULL); /* also libmtmd's own (mtmd_log_set) */
}

static void fill_info(llamac_mmproj *proj) {
    llamac_mmproj_info *i = &proj->info;
    i->vision = mtmd_support_vision(proj->mctx);
    i->audio = mtmd_support_audio(proj->mctx);
    int rate = mtmd_get_audio_sample_rate(proj->mctx);
    i->audio_sample_rate = rate > 0 ? rate : 0;
    i->n_embd = proj->model->info.n_embd;
    i->mrope = mtmd_decode_use_mrope(proj->mctx);
    i->non_causal = i->vision && mtmd_decode_use_non_causal(proj->mctx, NULL);
    i->vision_projector = proj->vision_projector[0] ? proj->vision_projector : NULL;
    i->audio_projector = proj->audio_projector[0] ? proj->audio_projector : NULL;
    i->marker = proj->marker;
}

llamac_status llamac_mmproj_load(llamac_model *model, const char *path, const llamac_mmproj_params *params,
                                 llamac_mmproj **out) {
    if (out) {
        *out = NULL;
    }
    if (!model || !path || !out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_mmproj_load: NULL argument");
    }
    llamac_mmproj_params defaults = llamac_mmproj_params_default();
    const llamac_mmproj_params *p = params ? params : &defaults;
    llamac_status st = llamac__mmproj_check_params(p);
    if (st != LLAMAC_OK) {
        return st;
    }
    if (model->info.vocab_only) {
        return llamac__fail(LLAMAC_E_UNSUPPORTED, "a vocab-only model has no embeddings for a projector to feed");
    }
    struct llamac__mmproj_facts facts;
    if ((st = llamac__mmproj_check(path, model->info.n_embd, &facts)) != LLAMAC_OK) {
        return st;
    }
    llamac_mmproj *proj = llamac__calloc(1, sizeof *proj);
    if (!proj) {
        return LLAMAC_E_NO_MEMORY;
    }
    atomic_init(&proj->refs, 1);
    pthread_mutex_init(&proj->encode_lock, NULL);
    proj->model = model;
    llamac__model_ref(model);
    proj->max_image_side = p->max_image_side;
    proj->max_image_pixels = p->max_image_pixels;
    proj->max_media_bytes = p->max_media_bytes;
    proj->max_audio_seconds = p->max_audio_seconds;
    memcpy(proj->vision_projector, facts.vision_projector, sizeof proj->vision_projector);
    memcpy(proj->audio_projector, facts.audio_projector, sizeof proj->audio_projector);
    const char *marker = p->marker ? p->marker : mtmd_default_marker();
    if (!(proj->marker = llamac__strndup(marker, strlen(marker)))) {
        st = LLAMAC_E_NO_MEMORY;
        goto fail;
    }

    llamac__backend_ensure();
    pthread_once(&log_once, route_log);
    struct mtmd_context_params mp = mtmd_context_params_default();
    mp.use_gpu =
        p->offload == LLAMAC_MMPROJ_OFFLOAD_ON || (p->offload == LLAMAC_MMPROJ_OFFLOAD_AUTO && !model->cpu_only);
    mp.print_timings = false;
    mp.n_threads = p->n_threads ? p->n_threads : llamac_physical_cores();
    mp.media_marker = proj->marker;
    mp.flash_attn_type = (enum llama_flash_attn_type)p->flash_attn;
    mp.warmup = p->warmup;
    mp.image_min_tokens = p->image_min_tokens;
    mp.image_max_tokens = p->image_max_tokens;
    if (p->batch_max_tokens > 0) {
        mp.batch_max_tokens = p->batch_max_tokens;
    }
    struct llamac__progress relay = { p->progress, p->progress_user_data, false };
    if (p->progress) {
        mp.progress_callback = llamac__progress_relay;
        mp.progress_callback_user_data = &relay;
    }
    struct llamac__guard g;
    llamac__capture_begin();
    proj->mctx = llamac__mtmd_init(path, model->lm, mp, &g);
    const char *why = llamac__capture_end();
    if (!proj->mctx) {
        if (relay.cancelled) {
            st =
                llamac__fail(LLAMAC_E_CANCELLED, "loading projector '%s' was cancelled by the progress callback", path);
        } else if (g.kind == LLAMAC__GUARD_NO_MEMORY) {
            st = llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory loading projector '%s'", path);
        } else {
            st = llamac__fail(LLAMAC_E_MODEL_LOAD, "libmtmd could not load projector '%s': %s", path,
                              g.what[0] ? g.what
                              : why[0]  ? why
                                        : "no reason given");
        }
        goto fail;
    }
    fill_info(proj);
    *out = proj;
    return llamac__ok();
fail:
    llamac__mmproj_unref(proj);
    return st;
}

void llamac__mmproj_ref(llamac_mmproj *proj) {
    atomic_fetch_add(&proj->refs, 1);
}

void llamac__mmproj_unref(llamac_mmproj *proj) {
    if (!proj || atomic_fetch_sub(&proj->refs, 1) != 1) {
        return;
    }
    if (proj->mctx) {
        mtmd_free(proj->mctx);
    }
    pthread_mutex_destroy(&proj->encode_lock);
    llamac__model_unref(proj->model);
    free(proj->marker);
    free(proj);
}

void llamac_mmproj_free(llamac_mmproj *proj) {
    llamac__mmproj_unref(proj);
}

llamac_status llamac_mmproj_get_info(const llamac_mmproj *proj, llamac_mmproj_info *out) {
    if (!proj || !out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_mmproj_get_info: NULL argument");
    }
    *out = proj->info;
    return llamac__ok();
}
