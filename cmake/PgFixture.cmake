# A private PostgreSQL server for the tests that need one (label pg).
#
# ctest starts it before the first test that requires the `pg` fixture and
# stops it by its pid after the last, even when tests fail. The state dir is
# short (Unix socket paths are limited to ~100 bytes) and unique per build
# tree, so the normal and the sanitizer builds never share a server.
string(MD5 LAB_PG_HASH "${CMAKE_BINARY_DIR}")
string(SUBSTRING "${LAB_PG_HASH}" 0 10 LAB_PG_HASH)
set(LAB_PG_STATE "/tmp/lab-pg-${LAB_PG_HASH}")
set(LAB_PG_URL "postgresql://postgres@/postgres?host=${LAB_PG_STATE}&port=5432")

add_test(NAME pg.server.start COMMAND ${PROJECT_SOURCE_DIR}/tools/pg_server.sh start ${LAB_PG_STATE})
add_test(NAME pg.server.stop COMMAND ${PROJECT_SOURCE_DIR}/tools/pg_server.sh stop ${LAB_PG_STATE})
set_tests_properties(pg.server.start PROPERTIES FIXTURES_SETUP pg LABELS pg)
set_tests_properties(pg.server.stop PROPERTIES FIXTURES_CLEANUP pg LABELS pg)
