/*
 * cli_media.c - the multimodal options, with llama-mtmd-cli's and llama-server's names: the projector (--mmproj FILE,
 * --mmproj-url URL, or the one -hf fetched beside the model; --no-mmproj for none), where its encoder runs, its bounds
 * on image tokens (cli_group_mmproj: run, chat and serve), and the media files of run and chat (--image, --audio:
 * cli_group_media), each checked to be of the kind its flag says. The setters only record; cli_load_mmproj and
 * cli_load_medium load.
 */
#include "cli.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#define MD(f) offsetof(struct cli_common, media.f)

/* --mmproj-offload / --no-mmproj-offload: on the GPU when there is one (llama.cpp's default) / on the CPU. */
static bool set_offload(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    (void)o;
    (void)value;
    *(llamac_mmproj_offload *)field =
        strcmp(p->name, "--no-mmproj-offload") == 0 ? LLAMAC_MMPROJ_OFFLOAD_OFF : LLAMAC_MMPROJ_OFFLOAD_ON;
    return true;
}

/* --image FILE / --audio FILE: appended in command-line order. */
static bool add_file(struct cli_parser *p, const char *value, llamac_media_type type) {
    struct cli_media *m = &p->t.common->media;
    if (m->n_files >= CLI_MAX_MEDIA) {
        cli_error(p->t.common, "too many --image and --audio files (at most %d)", CLI_MAX_MEDIA);
        return false;
    }
    m->files[m->n_files] = value;
    m->types[m->n_files++] = type;
    return true;
}

static bool set_image(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    (void)o;
    (void)field;
    return add_file(p, value, LLAMAC_MEDIA_IMAGE);
}

static bool set_audio(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    (void)o;
    (void)field;
    return add_file(p, value, LLAMAC_MEDIA_AUDIO);
}

static const struct cli_opt mmproj_rows[] = {
    { .names = { "-mm", "--mmproj" },
      .arg = "FILE",
      .set = cli_set_str,
      .offset = MD(mmproj),
      .help = "the multimodal projector for the model (default: the one -hf finds in the repo)" },
    { .names = { "-mmu", "--mmproj-url" },
      .arg = "URL",
      .set = cli_set_str,
      .offset = MD(mmproj_url),
      .help = "the projector from an http(s) URL, downloaded once into the Hugging Face cache folder's urls/" },
    { .names = { "--mmproj-auto" },
      .set = cli_set_false,
      .offset = MD(no_mmproj),
      .help = "use the projector -hf finds in the repo (the default)" },
    { .names = { "--no-mmproj", "--no-mmproj-auto" },
      .set = cli_set_true,
      .offset = MD(no_mmproj),
      .help = "load no projector, even one -hf finds" },
    { .names = { "--mmproj-offload" },
      .set = set_offload,
      .offset = MD(params.offload),
      .help = "run the projector's encoder on the GPU when there is one (default: where the model's layers are)" },
    { .names = { "--no-mmproj-offload" },
      .set = set_offload,
      .offset = MD(params.offload),
      .help = "run the projector's encoder on the CPU" },
    { .names = { "--image-min-tokens" },
      .arg = "N",
      .set = cli_set_i32,
      .offset = MD(params.image_min_tokens),
      .min = 1,
      .max = INT32_MAX,
      .field = "image_min_tokens",
      .help = "the fewest tokens an image becomes, for projectors with dynamic resolution (default: the model's)" },
    { .names = { "--image-max-tokens" },
      .arg = "N",
      .set = cli_set_i32,
      .offset = MD(params.image_max_tokens),
      .min = 1,
      .max = INT32_MAX,
      .field = "image_max_tokens",
      .help = "the most tokens an image becomes, for projectors with dynamic resolution (default: the model's)" },
};
const struct cli_group cli_group_mmproj = CLI_GROUP("Multimodal", CLI_TARGET_COMMON, mmproj_rows);

static const struct cli_opt media_rows[] = {
    { .names = { "--image" },
      .arg = "FILE",
      .set = set_image,
      .help = "an image for the prompt (PNG, JPEG, BMP, GIF, ...; repeatable, in order; needs a projector)" },
    { .names = { "--audio" },
      .arg = "FILE",
      .set = set_audio,
      .help = "audio for the prompt (WAV, MP3, FLAC; repeatable, in order; needs a projector with audio)" },
};
const struct cli_group cli_group_media = CLI_GROUP("Media", CLI_TARGET_COMMON, media_rows);

bool cli_media_check(struct cli_common *c, bool always) {
    const struct cli_media *m = &c->media;
    if ((m->mmproj || m->mmproj_url) && m->no_mmproj) {
        cli_error(c, "%s and --no-mmproj contradict each other", m->mmproj ? "--mmproj" : "--mmproj-url");
        return false;
    }
    if (m->mmproj && m->mmproj_url) {
        cli_error(c, "pass either --mmproj FILE or --mmproj-url URL, not both");
        return false;
    }
    bool given = m->mmproj || m->mmproj_url;
    if (m->n_files > 0 && (m->no_mmproj || (!given && !c->hf_repo))) {
        cli_error(c, "--image and --audio need a projector: pass --mmproj FILE%s",
                  m->no_mmproj ? " (not --no-mmproj)" : " (or --mmproj-url URL, or -hf a repo that has one)");
        return false;
    }
    c->hf_want_mmproj = !m->no_mmproj && !given && (always || m->n_files > 0);
    return true;
}

bool cli_load_mmproj(struct cli_common *c, llamac_model *model, llamac_mmproj **out) {
    const struct cli_media *m = &c->media;
    *out = NULL;
    const char *path = m->mmproj;
    char *downloaded = NULL;
    if (m->mmproj_url) {
        if (!cli_download_url(c, "--mmproj-url", m->mmproj_url, &downloaded)) {
            return false;
        }
        path = downloaded;
    }
    if (!path && !m->no_mmproj && c->hf_mmproj_path[0]) {
        path = c->hf_mmproj_path;
    }
    if (!path) {
        if (m->n_files > 0) {
            cli_error(c, "%s has no projector (mmproj*.gguf), which --image and --audio need: pass --mmproj FILE",
                      c->hf_repo ? c->hf_repo : "the model");
            return false;
        }
        return true;
    }
    struct progress bar;
    progress_init(&bar, "loading projector", c->quiet);
    llamac_mmproj_params mp = m->params;
    mp.flash_attn = c->ctx.flash_attn; /* -fa is the encoder's too, as llama.cpp's tools pass it */
    mp.progress = progress_update;
    mp.progress_user_data = &bar;
    llamac_status st = llamac_mmproj_load(model, path, &mp, out);
    progress_done(&bar);
    if (st != LLAMAC_OK) {
        cli_error(c, "projector %s: %s", path, llamac_last_error());
    }
    llamac_free(downloaded);
    return st == LLAMAC_OK;
}

llamac_media *cli_load_medium(const struct cli_common *c, llamac_mmproj *proj, const char *flag, const char *path,
                              llamac_media_type type) {
    llamac_media *media = NULL;
    if (llamac_media_from_file(proj, path, &media) != LLAMAC_OK) {
        cli_error(c, "%s: %s", flag, llamac_last_error()); /* the message names the file */
        return NULL;
    }
    llamac_media_info info;
    if (llamac_media_get_info(media, &info) == LLAMAC_OK && info.type != type) {
        cli_error(c, "%s %s: the file is %s, not %s", flag, path,
                  info.type == LLAMAC_MEDIA_IMAGE ? "an image" : "audio",
                  type == LLAMAC_MEDIA_IMAGE ? "an image" : "audio");
        llamac_media_free(media);
        return NULL;
    }
    return media;
}
