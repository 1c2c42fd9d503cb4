# SPAWNPOOL_SANITIZE: a comma-separated list of sanitizers (e.g. "address,undefined") for spawnpool's
# library, tests, examples and benchmarks. Empty (the default) builds without sanitizers. Applies to
# the targets of this project only (directory-wide compile and link options), never to what users
# get from the installed package. scripts/test-sanitizers.sh builds and tests such a build.
set(SPAWNPOOL_SANITIZE "" CACHE STRING
    "Sanitizers for spawnpool's own targets, e.g. address,undefined (empty: none)")
if(SPAWNPOOL_SANITIZE)
  set(_spawnpool_sanitize_flags -fsanitize=${SPAWNPOOL_SANITIZE} -fno-omit-frame-pointer)
  if(SPAWNPOOL_SANITIZE MATCHES "undefined")
    # A UBSan report fails the run instead of scrolling past.
    list(APPEND _spawnpool_sanitize_flags -fno-sanitize-recover=undefined)
  endif()
  add_compile_options(${_spawnpool_sanitize_flags})
  add_link_options(${_spawnpool_sanitize_flags})
  message(STATUS "spawnpool: building with -fsanitize=${SPAWNPOOL_SANITIZE}")
endif()
