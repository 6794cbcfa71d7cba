# cmake -DLLAMAC=path/to/llamac -DOUT=dir -P ManPages.cmake: writes OUT/llamac.1 and OUT/llamac-COMMAND.1 for every
# command `llamac --help` lists, each printed by `llamac help --man [COMMAND]` from the option tables --help is
# printed from (tools/llamac/options.c). OUT is emptied first, so a removed command leaves no page behind.
execute_process(COMMAND "${LLAMAC}" --help OUTPUT_VARIABLE help RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${LLAMAC} --help failed (${rc})")
endif()
# The commands: the lines "  NAME  summary" between "commands:" and the next empty line.
string(REGEX MATCH "commands:\n(([^\n]+\n)+)" block "${help}")
string(REGEX MATCHALL "\n  [a-z][a-z0-9-]* " lines "\n${CMAKE_MATCH_1}")
list(LENGTH lines n)
if(n LESS 1)
    message(FATAL_ERROR "no commands in `${LLAMAC} --help`")
endif()
file(REMOVE_RECURSE "${OUT}")
file(MAKE_DIRECTORY "${OUT}")
# llamac_man(<file> [COMMAND]): OUT/<file>.1 from `llamac help --man [COMMAND]`.
function(llamac_man file)
    execute_process(COMMAND "${LLAMAC}" help --man ${ARGN} OUTPUT_FILE "${OUT}/${file}.1" RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
        file(REMOVE "${OUT}/${file}.1")
        message(FATAL_ERROR "${LLAMAC} help --man ${ARGN} failed (${rc})")
    endif()
endfunction()
llamac_man(llamac)
foreach(line ${lines})
    string(STRIP "${line}" name)
    llamac_man(llamac-${name} ${name})
endforeach()
