/*
 * llamac.h - a safe C11 library over llama.cpp.
 *
 * This header is the specification of libllamac. Every object is an opaque handle with a paired create/free;
 * every fallible function returns an llamac_status and leaves a precise message in llamac_last_error(); nothing a
 * caller can pass makes the library abort, exit or print. Results come back through `out` parameters, which are
 * set to NULL/0 when a call fails.
 *
 * Ownership words used below:
 *   "borrowed"                       - the library only reads it during the call (or as stated);
 *   "caller frees with X"            - the caller owns the result and releases it with X;
 *   "owned by Y, valid until Z"      - the library owns it; do not free it.
 * Thread-safety words: "thread-safe", "one thread per handle", "not thread-safe".
 *
 * Text is UTF-8 throughout. Text passed in is (const char *s, size_t len) unless a function says NUL-terminated.
 *
 * The API comes in parts, one header each under llamac/, included here in layer order: each part uses only the
 * parts above it.
 *   llamac/base.h      versions, status codes and errors, logging, backends and devices
 *   llamac/model.h     models and vocabulary: load, metadata, tokenize, detokenize, UTF-8
 *   llamac/context.h   contexts, batches, KV-cache sequences, state, KV-cache memory
 *   llamac/adapter.h   LoRA adapters and control vectors: load, check, apply with scales
 *   llamac/generate.h  samplers, sampling parameters, generation
 *   llamac/media.h     multimodal input: projectors, images and audio, prompts with media
 *   llamac/embed.h     embeddings and reranking
 *   llamac/chat.h      chat templates, chat sessions, incremental prefill
 *   llamac/schema.h    JSON Schema to grammar, tool-call formats, parsers and grammars
 *   llamac/engine.h    the multi-sequence engine
 *   llamac/gguf.h      GGUF files, quantization, split/merge, synthetic models
 *   llamac/hub.h       the Hugging Face Hub
 *
 * ABI policy: before 1.0 (LLAMAC_VERSION_MAJOR 0) there is none. Params and result structs may gain fields and
 * enums may gain values in any release, so a program is built against the header of the libllamac it runs with
 * (the SONAME carries the major and, before 1.0, the minor version: libllamac.so.0.1; llamac_version() tells the
 * release). Status codes are append-only already. From 1.0 on, structs grow only at their end and a new major
 * version (libllamac.so.1, ...) marks any other change. The library exports the functions declared here and nothing
 * else; the llama.cpp it was built with is inside it or linked, never part of this API.
 */
#ifndef LLAMAC_H
#define LLAMAC_H

/* In layer order, each header building on those above it (not sorted). */
/* clang-format off */
#include "llamac/base.h"
#include "llamac/model.h"
#include "llamac/context.h"
#include "llamac/adapter.h"
#include "llamac/generate.h"
#include "llamac/media.h"
#include "llamac/embed.h"
#include "llamac/chat.h"
#include "llamac/schema.h"
#include "llamac/engine.h"
#include "llamac/gguf.h"
#include "llamac/hub.h"
/* clang-format on */

#endif /* LLAMAC_H */
