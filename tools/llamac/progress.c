/*
 * progress.c - a one-line progress bar on stderr for long work (model loading, later quantize and downloads).
 *
 * Drawn only on a terminal, redrawn at most once per 0.1%, and erased when done so that logs and results that
 * follow start on a clean line.
 */
#include "cli.h"

#include <stdio.h>
#include <unistd.h>

void progress_init(struct progress *p, const char *label, bool quiet) {
    p->label = label;
    p->enabled = !quiet && isatty(STDERR_FILENO);
    p->last_permille = -1;
}

bool progress_update(float fraction, void *user_data) {
    struct progress *p = user_data;
    if (!p->enabled) {
        return true;
    }
    if (fraction < 0.0f) {
        fraction = 0.0f;
    } else if (fraction > 1.0f) {
        fraction = 1.0f;
    }
    int permille = (int)(fraction * 1000.0f);
    if (permille == p->last_permille) {
        return true;
    }
    p->last_permille = permille;
    enum { WIDTH = 30 };
    char bar[WIDTH + 1];
    int filled = permille * WIDTH / 1000;
    for (int i = 0; i < WIDTH; i++) {
        bar[i] = i < filled ? '#' : '.';
    }
    bar[WIDTH] = '\0';
    fprintf(stderr, "\r%s [%s] %3d%%", p->label, bar, permille / 10);
    fflush(stderr);
    return true;
}

void progress_done(struct progress *p) {
    if (p->enabled && p->last_permille >= 0) {
        fprintf(stderr, "\r\033[K");
        fflush(stderr);
    }
}
