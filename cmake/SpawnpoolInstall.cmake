# `cmake --install <build> --prefix <P>` puts into <P>:
#   include/spawnpool/...                  the public headers (version.hpp as generated)
#   lib/libspawnpool.a                     the library
#   bin/spawnpool-worker                   a generic worker program: no tasks of its own, only the
#                                          built-in command task (spawnpool::run_command)
#   share/spawnpool/worker_main.cpp        the generic worker main, compiled by spawnpool_add_worker
#   lib/cmake/spawnpool/                   the package: find_package(spawnpool) gives the targets
#                                          spawnpool::spawnpool and spawnpool::worker and the function
#                                          spawnpool_add_worker, and finds the same MPI, cereal and
#                                          Threads the library was built with.
# Included at the end of the top-level CMakeLists.txt.

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

option(SPAWNPOOL_INSTALL "Generate spawnpool's install rules" ${PROJECT_IS_TOP_LEVEL})

# The generic worker program (built always, so that the tests can use it too).
spawnpool_add_worker(spawnpool_worker)
set_target_properties(spawnpool_worker PROPERTIES
  OUTPUT_NAME spawnpool-worker
  EXPORT_NAME worker
  # Keep the path to the MPI libraries (e.g. /opt/spawnpool/mpich-4.0.2-ch3/lib) once installed.
  INSTALL_RPATH_USE_LINK_PATH TRUE)

if(NOT SPAWNPOOL_INSTALL)
  return()
endif()

set(SPAWNPOOL_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/spawnpool")
set(SPAWNPOOL_DATA_DIR "${CMAKE_INSTALL_DATADIR}/spawnpool")

install(DIRECTORY include/spawnpool DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
        FILES_MATCHING PATTERN "*.hpp")
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/include/spawnpool/version.hpp"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/spawnpool")
install(TARGETS spawnpool spawnpool_worker EXPORT spawnpoolTargets
        ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}"
        INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
install(FILES spawn/worker_main.cpp DESTINATION "${SPAWNPOOL_DATA_DIR}")
install(EXPORT spawnpoolTargets NAMESPACE spawnpool:: DESTINATION "${SPAWNPOOL_CMAKE_DIR}")

# The MPI the library was built with, recorded for the package config.
set(SPAWNPOOL_BUILT_MPI_CXX_COMPILER "${MPI_CXX_COMPILER}")
set(SPAWNPOOL_BUILT_MPIEXEC "${MPIEXEC_EXECUTABLE}")
configure_package_config_file(cmake/spawnpoolConfig.cmake.in
  "${CMAKE_CURRENT_BINARY_DIR}/spawnpoolConfig.cmake"
  INSTALL_DESTINATION "${SPAWNPOOL_CMAKE_DIR}"
  PATH_VARS SPAWNPOOL_DATA_DIR)
write_basic_package_version_file("${CMAKE_CURRENT_BINARY_DIR}/spawnpoolConfigVersion.cmake"
  COMPATIBILITY SameMinorVersion)
install(FILES
  "${CMAKE_CURRENT_BINARY_DIR}/spawnpoolConfig.cmake"
  "${CMAKE_CURRENT_BINARY_DIR}/spawnpoolConfigVersion.cmake"
  cmake/SpawnpoolWorker.cmake
  DESTINATION "${SPAWNPOOL_CMAKE_DIR}")
