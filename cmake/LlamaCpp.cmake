# Obtains llama.cpp for llamac, in this order:
#   1. LLAMA_PREBUILT_DIR - an installed llama.cpp (headers + libs + cmake config); nothing is built.
#   2. LLAMA_CPP_DIR      - a llama.cpp checkout, built here as a subproject.
#   3. default            - the pinned release, fetched by scripts/fetch-llama.sh into .deps/llama.cpp and built
#                           as a subproject.
# Only the libraries llamac links are built (ggml, llama, and mtmd when LLAMAC_MTMD is on), never llama.cpp's tools.
# libmtmd is built without video support (MTMD_VIDEO), which would hand any buffer stb_image cannot decode to an
# ffprobe/ffmpeg subprocess found in PATH.
# Sets LLAMAC_LLAMA_COMMIT_RESOLVED and LLAMAC_LLAMA_SOURCE_DIR (for a prebuilt llama.cpp: a source tree beside
# it if there is one, for the tests' tokenizer corpora; else empty).

set(LLAMAC_LLAMA_COMMIT "de3ff815ea7d559ee917f063901b8986f038abc6")

set(LLAMA_PREBUILT_DIR "$ENV{LLAMA_PREBUILT_DIR}" CACHE PATH "Installed llama.cpp prefix to use instead of building")
set(LLAMA_CPP_DIR "$ENV{LLAMA_CPP_DIR}" CACHE PATH "llama.cpp source checkout to build instead of the pinned release")

if(LLAMA_PREBUILT_DIR)
    find_package(llama CONFIG REQUIRED PATHS "${LLAMA_PREBUILT_DIR}" NO_DEFAULT_PATH)
    message(STATUS "llamac: using prebuilt llama.cpp ${LLAMA_VERSION} (${LLAMA_BUILD_COMMIT}) from ${LLAMA_PREBUILT_DIR}")
    set(LLAMAC_LLAMA_COMMIT_RESOLVED "${LLAMA_BUILD_COMMIT}")
    # No source is needed to build; tests that read llama.cpp's tokenizer corpora use one when there is one.
    if(LLAMA_CPP_DIR)
        set(LLAMAC_LLAMA_SOURCE_DIR "${LLAMA_CPP_DIR}")
    elseif(EXISTS "${PROJECT_SOURCE_DIR}/.deps/llama.cpp/models")
        set(LLAMAC_LLAMA_SOURCE_DIR "${PROJECT_SOURCE_DIR}/.deps/llama.cpp")
    else()
        set(LLAMAC_LLAMA_SOURCE_DIR "")
    endif()
    if(LLAMAC_MTMD)
        find_library(LLAMAC_MTMD_LIBRARY mtmd HINTS "${LLAMA_LIB_DIR}" NO_DEFAULT_PATH)
        if(NOT LLAMAC_MTMD_LIBRARY OR NOT EXISTS "${LLAMA_INCLUDE_DIR}/mtmd-helper.h")
            message(FATAL_ERROR "llamac: the llama.cpp in ${LLAMA_PREBUILT_DIR} has no libmtmd (mtmd.h, "
                                "mtmd-helper.h): build it with -DLLAMA_BUILD_MTMD=ON, or configure llamac with "
                                "-DLLAMAC_MTMD=OFF (no multimodal input)")
        endif()
        add_library(mtmd UNKNOWN IMPORTED)
        set_target_properties(mtmd PROPERTIES IMPORTED_LOCATION "${LLAMAC_MTMD_LIBRARY}"
                                              INTERFACE_INCLUDE_DIRECTORIES "${LLAMA_INCLUDE_DIR}")
    endif()
    return()
endif()

if(LLAMA_CPP_DIR)
    set(LLAMAC_LLAMA_SOURCE_DIR "${LLAMA_CPP_DIR}")
    execute_process(COMMAND git -C "${LLAMA_CPP_DIR}" rev-parse HEAD
                    OUTPUT_VARIABLE LLAMAC_LLAMA_COMMIT_RESOLVED OUTPUT_STRIP_TRAILING_WHITESPACE
                    ERROR_QUIET)
    if(NOT LLAMAC_LLAMA_COMMIT_RESOLVED)
        set(LLAMAC_LLAMA_COMMIT_RESOLVED "unknown")
    endif()
    message(STATUS "llamac: building llama.cpp from LLAMA_CPP_DIR=${LLAMA_CPP_DIR} (${LLAMAC_LLAMA_COMMIT_RESOLVED})")
else()
    set(LLAMAC_LLAMA_SOURCE_DIR "${PROJECT_SOURCE_DIR}/.deps/llama.cpp")
    execute_process(COMMAND bash "${PROJECT_SOURCE_DIR}/scripts/fetch-llama.sh" "${LLAMAC_LLAMA_SOURCE_DIR}"
                    RESULT_VARIABLE fetch_result)
    if(NOT fetch_result EQUAL 0)
        message(FATAL_ERROR "llamac: could not obtain the pinned llama.cpp (see the messages above); "
                            "or set LLAMA_CPP_DIR / LLAMA_PREBUILT_DIR")
    endif()
    set(LLAMAC_LLAMA_COMMIT_RESOLVED "${LLAMAC_LLAMA_COMMIT}")
    message(STATUS "llamac: building pinned llama.cpp ${LLAMAC_LLAMA_COMMIT}")
endif()

# Map llamac's backend options onto ggml's; any other GGML_* cache variable passes through untouched.
set(GGML_NATIVE ${LLAMAC_NATIVE} CACHE BOOL "" FORCE)
if(LLAMAC_BLAS)
    set(GGML_BLAS ON CACHE BOOL "" FORCE)
    set(GGML_BLAS_VENDOR "OpenBLAS" CACHE STRING "" FORCE)
endif()
if(LLAMAC_CUDA)
    set(GGML_CUDA ON CACHE BOOL "" FORCE)
endif()
if(LLAMAC_VULKAN)
    set(GGML_VULKAN ON CACHE BOOL "" FORCE)
endif()
if(LLAMAC_RPC)
    set(GGML_RPC ON CACHE BOOL "" FORCE)
endif()

foreach(opt LLAMA_BUILD_TESTS LLAMA_BUILD_TOOLS LLAMA_BUILD_EXAMPLES LLAMA_BUILD_SERVER LLAMA_BUILD_COMMON
            LLAMA_BUILD_APP LLAMA_CURL LLAMA_OPENSSL LLAMA_BUILD_UI)
    set(${opt} OFF CACHE BOOL "" FORCE)
endforeach()
set(LLAMA_BUILD_MTMD ${LLAMAC_MTMD} CACHE BOOL "" FORCE)
set(MTMD_VIDEO OFF CACHE BOOL "" FORCE)
set(LLAMA_ALL_WARNINGS OFF CACHE BOOL "" FORCE)

# Statically linked, llama.cpp ends up inside libllamac: its own install rules (archives, headers, CMake files) are left
# out of llamac's install (EXCLUDE_FROM_ALL also keeps what nothing links out of `all`).
set(llamac_llama_exclude "")
if(LLAMAC_STATIC)
    set(llamac_llama_exclude EXCLUDE_FROM_ALL)
endif()
add_subdirectory("${LLAMAC_LLAMA_SOURCE_DIR}" "${CMAKE_BINARY_DIR}/llama.cpp" ${llamac_llama_exclude})
