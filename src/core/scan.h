/*
 * scan.h - the block scan under the top-k shortcut (sampler_scan.c).
 */
#ifndef LLAMAC_CORE_SCAN_H
#define LLAMAC_CORE_SCAN_H

#include <stddef.h>

/* Logits are looked at in blocks of this many. */
#define LLAMAC__SCAN_BLOCK 16

/* The start of the first block of LLAMAC__SCAN_BLOCK floats in l[t, end) holding a value not <= floor (a NaN, in
 * either, counts as passing), or end. end - t is a multiple of the block. */
size_t llamac__skip_below(const float *l, size_t t, size_t end, float floor);

#endif
