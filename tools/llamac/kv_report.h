/*
 * kv_report.h - what the parts of `llamac kv` share: the configurations compared and the measured results.
 *
 * cmd_kv.c parses the command line and prints the memory table; cmd_kv_quality.c measures perplexity, KL
 * divergence and greedy divergence; cmd_kv_plot.c draws the results as SVG, cmd_kv_png.c the same chart as PNG.
 */
#ifndef LLAMAC_KV_REPORT_H
#define LLAMAC_KV_REPORT_H

#include "cli.h"

#define KV_MAX_CONFIGS 32

/* One cache configuration: K and V types ("q8_0" means q8_0/q8_0, "q8_0/q4_0" K q8_0 and V q4_0). */
struct kv_config {
    llamac_kv_type k, v;
    char label[32];
};

/* The measurement of one configuration with one rotation setting. */
struct kv_quality {
    const struct kv_config *config;
    bool rotation;      /* rotation requested */
    bool rotated;       /* llama.cpp rotates K or V in this context */
    bool skipped;       /* the context could not be made; why says so */
    char why[192];      /* why skipped, or why rotation is inactive */
    double ppl;         /* perplexity on the text */
    double kld;         /* mean KL divergence of the next-token distributions from the F16 cache's */
    double kld_max;     /* largest per-token KL divergence */
    double same_top;    /* fraction of scored tokens whose most likely next token is the F16 cache's */
    long diverge_char;  /* first character of the greedy text that differs from the F16 cache's; -1: none */
    long diverge_token; /* first generated token that differs; -1: none */
    char *text;         /* the greedy text (malloc) */
};

struct kv_quality_opts {
    const char *text_path;
    const char *prompt;
    int32_t n_predict;
    uint32_t chunk;      /* tokens per perplexity chunk (the -c value, default 512) */
    uint32_t max_chunks; /* evaluate at most this many chunks; 0: all */
};

/* Measures every configuration with rotation on and off against an F16 cache, printing a table on stdout.
 * results has 2 * n_configs entries (on, off for each configuration); *n_scored receives the number of tokens
 * scored; base_ppl the F16 cache's perplexity and base_text its greedy text (caller frees with free). Returns
 * false (with the error printed) when the text cannot be measured. */
bool kv_quality_run(struct cli_common *c, llamac_model *model, const struct kv_config *configs, size_t n_configs,
                    const struct kv_quality_opts *opts, struct kv_quality *results, size_t *n_scored, double *base_ppl,
                    char **base_text);

/* The chart both writers draw: a linear scale from 0 to `max` (the largest measured value; 1 when all are 0), one
 * group of two bars (rotation on, off) per configuration, and where everything goes, in pixels. */
struct kv_chart {
    double max;
    int left, top, plot_h, group_w, bar_w; /* the axes meet at (left, top + plot_h) */
    size_t groups;
    int width, height; /* 640 wide at least, for the title and legend */
};
void kv_chart_layout(const struct kv_quality *results, size_t n_results, struct kv_chart *ch);
/* The left edge of result i's bar (results alternate rotation on, off). */
int kv_chart_bar_x(const struct kv_chart *ch, size_t i, bool rotation);
/* The height of the bar for `kld`: 0 for NaN, plot_h at most. */
int kv_chart_bar_h(const struct kv_chart *ch, double kld);

/* Writes an SVG bar chart of the mean KL divergence per configuration, rotation on and off. */
bool kv_plot_svg(const struct cli_common *c, const char *path, const char *title, const struct kv_quality *results,
                 size_t n_results);

/* Writes the same chart as kv_plot_svg as a PNG image (RGB, 8 bits per sample, uncompressed deflate), drawn with a
 * built-in 5x7 bitmap font. Returns false (with the error printed) when the file cannot be written. */
bool kv_plot_png(const struct cli_common *c, const char *path, const char *title, const struct kv_quality *results,
                 size_t n_results);

#endif /* LLAMAC_KV_REPORT_H */
