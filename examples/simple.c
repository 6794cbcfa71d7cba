/*
 * simple.c - the smallest complete llamac program: load a model, generate greedily, stream the text to stdout.
 *
 * Usage: simple MODEL.gguf [PROMPT]   (uses only the public header, as every example does)
 */
#include <llamac.h>
#include <stdio.h>
#include <string.h>

static bool print(const char *text, size_t len, void *user_data) {
    (void)user_data;
    fwrite(text, 1, len, stdout);
    return true;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL.gguf [PROMPT]\n", argv[0]);
        return 2;
    }
    const char *prompt = argc > 2 ? argv[2] : "Once upon a time";
    llamac_model *model = NULL;
    llamac_context *ctx = NULL;
    if (llamac_model_load(argv[1], NULL, &model) != LLAMAC_OK || llamac_ctx_new(model, NULL, &ctx) != LLAMAC_OK) {
        fprintf(stderr, "%s\n", llamac_last_error());
        llamac_model_free(model);
        return 1;
    }
    llamac_generate_params gp = llamac_generate_params_default();
    gp.max_tokens = 48;
    gp.sampling.temp = 0.0f; /* greedy */
    gp.on_text = print;
    llamac_generate_result res;
    int rc = 0;
    if (llamac_generate(ctx, prompt, strlen(prompt), &gp, &res) != LLAMAC_OK) {
        fprintf(stderr, "%s\n", llamac_last_error());
        rc = 1;
    } else {
        fprintf(stderr, "\n[%s after %d tokens, %.1f tokens/s]\n", llamac_finish_reason_str(res.finish_reason),
                res.n_generated_tokens, res.tokens_per_s);
    }
    llamac_ctx_free(ctx);
    llamac_model_free(model);
    return rc;
}
