# llamac::llamac, the library programs link and `make install` ships (included by src/CMakeLists.txt once the
# llamac target exists).
#
# With llama.cpp as shared libraries (the default build, and LLAMA_PREBUILT_DIR such as a distribution's own
# llama.cpp) llamac::llamac is libllamac.so itself, which needs those libraries at run time. With LLAMAC_STATIC
# (llama.cpp as static archives: what `make install` and `make deb` build) it is a second libllamac.so that embeds
# llama.cpp, so nothing of llama.cpp is installed beside it; the `llamac` target stays the static library the tests
# link (they share llama.cpp's global state with it), and cmake/Install.cmake merges llama.cpp's archives into the
# libllamac.a it installs. Either way the shared library exports llamac_* and nothing else (cmake/llamac.map), so a
# program can load it next to another llama.cpp. README "Install" argues the choice.

# The SONAME carries the major version; before 1.0, when any release may change the ABI (llamac.h), the minor too.
if(PROJECT_VERSION_MAJOR EQUAL 0)
    set(llamac_soversion "0.${PROJECT_VERSION_MINOR}")
else()
    set(llamac_soversion "${PROJECT_VERSION_MAJOR}")
endif()
set(llamac_map "${PROJECT_SOURCE_DIR}/cmake/llamac.map")
set(llamac_shared_options "LINKER:--version-script=${llamac_map}")
if(NOT LLAMAC_SANITIZE AND NOT LLAMAC_FUZZ) # a sanitizer's runtime may come with the program, not the library
    list(APPEND llamac_shared_options "LINKER:--no-undefined") # every library it needs is linked
endif()

if(NOT LLAMAC_STATIC)
    set_target_properties(llamac PROPERTIES VERSION ${PROJECT_VERSION} SOVERSION ${llamac_soversion}
                                            LINK_DEPENDS "${llamac_map}")
    target_link_options(llamac PRIVATE ${llamac_shared_options})
    add_library(llamac::llamac ALIAS llamac)
    return()
endif()

# The shared library of a static build: llamac's own objects (compiled once, for the static library) linked against
# the static llama.cpp, so the llama.cpp objects it uses are copied in.
add_library(llamac_shared SHARED $<TARGET_OBJECTS:llamac>)
target_link_libraries(llamac_shared PRIVATE llamac)
target_link_options(llamac_shared PRIVATE ${llamac_shared_options})
target_include_directories(llamac_shared INTERFACE
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
set_target_properties(llamac_shared PROPERTIES OUTPUT_NAME llamac VERSION ${PROJECT_VERSION}
                                               SOVERSION ${llamac_soversion} LINK_DEPENDS "${llamac_map}")
add_library(llamac::llamac ALIAS llamac_shared)
