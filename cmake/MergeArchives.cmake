# cmake -DAR=ar -DSCRIPT=file.mri -P MergeArchives.cmake: runs an MRI script through GNU ar (cmake/Library.cmake
# writes one that merges llama.cpp's archives into libllamac.a).
execute_process(COMMAND "${AR}" -M INPUT_FILE "${SCRIPT}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${AR} -M < ${SCRIPT} failed (${rc}): merging archives needs GNU ar")
endif()
