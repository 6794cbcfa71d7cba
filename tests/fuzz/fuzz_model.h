/*
 * fuzz_model.h - where the fuzz targets find their test model: $LLAMAC_TEST_MODELS, else ../shared/models, as the
 * other tests. Without the file a target cannot run at all, so it exits 77 (ctest's skip) instead of aborting.
 */
#ifndef LLAMAC_FUZZ_MODEL_H
#define LLAMAC_FUZZ_MODEL_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Writes the path of test model `file` into buf (cap bytes) and returns buf; exits 77 when it is not there. */
static inline const char *fuzz_model_path(const char *file, char *buf, size_t cap) {
    const char *dir = getenv("LLAMAC_TEST_MODELS");
    snprintf(buf, cap, "%s/%s", dir && dir[0] ? dir : "../shared/models", file);
    if (access(buf, R_OK) != 0) {
        fprintf(stderr, "SKIP: test model %s not found\n", buf);
        exit(77);
    }
    return buf;
}

#endif
