/*
 * cmd_kv_plot.c - `llamac kv --plot FILE.svg`: the mean KL divergence of each cache type, rotation on and off, as
 * a bar chart.
 *
 * SVG is text, so the chart needs no plotting or image library: one <rect> per bar on a linear scale from 0 to the
 * largest value, the value printed above each bar, and the configurations that could not run left out.
 */
#include "kv_report.h"

#include <stdio.h>
#include <string.h>

/* Writes s with the five XML special characters escaped. */
static void xml_text(FILE *f, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        default: fputc(*s, f);
        }
    }
}

bool kv_plot_svg(const struct cli_common *c, const char *path, const char *title, const struct kv_quality *results,
                 size_t n_results) {
    double max = 0;
    for (size_t i = 0; i < n_results; i++) {
        if (!results[i].skipped && results[i].kld > max) {
            max = results[i].kld;
        }
    }
    if (max <= 0) {
        max = 1; /* every value is 0: bars of height 0 on a 0..1 axis */
    }
    const int left = 70, top = 50, plot_h = 300, group_w = 70, bar_w = 26;
    size_t groups = (n_results + 1) / 2;
    int width = left + (int)groups * group_w + 40, height = top + plot_h + 40;
    if (width < 640) {
        width = 640; /* room for the title */
    }
    FILE *f = fopen(path, "w");
    if (!f) {
        cli_error(c, "cannot write '%s'", path);
        return false;
    }
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" "
            "font-size=\"11\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n<text x=\"10\" y=\"20\" "
            "font-size=\"13\">",
            width, height);
    xml_text(f, title);
    fprintf(f, "</text>\n<text x=\"10\" y=\"38\">mean KL divergence per token (lower is closer to F16); "
               "<tspan fill=\"#1f77b4\">rotation on</tspan>, <tspan fill=\"#ff7f0e\">rotation off</tspan></text>\n");
    fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", left, top + plot_h, width - 20,
            top + plot_h);
    fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", left, top, left, top + plot_h);
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.3g</text>\n", left - 4, top + 4, max);
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">0</text>\n", left - 4, top + plot_h + 4);
    for (size_t i = 0; i < n_results; i++) {
        const struct kv_quality *q = &results[i];
        int x = left + 10 + (int)(i / 2) * group_w + (q->rotation ? 0 : bar_w + 2);
        if (q->rotation) {
            fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", x + bar_w, top + plot_h + 16);
            xml_text(f, q->config->label);
            fputs("</text>\n", f);
        }
        if (q->skipped) {
            fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">n/a</text>\n", x + bar_w / 2, top + plot_h - 4);
            continue;
        }
        int h = (int)(q->kld / max * plot_h + 0.5);
        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"/>\n", x, top + plot_h - h, bar_w, h,
                q->rotation ? "#1f77b4" : "#ff7f0e");
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"9\">%.2g</text>\n", x + bar_w / 2,
                top + plot_h - h - 3, q->kld);
    }
    fputs("</svg>\n", f);
    if (fclose(f) != 0) {
        cli_error(c, "cannot write '%s'", path);
        return false;
    }
    return true;
}
