# cmake -DSRC=<source> -DBIN=<tree> -DCONFIGURE="a|b|…" -DTARGETS="t1|t2|…" -P build_tree.cmake
# Configure BIN once (with CONFIGURE's cache arguments), then build TARGETS
# incrementally; a warm tree costs only Ninja's up-to-date check.
string(REPLACE "|" ";" conf "${CONFIGURE}")
string(REPLACE "|" ";" targets "${TARGETS}")
if(NOT EXISTS ${BIN}/CMakeCache.txt)
  execute_process(COMMAND ${CMAKE_COMMAND} -S ${SRC} -B ${BIN} -G Ninja ${conf} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "configuring ${BIN} failed (${rc})")
  endif()
endif()
cmake_host_system_information(RESULT ncpu QUERY NUMBER_OF_LOGICAL_CORES)
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BIN} -j ${ncpu} --target ${targets} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building ${targets} in ${BIN} failed (${rc})")
endif()
