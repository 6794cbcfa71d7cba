/*
 * prefill.c - `llamac-bench-prefill`: time to first token after Enter, with and without incremental prefill.
 *
 * A few messages (about 40, 100 and 200 tokens) are "typed" into a chat session on a Qwen2.5-0.5B-shaped
 * synthesized model, character by character at --cps characters per second, with typos fixed by backspacing and a
 * mid-line insertion. Typing runs on a virtual clock: keystrokes arrive every 1/cps s; the prefill takes the latest
 * text that has arrived and decodes steps, each charged its real, measured time, so a slow step delays it as it
 * would a real UI, and the work still running when Enter arrives counts in the time to first token. The run takes
 * the compute time, not the typing time. Four runs on fresh contexts: no prefill (everything decoded at Enter), margin
 * 0 and margin 2 without speculation, and margin 2 with speculation (the default). Per message: time from Enter to the
 * first token, the tokens left to decode at Enter, and the first token (which must be the same in all runs); per run:
 * tokens decoded while typing and tokens wasted (decoded, then invalidated by an edit), of which speculative. The
 * reference is the time of one single-token decode step at the end of a 200-token context, measured in the same run
 * (wall clock, or --cpu-clock: this thread's CPU time). Output: one JSON object per line on stdout, a summary on
 * stderr.
 */
#include "llamac.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* CLOCK_MONOTONIC, or with --cpu-clock (and -t 1, so llama.cpp computes on this thread) the thread's CPU time:
 * far less disturbed by other processes on a loaded machine. */
static clockid_t bench_clock = CLOCK_MONOTONIC;

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(bench_clock, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static const char *const messages[] = {
    "Can you tell me a short story about a lighthouse keeper who finds a message in a bottle?",
    "Thanks! Now rewrite it for a child of six: simpler words, a happy ending, and a friendly seagull who helps the "
    "keeper read the message, because the keeper has lost his glasses somewhere in the lighthouse and cannot find "
    "them anywhere, not even under the big brass lamp.",
    "One more thing. I am preparing a reading evening at the local library and would like a version of about three "
    "minutes that I can read aloud. Please keep the seagull, give it a name that children will remember easily, "
    "add a little song the seagull sings while the keeper searches for his glasses, and end with the message "
    "itself, which should be a kind invitation from a girl on a faraway island who wants a pen friend. Also add "
    "two questions I could ask the children afterwards, so that they talk about friendship, and one about the sea. "
    "The children will be between five and eight years old, some of them are still learning to read, and a few "
    "have never seen the sea, so please describe the waves, the wind and the light of the lamp at night in a way "
    "they can imagine. If you can, suggest a simple gesture for each verse of the song so everyone can join in."
};
#define N_MESSAGES (sizeof messages / sizeof messages[0])

struct typist {
    char buf[4096];
    size_t len;
};

/* The keystrokes for a message: its characters in order, with a typo fixed by a backspace every ~37 characters
 * and, two thirds of the way, the last word typed again after moving back (a mid-line edit). Each keystroke is
 * the text after it; returns the count. */
static size_t keystrokes(const char *msg, char (*out)[4096], size_t max) {
    size_t n = 0, len = strlen(msg);
    char cur[4096];
    size_t cl = 0;
    for (size_t i = 0; i < len && n + 3 < max; i++) {
        if (i > 0 && i % 37 == 0 && msg[i] != ' ') {
            cur[cl] = 'q'; /* typo */
            memcpy(out[n], cur, cl + 1);
            out[n++][cl + 1] = '\0';
            memcpy(out[n], cur, cl);
            out[n++][cl] = '\0'; /* backspace */
        }
        cur[cl++] = msg[i];
        cur[cl] = '\0';
        memcpy(out[n++], cur, cl + 1);
        if (i == len * 2 / 3) {
            /* a word inserted 20 characters back, then removed again: the text stays the message */
            size_t at = cl > 20 ? cl - 20 : 0;
            char tmp[4096];
            snprintf(tmp, sizeof tmp, "%.*svery %s", (int)at, cur, cur + at);
            snprintf(out[n++], 4096, "%s", tmp);
            snprintf(out[n++], 4096, "%s", cur);
        }
    }
    return n;
}

struct run_result {
    double ttft[N_MESSAGES];    /* from Enter to the first token, the backlog included */
    double backlog[N_MESSAGES]; /* prefill work still running when Enter arrived */
    int32_t left_at_enter[N_MESSAGES];
    int32_t prompt_tokens[N_MESSAGES];
    char first[N_MESSAGES][64];
    llamac_prefill_stats stats;
};

static bool first_text(const char *text, size_t len, void *user_data) {
    char *first = user_data;
    size_t have = strlen(first);
    if (have + len < 63) {
        memcpy(first + have, text, len);
        first[have + len] = '\0';
    }
    return true;
}

/* One run: margin < 0 means no prefill. */
static int run(llamac_model *model, int32_t threads, double cps, int32_t margin, bool speculate, int32_t step_tokens,
               struct run_result *res) {
    memset(res, 0, sizeof *res);
    llamac_ctx_params cp = llamac_ctx_params_default();
    cp.n_ctx = 2048;
    cp.n_threads = threads;
    llamac_chat_params chp = llamac_chat_params_default();
    chp.system_prompt = "You are a helpful assistant.";
    chp.generate.max_tokens = 1;
    chp.generate.sampling.temp = 0;
    llamac_context *ctx = NULL;
    llamac_chat *chat = NULL;
    llamac_prefill *pf = NULL;
    llamac_prefill_params pp = llamac_prefill_params_default();
    pp.margin = margin < 0 ? 0 : margin;
    pp.step_tokens = step_tokens;
    pp.speculate = speculate;
    static char keys[8192][4096];
    int rc = 1;
    if (llamac_ctx_new(model, &cp, &ctx) != LLAMAC_OK || llamac_chat_new(ctx, &chp, &chat) != LLAMAC_OK ||
        (margin >= 0 && llamac_prefill_new(chat, &pp, &pf) != LLAMAC_OK)) {
        fprintf(stderr, "llamac-bench-prefill: %s\n", llamac_last_error());
        goto done;
    }
    double interval = 1000.0 / cps;
    for (size_t m = 0; m < N_MESSAGES; m++) {
        size_t nk = keystrokes(messages[m], keys, sizeof keys / sizeof keys[0]);
        /* Keystroke k arrives at k * interval, Enter one interval after the last. The prefill works on the
         * latest text that has arrived by its clock; a step that overruns an interval delays what follows. */
        double clock = 0, enter_at = (double)nk * interval;
        size_t seen = (size_t)-1;
        while (pf && clock < enter_at) {
            size_t latest = (size_t)(clock / interval);
            latest = latest < nk ? latest : nk - 1;
            double t0 = now_ms();
            llamac_status st = LLAMAC_OK;
            if (latest != seen) {
                st = llamac_prefill_update(pf, keys[latest], strlen(keys[latest]));
                seen = latest;
            } else if (llamac_prefill_pending(pf) > 0) {
                st = llamac_prefill_step(pf, NULL);
            } else {
                clock = latest + 1 < nk ? (double)(latest + 1) * interval : enter_at; /* idle until the next key */
                continue;
            }
            if (st != LLAMAC_OK) {
                fprintf(stderr, "llamac-bench-prefill: %s\n", llamac_last_error());
                goto done;
            }
            clock += now_ms() - t0;
        }
        res->backlog[m] = pf && clock > enter_at ? clock - enter_at : 0;
        const char *msg = messages[m];
        double t_enter = now_ms();
        llamac_status st =
            pf ? llamac_prefill_flush(pf, msg, strlen(msg)) : llamac_chat_add(chat, "user", msg, strlen(msg));
        llamac_chat_result r;
        if (st == LLAMAC_OK) {
            st = llamac_chat_generate(chat, first_text, res->first[m], &r);
        }
        if (st != LLAMAC_OK) {
            fprintf(stderr, "llamac-bench-prefill: %s\n", llamac_last_error());
            goto done;
        }
        res->ttft[m] = res->backlog[m] + now_ms() - t_enter;
        res->left_at_enter[m] = r.n_decoded_tokens;
        res->prompt_tokens[m] = r.gen.n_prompt_tokens;
    }
    llamac_prefill_get_stats(pf, &res->stats, false);
    rc = 0;
done:
    llamac_prefill_free(pf);
    llamac_chat_free(chat);
    llamac_ctx_free(ctx);
    return rc;
}

/* Median time of one decode of `batch` tokens at the end of a 200-token context (batch 1: the reference step). */
static double decode_step_ms(llamac_model *model, int32_t threads, int32_t batch) {
    llamac_ctx_params cp = llamac_ctx_params_default();
    cp.n_ctx = 512;
    cp.n_threads = threads;
    llamac_context *ctx = NULL;
    if (llamac_ctx_new(model, &cp, &ctx) != LLAMAC_OK) {
        return 0;
    }
    llamac_token prompt[200];
    int32_t nv = llamac_vocab_n_tokens(model);
    for (int i = 0; i < 200; i++) {
        prompt[i] = (llamac_token)((i * 7919 + 13) % (nv > 1000 ? 1000 : nv));
    }
    double t[7];
    llamac_ctx_decode(ctx, 0, prompt, 200);
    for (int i = 0; i < 7; i++) {
        double t0 = now_ms();
        llamac_ctx_decode(ctx, 0, prompt + i, (size_t)batch);
        t[i] = now_ms() - t0;
    }
    llamac_ctx_free(ctx);
    qsort(t, 7, sizeof t[0], cmp_double);
    return t[3];
}

static bool file_exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0;
}

int main(int argc, char **argv) {
    const char *model_path = NULL, *vocab = NULL, *work = ".";
    int32_t threads = 2, layers = 0, step_tokens = 16;
    double cps = 8;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--cpu-clock")) {
            bench_clock = CLOCK_THREAD_CPUTIME_ID;
            continue;
        }
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "%s needs a value\n", a);
            return 2;
        }
        if (!strcmp(a, "-m")) {
            model_path = v;
        } else if (!strcmp(a, "--vocab")) {
            vocab = v;
        } else if (!strcmp(a, "--work-dir")) {
            work = v;
        } else if (!strcmp(a, "--layers")) {
            layers = atoi(v);
        } else if (!strcmp(a, "-t")) {
            threads = atoi(v);
        } else if (!strcmp(a, "--step")) {
            step_tokens = atoi(v);
        } else if (!strcmp(a, "--cps")) {
            cps = atof(v);
        } else {
            fprintf(stderr, "usage: llamac-bench-prefill [-m MODEL | --vocab ggml-vocab-qwen2.gguf [--layers N]] "
                            "[--work-dir DIR] [-t 2] [--cps 8] [--step 16] [--cpu-clock]\n");
            return 2;
        }
        i++;
    }
    if (bench_clock != CLOCK_MONOTONIC && threads != 1) {
        fprintf(stderr, "llamac-bench-prefill: --cpu-clock needs -t 1\n");
        return 2;
    }
    if (threads < 1 || cps <= 0 || layers < 0 || step_tokens < 1 || step_tokens > 512) {
        fprintf(stderr, "llamac-bench-prefill: bad -t, --cps, --step or --layers\n");
        return 2;
    }
    char path[4096];
    if (!model_path) {
        if (!vocab) {
            fprintf(stderr,
                    "llamac-bench-prefill: give -m MODEL, or --vocab (llama.cpp's models/ggml-vocab-qwen2.gguf) "
                    "to synthesize a Qwen2.5-0.5B-shaped one\n");
            return 2;
        }
        snprintf(path, sizeof path, "%s/bench-models/qwen2.5-0.5b%s%d-f16.gguf", work, layers ? "-L" : "", layers);
        if (!layers) {
            snprintf(path, sizeof path, "%s/bench-models/qwen2.5-0.5b-f16.gguf", work);
        }
        if (!file_exists(path)) {
            char dir[4096];
            snprintf(dir, sizeof dir, "%s/bench-models", work);
            mkdir(dir, 0755);
            llamac_synth_params sp = llamac_synth_params_default();
            sp.like = "qwen2.5-0.5b";
            sp.type = LLAMAC_SYNTH_F16;
            sp.vocab_from = vocab;
            sp.n_layer = layers;
            fprintf(stderr, "synthesizing %s\n", path);
            if (llamac_synth_write(path, &sp) != LLAMAC_OK) {
                fprintf(stderr, "llamac-bench-prefill: %s\n", llamac_last_error());
                return 1;
            }
        }
        model_path = path;
    }
    llamac_model *model = NULL;
    if (llamac_model_load(model_path, NULL, &model) != LLAMAC_OK) {
        fprintf(stderr, "llamac-bench-prefill: %s\n", llamac_last_error());
        return 1;
    }
    double step = decode_step_ms(model, threads, 1);
    double batch7 = decode_step_ms(model, threads, 7); /* what margin 2 leaves at Enter with a ChatML suffix */
    enum { N_RUNS = 4 };
    static struct run_result res[N_RUNS];
    const int32_t margins[N_RUNS] = { -1, 0, 2, 2 };
    const bool spec[N_RUNS] = { false, false, false, true };
    const char *names[N_RUNS] = { "none", "margin0", "margin2", "margin2_speculate" };
    for (int k = 0; k < N_RUNS; k++) {
        if (run(model, threads, cps, margins[k], spec[k], step_tokens, &res[k]) != 0) {
            llamac_model_free(model);
            return 1;
        }
    }
    int mismatches = 0;
    for (size_t m = 0; m < N_MESSAGES; m++) {
        for (int k = 0; k < N_RUNS; k++) {
            bool same = strcmp(res[k].first[m], res[0].first[m]) == 0;
            mismatches += !same;
            printf("{\"bench\":\"prefill\",\"mode\":\"%s\",\"message\":%zu,\"prompt_tokens\":%d,\"message_chars\":%zu,"
                   "\"left_at_enter\":%d,\"backlog_ms\":%.2f,\"ttft_ms\":%.2f,\"decode_step_ms\":%.2f,\"ttft_over_"
                   "step\":%.2f,"
                   "\"first_token_same\":%s}\n",
                   names[k], m + 1, res[k].prompt_tokens[m], strlen(messages[m]), res[k].left_at_enter[m],
                   res[k].backlog[m], res[k].ttft[m], step, step > 0 ? res[k].ttft[m] / step : 0,
                   same ? "true" : "false");
        }
    }
    printf("{\"bench\":\"prefill\",\"decode_step_ms\":%.2f,\"decode_7_tokens_ms\":%.2f}\n", step, batch7);
    for (int k = 1; k < N_RUNS; k++) {
        printf("{\"bench\":\"prefill\",\"mode\":\"%s\",\"updates\":%lld,\"decoded_while_typing\":%lld,"
               "\"wasted\":%lld,\"speculative_decoded\":%lld,\"speculative_wasted\":%lld,\"speculative_used\":%lld}\n",
               names[k], (long long)res[k].stats.n_updates, (long long)res[k].stats.n_decoded,
               (long long)res[k].stats.n_invalidated, (long long)res[k].stats.n_spec_decoded,
               (long long)res[k].stats.n_spec_wasted, (long long)res[k].stats.n_spec_used);
    }
    fprintf(stderr,
            "prefill steps of %d tokens; decode step %.1f ms; ttft after Enter (ms) none / margin 0 / margin 2 / "
            "margin 2 + speculation:",
            step_tokens, step);
    for (size_t m = 0; m < N_MESSAGES; m++) {
        fprintf(stderr, " [%d tok: %.0f / %.0f / %.0f / %.0f]", res[0].prompt_tokens[m], res[0].ttft[m], res[1].ttft[m],
                res[2].ttft[m], res[3].ttft[m]);
    }
    fprintf(stderr, "; a 7-token batch %.1f ms", batch7);
    fprintf(stderr,
            "; wasted margin 0: %lld, margin 2: %lld, margin 2 + speculation: %lld (%lld speculative); first "
            "tokens %s\n",
            (long long)res[1].stats.n_invalidated, (long long)res[2].stats.n_invalidated,
            (long long)res[3].stats.n_invalidated, (long long)res[3].stats.n_spec_wasted,
            mismatches ? "DIFFER" : "identical");
    llamac_model_free(model);
    return mismatches ? 1 : 0;
}
