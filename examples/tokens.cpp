/*
 * tokens.cpp - llamac from C++17: the handles owned by std::unique_ptr, a prompt's tokens and their pieces, then a
 * greedy continuation collected into a std::string by a lambda.
 *
 * Usage: tokens MODEL.gguf [PROMPT]   (uses only the public header, which is plain C inside extern "C")
 */
#include <llamac.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace {

struct model_free {
    void operator()(llamac_model *m) const {
        llamac_model_free(m);
    }
};
struct ctx_free {
    void operator()(llamac_context *c) const {
        llamac_ctx_free(c);
    }
};
using model_ptr = std::unique_ptr<llamac_model, model_free>;
using ctx_ptr = std::unique_ptr<llamac_context, ctx_free>;

int fail(const char *what) {
    std::fprintf(stderr, "%s: %s\n", what, llamac_last_error());
    return 1;
}

} // namespace

int main(int argc, char **argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s MODEL.gguf [PROMPT]\n", argv[0]);
        return 2;
    }
    const std::string prompt = argc > 2 ? argv[2] : "Once upon a time";
    std::printf("llamac %s\n", llamac_version());

    llamac_model *m = nullptr;
    if (llamac_model_load(argv[1], nullptr, &m) != LLAMAC_OK) {
        return fail("load");
    }
    model_ptr model(m);

    llamac_token *raw = nullptr;
    size_t n = 0;
    if (llamac_tokenize(model.get(), prompt.data(), prompt.size(), LLAMAC_TOKENIZE_ADD_SPECIAL, &raw, &n) !=
        LLAMAC_OK) {
        return fail("tokenize");
    }
    std::vector<llamac_token> tokens(raw, raw + n);
    llamac_free(raw);
    std::printf("%zu tokens:", tokens.size());
    for (llamac_token t : tokens) {
        char piece[64];
        size_t needed = 0;
        if (llamac_token_to_piece(model.get(), t, true, piece, sizeof piece, &needed) != LLAMAC_OK) {
            return fail("piece");
        }
        std::printf(" %d='%.*s'", t, static_cast<int>(needed), piece);
    }
    std::printf("\n");

    llamac_context *c = nullptr;
    if (llamac_ctx_new(model.get(), nullptr, &c) != LLAMAC_OK) {
        return fail("context");
    }
    ctx_ptr ctx(c);
    std::string text;
    llamac_generate_params gp = llamac_generate_params_default();
    gp.max_tokens = 16;
    gp.sampling.temp = 0.0f; // greedy
    gp.user_data = &text;
    gp.on_text = [](const char *piece, size_t len, void *user_data) {
        static_cast<std::string *>(user_data)->append(piece, len);
        return true;
    };
    llamac_generate_result res{};
    if (llamac_generate(ctx.get(), prompt.data(), prompt.size(), &gp, &res) != LLAMAC_OK) {
        return fail("generate");
    }
    std::printf("%d tokens generated (%s): %s%s\n", res.n_generated_tokens, llamac_finish_reason_str(res.finish_reason),
                prompt.c_str(), text.c_str());
    return 0;
}
