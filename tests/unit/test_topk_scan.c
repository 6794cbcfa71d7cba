/*
 * test_topk_scan.c - the block scan under the top-k shortcut (core/sampler_scan.c), at its edges.
 *
 * test_sampler checks the whole shortcut against llama.cpp's chain on real logits; here the scan alone (the file is
 * included: the library does not export it) meets what real logits rarely show: a value equal to the floor, -0.0,
 * NaN in a logit or as the floor, a range starting at any offset and of any length down to empty. It must find the
 * same block as the definition: the first one holding a value not <= the floor.
 */
#include "../../src/core/sampler_scan.c"

#include "check.h"

#include <math.h>
#include <stdint.h>

#define N_SCAN 4096

/* The definition, one value at a time. */
static size_t reference(const float *l, size_t t, size_t end, float floor) {
    for (size_t b = t; b < end; b += BLOCK) {
        for (size_t j = b; j < b + BLOCK; j++) {
            if (!(l[j] <= floor)) {
                return b;
            }
        }
    }
    return end;
}

static uint32_t rng = 12345;
static uint32_t next_rand(void) {
    rng = rng * 1664525u + 1013904223u;
    return rng >> 8;
}

/* Logits below the floor everywhere but at most one place (a value above it, equal to it, or NaN), scanned from
 * every start offset modulo the block and the vector width. */
static void test_scan_finds_the_first_passing_block(void) {
    static float l[N_SCAN + BLOCK];
    int mismatches = 0;
    for (int round = 0; round < 3000; round++) {
        for (size_t i = 0; i < N_SCAN + BLOCK; i++) {
            l[i] = -(float)(next_rand() % 1000) / 10.0f - 0.5f;
        }
        float floor = 0.0f;
        size_t at = next_rand() % N_SCAN;
        switch (round % 5) {
        case 0: l[at] = 0.25f; break; /* above */
        case 1: l[at] = 0.0f; break;  /* equal: not above */
        case 2: l[at] = NAN; break;   /* NaN passes */
        case 3: l[at] = -0.0f; break; /* equal to 0 as well */
        default: floor = NAN; break;  /* a NaN floor lets everything pass */
        }
        size_t start = next_rand() % 37, blocks = (N_SCAN - start) / BLOCK;
        size_t end = start + (next_rand() % (blocks + 1)) * BLOCK;
        size_t got = llamac__skip_below(l, start, end, floor), want = reference(l, start, end, floor);
        if (got != want && mismatches++ < 5) {
            fprintf(stderr, "start %zu end %zu floor %g, mark at %zu (round %d): got %zu, expected %zu\n", start, end,
                    (double)floor, at, round, got, want);
        }
    }
    CHECK_INT(mismatches, 0);
}

int main(void) {
    RUN(test_scan_finds_the_first_passing_block);
    TESTS_DONE();
}
