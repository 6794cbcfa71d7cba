/*
 * progress.c - a one-line progress bar on stderr for long work (model loading, quantize, split, embeddings).
 *
 * Drawn only on a terminal, redrawn at most once per 0.1%, never wider than the terminal (a line that wraps cannot
 * be redrawn in place: each redraw would leave a row behind), and erased when done so that logs and results that
 * follow start on a clean line.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

void progress_init(struct progress *p, const char *label, bool quiet) {
    p->label = label;
    p->enabled = !quiet && isatty(STDERR_FILENO);
    p->last_permille = -1;
    p->stop = NULL;
}

bool progress_update(float fraction, void *user_data) {
    struct progress *p = user_data;
    if (p->stop && atomic_load(p->stop)) {
        return false; /* llama.cpp abandons the load */
    }
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
    /* "label [####....] 100%", one column short of the width so that the cursor never wraps */
    enum { MAX_BAR = 30 };
    int cols = cli_term_width(STDERR_FILENO);
    int room = (cols > 0 ? cols : 80) - 1 - (int)strlen(p->label) - 8;
    int width = room < MAX_BAR ? room : MAX_BAR;
    char bar[MAX_BAR + 1];
    int filled = width > 0 ? permille * width / 1000 : 0;
    for (int i = 0; i < width; i++) {
        bar[i] = i < filled ? '#' : '.';
    }
    bar[width > 0 ? width : 0] = '\0';
    if (width >= 5) {
        fprintf(stderr, "\r%s [%s] %3d%%", p->label, bar, permille / 10);
    } else {
        fprintf(stderr, "\r%.*s %3d%%", cols > 6 ? cols - 6 : 0, p->label, permille / 10);
    }
    fflush(stderr);
    return true;
}

void progress_done(struct progress *p) {
    if (p->enabled && p->last_permille >= 0) {
        fprintf(stderr, "\r\033[K");
        fflush(stderr);
    }
}
