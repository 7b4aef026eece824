# lab_add_test(NAME <name> SOURCES <files...> LIBS <libs...> LABELS <labels...>)
#
# The one helper that registers a GoogleTest binary with ctest. Every test case
# becomes its own ctest entry carrying the given labels (unit, fm, sim, slow).
function(lab_add_test)
  cmake_parse_arguments(T "" "NAME" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main)
  gtest_discover_tests(${T_NAME}
    DISCOVERY_MODE PRE_TEST
    PROPERTIES LABELS "${T_LABELS}")
endfunction()
