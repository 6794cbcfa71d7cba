/*
 * fuzz_media.c - libFuzzer target for what reads media bytes: llamac_media_from_buffer (format recognition, header
 * sizes, then libmtmd's decoders) and the tokenizing of the result (libmtmd's preprocessing), on an image and an audio
 * projector synthesized at start for stories260K-chatml.
 *
 * Any input must end in OK or a media error (LLAMAC_E_MEDIA, or LLAMAC_E_UNSUPPORTED for a kind the projector does not
 * take), never a crash, an abort or another status; a medium that was accepted must tokenize. The limits are small
 * (512 x 512 images, a minute of audio), so no input makes the run slow.
 */
#include "fuzz_model.h"
#include "llamac.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static llamac_model *model;
static llamac_mmproj *proj;

static void setup_once(void) {
    if (proj) {
        return;
    }
    char path[1024];
    fuzz_model_path("stories260K-chatml.gguf", path, sizeof path);
    const char *tmp = getenv("TMPDIR");
    char dir[1024], mmproj[1100];
    snprintf(dir, sizeof dir, "%s/llamac-fuzz-media-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("fuzz_media: mkdtemp");
        abort();
    }
    snprintf(mmproj, sizeof mmproj, "%s/mmproj.gguf", dir);
    llamac_synth_mmproj_params sp = llamac_synth_mmproj_params_default();
    sp.text_model = path;
    sp.audio = true;
    llamac_mmproj_params mp = llamac_mmproj_params_default();
    mp.n_threads = 1;
    mp.warmup = false;
    mp.max_image_side = 512;
    mp.max_image_pixels = 512 * 512;
    mp.max_audio_seconds = 60;
    llamac_status st = llamac_model_load(path, NULL, &model);
    if (st == LLAMAC_OK) {
        st = llamac_synth_mmproj_write(mmproj, &sp);
    }
    if (st == LLAMAC_OK) {
        st = llamac_mmproj_load(model, mmproj, &mp, &proj);
    }
    unlink(mmproj);
    rmdir(dir);
    if (st == LLAMAC_E_UNSUPPORTED) {
        fprintf(stderr, "SKIP: %s\n", llamac_last_error()); /* a build without libmtmd */
        exit(77);
    }
    if (st != LLAMAC_OK) {
        fprintf(stderr, "fuzz_media: %s\n", llamac_last_error());
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    setup_once();
    llamac_media *m = NULL;
    llamac_status st = llamac_media_from_buffer(proj, data, size, &m);
    if (st != LLAMAC_OK) {
        if ((st != LLAMAC_E_MEDIA && st != LLAMAC_E_UNSUPPORTED && st != LLAMAC_E_NO_MEMORY) || m != NULL) {
            fprintf(stderr, "fuzz_media: unexpected %s: %s\n", llamac_status_str(st), llamac_last_error());
            abort();
        }
        return 0;
    }
    llamac_media_info info;
    llamac_chunks *c = NULL;
    if (llamac_media_get_info(m, &info) != LLAMAC_OK || strlen(info.id) != 64 ||
        llamac_mmproj_tokenize(proj, "<__media__>?", 12, 0, &m, 1, &c) != LLAMAC_OK || llamac_chunks_n_tokens(c) == 0) {
        fprintf(stderr, "fuzz_media: an accepted medium did not tokenize: %s\n", llamac_last_error());
        abort();
    }
    llamac_chunks_free(c);
    llamac_media_free(m);
    return 0;
}
