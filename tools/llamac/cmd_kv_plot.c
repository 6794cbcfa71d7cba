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

void kv_chart_layout(const struct kv_quality *results, size_t n_results, struct kv_chart *ch) {
    double max = 0;
    for (size_t i = 0; i < n_results; i++) {
        if (!results[i].skipped && results[i].kld > max) {
            max = results[i].kld;
        }
    }
    ch->max = max > 0 ? max : 1; /* every value is 0: bars of height 0 on a 0..1 axis */
    ch->left = 70;
    ch->top = 50;
    ch->plot_h = 300;
    ch->group_w = 70;
    ch->bar_w = 26;
    ch->groups = (n_results + 1) / 2;
    size_t width = (size_t)ch->left + ch->groups * (size_t)ch->group_w + 40;
    ch->width = width < 65536 ? (int)width : 65536; /* a writer refuses more groups than it can draw */
    ch->height = ch->top + ch->plot_h + 40;
    if (ch->width < 640) {
        ch->width = 640;
    }
}

int kv_chart_bar_x(const struct kv_chart *ch, size_t i, bool rotation) {
    return ch->left + 10 + (int)(i / 2) * ch->group_w + (rotation ? 0 : ch->bar_w + 2);
}

int kv_chart_bar_h(const struct kv_chart *ch, double kld) {
    double frac = kld / ch->max;
    if (!(frac >= 0)) {
        frac = 0; /* NaN: no bar rather than an undefined conversion */
    }
    return (int)((frac > 1 ? 1 : frac) * ch->plot_h + 0.5);
}

bool kv_plot_svg(const struct cli_common *c, const char *path, const char *title, const struct kv_quality *results,
                 size_t n_results) {
    struct kv_chart ch;
    kv_chart_layout(results, n_results, &ch);
    const double max = ch.max;
    const int left = ch.left, top = ch.top, plot_h = ch.plot_h, bar_w = ch.bar_w, width = ch.width, height = ch.height;
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
        int x = kv_chart_bar_x(&ch, i, q->rotation);
        if (q->rotation) {
            fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", x + bar_w, top + plot_h + 16);
            xml_text(f, q->config->label);
            fputs("</text>\n", f);
        }
        if (q->skipped) {
            fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">n/a</text>\n", x + bar_w / 2, top + plot_h - 4);
            continue;
        }
        int h = kv_chart_bar_h(&ch, q->kld);
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
