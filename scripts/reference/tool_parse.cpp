// tool_parse.cpp - how llama.cpp's chat layer reads model replies, for the reference outputs that llamac's tool-call
// parser is compared with (tests/unit/test_tool_fidelity.c). Built and run by scripts/reference/tool-parse.sh.
//
//   tool_parse TEMPLATE.jinja NAME REPLIES.json OUT.json
//
// For the template, the chat layer is asked for its chat parameters exactly as llama-server asks
// (common_chat_templates_apply: the conversation and tools of REPLIES.json, tool_choice auto, parallel calls as the
// template's capabilities say, reasoning format deepseek - the server's default) in three variants: tools with
// thinking on, tools with thinking off, and no tools with thinking on. Every reply of the "common" family and of the
// family that REPLIES.json's "templates" gives NAME is then parsed with common_chat_parse as llama-server parses a
// finished reply (the parser of the chat parameters, the generation prompt, parse_tool_calls when tools are offered).
//
// OUT.json: {"template", "family", "variants": [{"name", "tools", "enable_thinking", "format", "prompt",
// "generation_prompt", "thinking_start", "thinking_end", "cases": [{"family", "reply", "text", "content",
// "reasoning_content", "tool_calls":
// [{"name", "arguments"}]} or {"family", "reply", "text", "error"}]}]} - "arguments" is the JSON value of the arguments
// string (a string when it is not JSON); "error" where the chat layer refuses the template or the reply. A variant
// whose chat parameters cannot be made has "error" instead of "cases".
#include "chat.h"
#include "json.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

static std::string read_file(const std::string &path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) {
        fprintf(stderr, "tool_parse: cannot open %s\n", path.c_str());
        exit(1);
    }
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

static common_json parse_case(const common_chat_params &cp, bool tools, const std::string &reply) {
    common_chat_parser_params pp(cp);
    pp.reasoning_format = COMMON_REASONING_FORMAT_DEEPSEEK;
    pp.reasoning_in_content = false;
    pp.parse_tool_calls = tools;
    if (!cp.parser.empty()) {
        pp.parser.load(cp.parser);
    }
    common_json out = common_json::object();
    try {
        common_chat_msg msg = common_chat_parse(reply, false, pp);
        out["content"] = msg.content;
        out["reasoning_content"] = msg.reasoning_content;
        common_json calls = common_json::array();
        for (const auto &tc : msg.tool_calls) {
            common_json args;
            try {
                args = common_json::parse(tc.arguments);
            } catch (const std::exception &) {
                args = tc.arguments;
            }
            calls.push_back({ { "name", tc.name }, { "arguments", args } });
        }
        out["tool_calls"] = calls;
    } catch (const std::exception &e) {
        out["error"] = e.what();
    }
    return out;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: tool_parse TEMPLATE.jinja NAME REPLIES.json OUT.json\n");
        return 2;
    }
    const std::string name = argv[2];
    common_json spec = common_json::parse(read_file(argv[3]));
    const std::string family = spec.at("templates").value(name, std::string());
    common_json result = { { "template", name }, { "family", family }, { "variants", common_json::array() } };

    common_chat_templates_ptr tmpls = common_chat_templates_init(nullptr, read_file(argv[1]), "<s>", "</s>");
    auto caps = common_chat_templates_get_caps(tmpls.get());

    struct variant {
        const char *name;
        bool tools, thinking;
    };
    const variant variants[] = { { "tools_think", true, true },
                                 { "tools_nothink", true, false },
                                 { "notools_think", false, true } };
    for (const auto &v : variants) {
        common_json vo = { { "name", v.name }, { "tools", v.tools }, { "enable_thinking", v.thinking } };
        common_chat_templates_inputs in;
        in.messages = common_chat_msgs_parse_oaicompat(spec.at("messages"));
        if (v.tools) {
            in.tools = common_chat_tools_parse_oaicompat(spec.at("tools"));
        }
        in.tool_choice = COMMON_CHAT_TOOL_CHOICE_AUTO;
        in.parallel_tool_calls = caps["supports_parallel_tool_calls"];
        in.reasoning_format = COMMON_REASONING_FORMAT_DEEPSEEK;
        in.enable_thinking = v.thinking;
        if (!v.thinking) {
            in.chat_template_kwargs["enable_thinking"] = "false"; /* as a request's chat_template_kwargs says it */
        }
        common_chat_params cp;
        try {
            cp = common_chat_templates_apply(tmpls.get(), in);
        } catch (const std::exception &e) {
            vo["error"] = e.what();
            result["variants"].push_back(vo);
            continue;
        }
        vo["format"] = common_chat_format_name(cp.format);
        vo["prompt"] = cp.prompt;
        vo["generation_prompt"] = cp.generation_prompt;
        vo["thinking_start"] = cp.thinking_start_tag;
        vo["thinking_end"] = cp.thinking_end_tags;
        common_json cases = common_json::array();
        for (const std::string fam : { std::string("common"), family }) {
            if (fam.empty() || !spec.at("families").contains(fam)) {
                continue;
            }
            for (const auto &r : spec.at("families").at(fam)) {
                common_json c = { { "family", fam }, { "reply", r.at("id") }, { "text", r.at("text") } };
                const common_json parsed = parse_case(cp, v.tools, r.at("text").get<std::string>());
                for (const auto &[k, val] : parsed.items()) {
                    c[k] = val;
                }
                cases.push_back(c);
            }
        }
        vo["cases"] = cases;
        result["variants"].push_back(vo);
    }
    std::ofstream f(argv[4], std::ios::binary);
    f << result.dump(1) << "\n";
    if (!f) {
        fprintf(stderr, "tool_parse: cannot write %s\n", argv[4]);
        return 1;
    }
    return 0;
}
