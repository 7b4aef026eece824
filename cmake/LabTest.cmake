# lab_add_test(NAME <name> SOURCES <files...> LIBS <libs...> LABELS <labels...> [PG])
#
# The one helper that registers a GoogleTest binary with ctest. Every test case
# becomes its own ctest entry carrying the given labels (unit, fm, sim).
# PG: the binary has PostgreSQL cases; each case then carries the label pg,
# requires the private server fixture (cmake/PgFixture.cmake) and finds it
# in LAB_PG_URL.
function(lab_add_test)
  cmake_parse_arguments(T "PG" "NAME" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main)
  if(T_PG)
    # One label only: gtest_discover_tests passes PROPERTIES as a flat list,
    # and a list-valued LABELS does not survive it.
    gtest_discover_tests(${T_NAME}
      DISCOVERY_MODE PRE_TEST
      PROPERTIES LABELS pg FIXTURES_REQUIRED pg
                 ENVIRONMENT "LAB_PG_URL=${LAB_PG_URL}")
  else()
    gtest_discover_tests(${T_NAME}
      DISCOVERY_MODE PRE_TEST
      PROPERTIES LABELS "${T_LABELS}")
  endif()
endfunction()
