// render_template.cpp - renders a chat template with llama.cpp's own Jinja engine (common/jinja), for the
// reference outputs that llamac's template fidelity test compares against. Built and run by scripts/gen-reference.sh.
//
//   render_template TEMPLATE.jinja CONVERSATION.json OUT_PREFIX
//   render_template --model MODEL.gguf CONVERSATION.json OUT_PREFIX
//
// CONVERSATION.json is an object with "messages", optionally "tools", "add_generation_prompt" (default true),
// "bos_token", "eos_token" and "kwargs" (extra template variables); or just the array of messages. With --model, the
// template, bos_token and eos_token come from the model as llama.cpp's chat code takes them (the default template, the
// special tokens' text). The variables are the ones llamac_template_render defines, in the same way: messages, tools
// (only when given), bos_token, eos_token, add_generation_prompt, then every kwarg (a kwarg may replace one of those).
// The clock is fixed at LLAMAC_REF_NOW (seconds since the epoch) so strftime_now() is reproducible; run with TZ=UTC.
//
// Writes OUT_PREFIX.txt with the exact rendered bytes, or OUT_PREFIX.err with llama.cpp's error message when its
// engine rejects the template or fails while rendering.
#include "jinja/lexer.h"
#include "jinja/parser.h"
#include "jinja/runtime.h"
#include "jinja/value.h"
#include "json.h"
#include "llama.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

static std::string read_file(const std::string &path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) {
        fprintf(stderr, "render_template: cannot open %s\n", path.c_str());
        exit(1);
    }
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

static void write_file(const std::string &path, const std::string &data) {
    std::ofstream f(path, std::ios::binary);
    f << data;
    if (!f) {
        fprintf(stderr, "render_template: cannot write %s\n", path.c_str());
        exit(1);
    }
}

static std::string token_text(const llama_vocab *vocab, llama_token tok) {
    if (tok == LLAMA_TOKEN_NULL) {
        return "";
    }
    std::vector<char> buf(256);
    int n = llama_token_to_piece(vocab, tok, buf.data(), (int32_t)buf.size(), 0, true);
    if (n < 0) {
        buf.resize((size_t)-n);
        n = llama_token_to_piece(vocab, tok, buf.data(), (int32_t)buf.size(), 0, true);
    }
    return std::string(buf.data(), (size_t)n);
}

int main(int argc, char **argv) {
    if (argc != 4 && !(argc == 5 && std::string(argv[1]) == "--model")) {
        fprintf(stderr, "usage: render_template (TEMPLATE.jinja | --model MODEL.gguf) CONVERSATION.json OUT_PREFIX\n");
        return 2;
    }
    const bool from_model = argc == 5;
    const std::string conv_path = argv[from_model ? 3 : 2];
    const std::string out_prefix = argv[from_model ? 4 : 3];
    common_json conv = common_json::parse(read_file(conv_path));
    if (conv.is_array()) {
        common_json messages = conv;
        conv = common_json::object();
        conv["messages"] = messages;
    }

    std::string source;
    std::string bos = conv.value("bos_token", std::string());
    std::string eos = conv.value("eos_token", std::string());
    if (from_model) {
        llama_backend_init();
        llama_log_set([](ggml_log_level, const char *, void *) {}, nullptr);
        llama_model_params mp = llama_model_default_params();
        mp.vocab_only = true;
        llama_model *model = llama_model_load_from_file(argv[2], mp);
        if (!model) {
            fprintf(stderr, "render_template: cannot load %s\n", argv[2]);
            return 1;
        }
        const char *tmpl = llama_model_chat_template(model, nullptr);
        if (!tmpl) {
            fprintf(stderr, "render_template: %s has no chat template\n", argv[2]);
            return 1;
        }
        source = tmpl;
        const llama_vocab *vocab = llama_model_get_vocab(model);
        bos = token_text(vocab, llama_vocab_bos(vocab));
        eos = token_text(vocab, llama_vocab_eos(vocab));
        llama_model_free(model);
    } else {
        source = read_file(argv[1]);
    }

    const char *now_env = getenv("LLAMAC_REF_NOW");
    std::time_t now = now_env ? (std::time_t)std::atoll(now_env) : std::time(nullptr);

    try {
        jinja::lexer lexer;
        jinja::lexer_result lexed = lexer.tokenize(source);
        jinja::program prog = jinja::parse_from_tokens(lexed);

        common_json inp = common_json::object();
        inp["messages"] = conv.at("messages");
        if (conv.contains("tools")) {
            inp["tools"] = conv.at("tools");
        }
        inp["bos_token"] = bos;
        inp["eos_token"] = eos;
        inp["add_generation_prompt"] = conv.value("add_generation_prompt", true);
        if (conv.contains("kwargs")) {
            for (const auto &[k, v] : conv.at("kwargs").items()) {
                inp[k] = v;
            }
        }

        jinja::context ctx(lexed.source);
        ctx.current_time = now;
        jinja::global_from_json(ctx, inp, false);
        jinja::runtime runtime(ctx);
        const jinja::value results = runtime.execute(prog);
        std::string out = jinja::runtime::gather_string_parts(results)->as_string().str();
        write_file(out_prefix + ".txt", out);
    } catch (const std::exception &e) {
        write_file(out_prefix + ".err", std::string(e.what()) + "\n");
    }
    return 0;
}
