// json_schema_to_grammar.cpp - writes llama.cpp's own grammar for each schema of tests/reference/json_schema/cases.json
// (one NAME.gbnf per case, or NAME.error with the converter's message), for the fidelity part of
// tests/unit/test_json_schema.c. Built and run by scripts/reference/json-schema.sh against the pinned source.
#include "json-schema-to-grammar.h"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

// The three string helpers the converter takes from common.cpp, so that the rest of common need not be built.
std::string string_join(const std::vector<std::string> &parts, const std::string &sep) {
    std::string out;
    for (size_t i = 0; i < parts.size(); i++) {
        out += (i ? sep : "") + parts[i];
    }
    return out;
}

std::string string_repeat(const std::string &s, size_t n) {
    std::string out;
    while (n--) {
        out += s;
    }
    return out;
}

std::vector<std::string> string_split(const std::string &s, const std::string &sep) {
    std::vector<std::string> out;
    size_t start = 0, at;
    while ((at = s.find(sep, start)) != std::string::npos) {
        out.push_back(s.substr(start, at - start));
        start = at + sep.size();
    }
    out.push_back(s.substr(start));
    return out;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s cases.json OUTDIR\n", argv[0]);
        return 2;
    }
    std::ifstream in(argv[1]);
    std::stringstream text;
    text << in.rdbuf();
    auto cases = common_json::parse(text.str());
    for (const auto &c : cases) {
        std::string name = c.at("name").get<std::string>();
        std::string grammar, error;
        try {
            grammar = json_schema_to_grammar(c.at("schema"), /* force_gbnf= */ true);
        } catch (const std::exception &e) {
            error = e.what();
        }
        std::ofstream out(std::string(argv[2]) + "/" + name + (error.empty() ? ".gbnf" : ".error"));
        out << (error.empty() ? grammar : error + "\n");
    }
    return 0;
}
