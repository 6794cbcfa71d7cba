# Install-time helpers of cmake/Install.cmake, for files whose text names where things are installed (a .pc file,
# the systemd unit): the prefix is only known when installing (`cmake --install --prefix`, `make install PREFIX=`,
# /usr in a package), so they are written then, from templates, honouring DESTDIR.
cmake_policy(VERSION 3.16) # install scripts run with no policies set

# llamac_install_dir(<out> <dir>): a GNUInstallDirs value (or a folder in one) made absolute for this install's
# prefix; the system configuration directory of the prefix /usr is /etc, as GNUInstallDirs has it.
function(llamac_install_dir out dir)
    if(IS_ABSOLUTE "${dir}")
        set(${out} "${dir}" PARENT_SCOPE)
    elseif(dir MATCHES "^etc(/.*)?$" AND CMAKE_INSTALL_PREFIX MATCHES "^/usr/?$")
        set(${out} "/${dir}" PARENT_SCOPE)
    else()
        set(${out} "${CMAKE_INSTALL_PREFIX}/${dir}" PARENT_SCOPE)
    endif()
endfunction()

# llamac_install_configured(<template> <dir> <name> <scratch> [KEEP] [SECRET]): configures <template> into
# <dir>/<name> (<dir> a GNUInstallDirs value, made absolute here) through the scratch directory <scratch>. The
# template sees the caller's variables and @llamac_prefix@, @llamac_bindir@, @llamac_libdir@, @llamac_includedir@ and
# @llamac_sysconfdir@ (absolute). KEEP leaves a file already there alone: a configuration file the user may have
# edited is not overwritten by the next `make install`. SECRET installs it readable by its owner only.
function(llamac_install_configured template dir name scratch)
    set(llamac_prefix "${CMAKE_INSTALL_PREFIX}")
    llamac_install_dir(llamac_bindir "${LLAMAC_BINDIR}")
    llamac_install_dir(llamac_libdir "${LLAMAC_LIBDIR}")
    llamac_install_dir(llamac_includedir "${LLAMAC_INCLUDEDIR}")
    llamac_install_dir(llamac_sysconfdir "${LLAMAC_SYSCONFDIR}")
    llamac_install_dir(target_dir "${dir}")
    if("KEEP" IN_LIST ARGN AND EXISTS "$ENV{DESTDIR}${target_dir}/${name}") # file(INSTALL) adds DESTDIR itself
        message(STATUS "Keeping: $ENV{DESTDIR}${target_dir}/${name}")
        return()
    endif()
    string(SHA1 tag "$ENV{DESTDIR}${target_dir}/${name}") # installs of one tree to several places may run at once
    set(scratch "${scratch}/${tag}")
    configure_file("${template}" "${scratch}/${name}" @ONLY)
    set(mode OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
    if("SECRET" IN_LIST ARGN)
        set(mode OWNER_READ OWNER_WRITE)
    endif()
    file(INSTALL "${scratch}/${name}" DESTINATION "${target_dir}" FILE_PERMISSIONS ${mode})
    file(REMOVE_RECURSE "${scratch}")
    set(CMAKE_INSTALL_MANIFEST_FILES "${CMAKE_INSTALL_MANIFEST_FILES}" PARENT_SCOPE) # for install_manifest.txt
endfunction()
