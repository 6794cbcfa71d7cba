# What `cmake --install` (and `make install`, `make deb`) installs, in three components that become the three Debian
# packages of cmake/Deb.cmake:
#   lib   the shared library                                            (libllamac<SOVERSION>)
#   dev   headers, the static library, llamac.pc and llamac-static.pc,  (libllamac-dev)
#         llamacConfig.cmake with its version file
#   bin   the llamac command, its man pages, bash and zsh completions,  (llamac)
#         the systemd unit of `llamac serve` and its flags file in /etc
# Included by the top-level CMakeLists.txt after every target exists. README "Install" says how to use what it
# installs; cmake/Library.cmake says which library llamac::llamac is.
include(CMakePackageConfigHelpers)

get_target_property(llamac_shared_target llamac::llamac ALIASED_TARGET)
get_target_property(llamac_soversion ${llamac_shared_target} SOVERSION)
set(llamac_pkg_dir "${CMAKE_BINARY_DIR}/package")
set(llamac_cmake_dir "${CMAKE_INSTALL_LIBDIR}/cmake/llamac")

# ---- the libraries and headers ----------------------------------------------------------------------------------

# Embedding llama.cpp, the installed library links system libraries only: no run path. (Linking a shared llama.cpp,
# it keeps the default one, which finds a llama.cpp installed in the same prefix.) The command finds it beside it.
if(LLAMAC_STATIC)
    set_target_properties(${llamac_shared_target} PROPERTIES INSTALL_RPATH "")
endif()
install(TARGETS ${llamac_shared_target} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT lib
                                        NAMELINK_COMPONENT dev)
install(FILES include/llamac.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev)
install(DIRECTORY include/llamac DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev)

# The static libraries <target> links, itself first, walked through its link dependencies: whatever llama.cpp's build
# links (mtmd, the RPC or a GPU backend) is found here, nothing is listed by hand. (System libraries are not
# collected here: a subproject's imported targets such as OpenMP's are not visible from this directory.)
function(llamac_static_archives target out)
    set(todo ${target})
    set(seen "")
    set(archives "")
    while(todo)
        list(POP_FRONT todo item)
        if(item MATCHES "^\\$<LINK_ONLY:(.*)>$" OR item MATCHES "^\\$<BUILD_INTERFACE:(.*)>$")
            set(item "${CMAKE_MATCH_1}")
        endif()
        if(NOT TARGET "${item}" OR item IN_LIST seen)
            continue()
        endif()
        list(APPEND seen "${item}")
        get_target_property(aliased "${item}" ALIASED_TARGET)
        if(aliased)
            list(APPEND todo "${aliased}")
            continue()
        endif()
        get_target_property(type "${item}" TYPE)
        get_target_property(imported "${item}" IMPORTED)
        get_target_property(deps "${item}" INTERFACE_LINK_LIBRARIES)
        if(deps)
            list(APPEND todo ${deps})
        endif()
        if(NOT imported AND NOT type STREQUAL "INTERFACE_LIBRARY")
            get_target_property(deps "${item}" LINK_LIBRARIES)
            if(deps)
                list(APPEND todo ${deps})
            endif()
        endif()
        if(type STREQUAL "STATIC_LIBRARY")
            list(APPEND archives "${item}")
        elseif(type STREQUAL "SHARED_LIBRARY" AND NOT imported)
            message(FATAL_ERROR "llamac: ${target} links the shared library ${item}; LLAMAC_STATIC needs it static")
        endif()
    endwhile()
    set(${out} "${archives}" PARENT_SCOPE)
endfunction()

# With LLAMAC_STATIC, the static library: libllamac.a with every archive it needs from llama.cpp merged in (GNU ar's
# MRI script). It keeps llama.cpp's symbols global (an archive cannot hide them): a program that links another
# llama.cpp statically uses the shared library instead. What a static link adds is what the shared library needs
# (its NEEDED entries, read once it is linked: cmake/NeededLibs.cmake), for llamac-static.pc and llamacConfig.cmake.
if(LLAMAC_STATIC)
    llamac_static_archives(llamac llamac_archives)
    set(archive "${llamac_pkg_dir}/libllamac.a")
    set(mri "CREATE ${archive}")
    foreach(lib ${llamac_archives})
        string(APPEND mri "\nADDLIB $<TARGET_FILE:${lib}>")
    endforeach()
    file(GENERATE OUTPUT "${llamac_pkg_dir}/libllamac.mri" CONTENT "${mri}\nSAVE\nEND\n")
    add_custom_command(OUTPUT "${archive}"
        COMMAND ${CMAKE_COMMAND} -E rm -f "${archive}"
        COMMAND ${CMAKE_COMMAND} -DAR=${CMAKE_AR} -DSCRIPT=${llamac_pkg_dir}/libllamac.mri
                -P "${PROJECT_SOURCE_DIR}/cmake/MergeArchives.cmake"
        DEPENDS ${llamac_archives} "${llamac_pkg_dir}/libllamac.mri" "${PROJECT_SOURCE_DIR}/cmake/MergeArchives.cmake"
        COMMENT "Merging llama.cpp's archives into libllamac.a" VERBATIM)
    add_custom_command(OUTPUT "${llamac_pkg_dir}/static-libs.txt" "${llamac_pkg_dir}/llamacStaticLibs.cmake"
        COMMAND ${CMAKE_COMMAND} -DREADELF=${CMAKE_READELF} -DLIB=$<TARGET_FILE:${llamac_shared_target}>
                -DOUT=${llamac_pkg_dir} -P "${PROJECT_SOURCE_DIR}/cmake/NeededLibs.cmake"
        DEPENDS ${llamac_shared_target} "${PROJECT_SOURCE_DIR}/cmake/NeededLibs.cmake"
        COMMENT "Listing the libraries a static link of libllamac needs" VERBATIM)
    add_custom_target(llamac_static_archive ALL
        DEPENDS "${archive}" "${llamac_pkg_dir}/static-libs.txt" "${llamac_pkg_dir}/llamacStaticLibs.cmake")
    install(FILES "${archive}" DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
    install(FILES "${llamac_pkg_dir}/llamacStaticLibs.cmake" DESTINATION "${llamac_cmake_dir}" COMPONENT dev)
endif()

# ---- pkg-config and CMake package --------------------------------------------------------------------------------

# Install-time values for cmake/InstallTime.cmake (the .pc files and the systemd unit hold absolute paths).
set(llamac_install_code "
include(\"${PROJECT_SOURCE_DIR}/cmake/InstallTime.cmake\")
set(LLAMAC_BINDIR \"${CMAKE_INSTALL_BINDIR}\")
set(LLAMAC_LIBDIR \"${CMAKE_INSTALL_LIBDIR}\")
set(LLAMAC_INCLUDEDIR \"${CMAKE_INSTALL_INCLUDEDIR}\")
set(LLAMAC_SYSCONFDIR \"${CMAKE_INSTALL_SYSCONFDIR}\")
set(LLAMAC_VERSION \"${PROJECT_VERSION}\")
if(EXISTS \"${llamac_pkg_dir}/static-libs.txt\")
    file(READ \"${llamac_pkg_dir}/static-libs.txt\" LLAMAC_STATIC_LIBS)
endif()
set(scratch \"${llamac_pkg_dir}/install\")")

install(CODE "${llamac_install_code}
llamac_install_configured(\"${PROJECT_SOURCE_DIR}/packaging/llamac.pc.in\" \"${CMAKE_INSTALL_LIBDIR}/pkgconfig\"
                          llamac.pc \"\${scratch}\")" COMPONENT dev)
if(LLAMAC_STATIC)
    install(CODE "${llamac_install_code}
llamac_install_configured(\"${PROJECT_SOURCE_DIR}/packaging/llamac-static.pc.in\"
                          \"${CMAKE_INSTALL_LIBDIR}/pkgconfig\" llamac-static.pc \"\${scratch}\")" COMPONENT dev)
endif()

# llamacConfig.cmake finds the files relative to itself, so it holds for any prefix.
set(LLAMAC_CONFIG_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
set(LLAMAC_CONFIG_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
set(LLAMAC_SHARED_FILE "${CMAKE_SHARED_LIBRARY_PREFIX}llamac${CMAKE_SHARED_LIBRARY_SUFFIX}.${PROJECT_VERSION}")
set(LLAMAC_SONAME "${CMAKE_SHARED_LIBRARY_PREFIX}llamac${CMAKE_SHARED_LIBRARY_SUFFIX}.${llamac_soversion}")
configure_package_config_file(packaging/llamacConfig.cmake.in "${llamac_pkg_dir}/llamacConfig.cmake"
    INSTALL_DESTINATION "${llamac_cmake_dir}" PATH_VARS LLAMAC_CONFIG_LIBDIR LLAMAC_CONFIG_INCLUDEDIR)
# Before 1.0 any minor release may change the ABI; from 1.0 on, the major version says.
if(PROJECT_VERSION_MAJOR EQUAL 0)
    set(compatibility SameMinorVersion)
else()
    set(compatibility SameMajorVersion)
endif()
write_basic_package_version_file("${llamac_pkg_dir}/llamacConfigVersion.cmake" COMPATIBILITY ${compatibility})
install(FILES "${llamac_pkg_dir}/llamacConfig.cmake" "${llamac_pkg_dir}/llamacConfigVersion.cmake"
        DESTINATION "${llamac_cmake_dir}" COMPONENT dev)

# ---- the command -------------------------------------------------------------------------------------------------

install(TARGETS llamac_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT bin)

# Completions read the help of the llamac they complete (packaging/completions). zsh looks in site-functions, and
# under /usr on Debian in vendor-completions.
install(FILES packaging/completions/llamac.bash DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/bash-completion/completions
        RENAME llamac COMPONENT bin)
install(CODE "${llamac_install_code}
set(zsh_dir site-functions)
if(CMAKE_INSTALL_PREFIX MATCHES \"^/usr/?$\")
    set(zsh_dir vendor-completions)
endif()
llamac_install_configured(\"${PROJECT_SOURCE_DIR}/packaging/completions/_llamac.zsh\"
                          \"${CMAKE_INSTALL_DATAROOTDIR}/zsh/\${zsh_dir}\" _llamac \"\${scratch}\")" COMPONENT bin)

# Man pages, generated by the build from the command's option tables (tools/llamac/CMakeLists.txt).
install(DIRECTORY "${LLAMAC_MAN_DIR}/man1" DESTINATION ${CMAKE_INSTALL_MANDIR} COMPONENT bin)

# `llamac serve` as a systemd service, llamac-serve@PORT (deploy/systemd: the one unit the deploy documentation uses
# too); the flags a user sets once are in <sysconfdir>/llamac/serve.conf (a file the next install keeps when it is
# there; root's only, as it may hold an API key).
install(CODE "${llamac_install_code}
llamac_install_configured(\"${PROJECT_SOURCE_DIR}/deploy/systemd/llamac-serve@.service.in\" lib/systemd/system
                          llamac-serve@.service \"\${scratch}\")
llamac_install_configured(\"${PROJECT_SOURCE_DIR}/deploy/systemd/serve.conf\" \"${CMAKE_INSTALL_SYSCONFDIR}/llamac\"
                          serve.conf \"\${scratch}\" KEEP SECRET)" COMPONENT bin)

include(${PROJECT_SOURCE_DIR}/cmake/Deb.cmake)
