# `make deb` (cpack -G DEB in a LLAMAC_STATIC build): the three components of cmake/Install.cmake as three Debian
# packages, installed under /usr:
#   libllamac<SOVERSION>   the shared library (llama.cpp inside)
#   libllamac-dev          headers, the static library, pkg-config and CMake files
#   llamac                 the command, completions, the llamac-serve systemd unit and /etc/llamac
# The Depends on Debian's libraries (libc, libstdc++, libgomp, jansson, libcurl, libmicrohttpd, libedit, ...) are
# what dpkg-shlibdeps reads from the binaries, so they follow whatever the build links; the packages depend on each
# other at exactly this version. There are no maintainer scripts: the library cache is refreshed by dpkg's ldconfig
# trigger, and the service is not started or enabled (it needs a model first; README "Install").
if(NOT LLAMAC_STATIC)
    return() # a shared llama.cpp would have to be packaged beside it; README "Install" says why it is not
endif()
get_target_property(llamac_soversion llamac::llamac SOVERSION)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME llamac)
set(CPACK_PACKAGE_VENDOR llamac)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DIRECTORY "${CMAKE_BINARY_DIR}/deb")
# Installed under DESTDIR for the prefix /usr, which puts the configuration in /etc (cmake/InstallTime.cmake).
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_RESOURCE_FILE_LICENSE "${PROJECT_SOURCE_DIR}/LICENSE")
set(LLAMAC_DEB_MAINTAINER "llamac maintainers <llamac@localhost>" CACHE STRING "Maintainer field of `make deb`")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${LLAMAC_DEB_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL lib dev bin)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# dpkg-shlibdeps finds libllamac here, not in a package: the command's dependency on it is the component's, below.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS "${CMAKE_LIBRARY_OUTPUT_DIRECTORY}")
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_STRIP_FILES ON) # the library and the command, as Debian ships binaries

set(CPACK_DEBIAN_LIB_PACKAGE_NAME "libllamac${llamac_soversion}")
set(CPACK_DEBIAN_LIB_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_LIB_DESCRIPTION "safe, high-level C library over llama.cpp
libllamac runs GGUF language models: loading, tokenizing, generation with llama.cpp's samplers, chat templates,
chat sessions, embeddings and reranking, structured output, a multi-sequence serving engine, quantization and
Hugging Face downloads. Every call is checked and reports a precise error. llama.cpp is built into the library
and hidden: it exports only llamac_* symbols.")
# The shlibs file maps the SONAME to this exact version: before 1.0 any release may change the ABI.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY "=")
set(CPACK_DEBIAN_LIB_PACKAGE_CONTROL_EXTRA "${PROJECT_SOURCE_DIR}/packaging/deb/triggers"
                                           "${PROJECT_SOURCE_DIR}/packaging/deb/postinst"
                                           "${PROJECT_SOURCE_DIR}/packaging/deb/postrm")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libllamac-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_COMPONENT_DEV_DEPENDS lib)
# The static library needs jansson and libcurl at link time (llamac-static.pc names them).
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "libjansson-dev, libcurl4-openssl-dev | libcurl-dev")
set(CPACK_DEBIAN_DEV_DESCRIPTION "safe, high-level C library over llama.cpp (development files)
Headers (llamac.h), the static library with llama.cpp inside, pkg-config files (llamac, llamac-static) and the
CMake package (find_package(llamac): llamac::llamac, llamac::llamac_static).")

set(CPACK_DEBIAN_BIN_PACKAGE_NAME llamac)
set(CPACK_DEBIAN_BIN_PACKAGE_SECTION utils)
set(CPACK_COMPONENT_BIN_DEPENDS lib)
set(CPACK_DEBIAN_BIN_PACKAGE_CONTROL_EXTRA "${PROJECT_SOURCE_DIR}/packaging/deb/conffiles")
set(CPACK_DEBIAN_BIN_DESCRIPTION "run GGUF language models from the command line, and serve them over HTTP
llamac runs, chats with, embeds with, quantizes, inspects, splits and downloads GGUF models. llamac serve is an
OpenAI-compatible HTTP server with continuous batching and a prompt cache; the llamac-serve systemd unit runs it
with the flags in /etc/llamac/serve.conf.")

include(CPack)
