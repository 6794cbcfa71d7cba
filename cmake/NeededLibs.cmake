# cmake -DREADELF=readelf -DLIB=libllamac.so -DOUT=dir -P NeededLibs.cmake: the libraries a static link of libllamac
# needs besides libllamac.a, as linker flags: those the shared library of the same build needs (its NEEDED entries,
# so whatever llama.cpp's build links - OpenMP, a GPU runtime - is in), less the C runtime every link has. Writes
# OUT/static-libs.txt (for llamac-static.pc) and OUT/llamacStaticLibs.cmake (for llamacConfig.cmake).
execute_process(COMMAND "${READELF}" -d "${LIB}" OUTPUT_VARIABLE dynamic RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${READELF} -d ${LIB} failed")
endif()
string(REGEX MATCHALL "\\(NEEDED\\)[^\n]*\\[[^]\n]+\\]" entries "${dynamic}")
set(flags "")
foreach(entry ${entries})
    string(REGEX REPLACE ".*\\[(.+)\\]" "\\1" soname "${entry}")
    if(soname MATCHES "^(libc|ld-linux.*|libgcc_s)\\.so")
        continue()
    endif()
    string(REGEX REPLACE "^lib(.+)\\.so(\\..*)?$" "\\1" name "${soname}")
    list(APPEND flags "-l${name}")
endforeach()
string(JOIN " " text ${flags})
file(WRITE "${OUT}/static-libs.txt" "${text}")
file(WRITE "${OUT}/llamacStaticLibs.cmake"
     "# What a static link of libllamac needs besides libllamac.a (llamac's cmake/NeededLibs.cmake).\n"
     "set(llamac_static_link_libraries \"${flags}\")\n")
