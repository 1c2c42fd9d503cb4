# Finds the MPI spawnpool is built against, by name, never through the `mpicxx`/`mpiexec`
# alternatives (installing Debian's python3-mpi4py switches those to Open MPI).
#
#   SPAWNPOOL_MPI=mpich    (default) MPICH 4.0.2 with spawn support, built by scripts/setup.sh into
#                          $SPAWNPOOL_MPICH_PREFIX (default /opt/spawnpool/mpich-4.0.2-ch3).
#   SPAWNPOOL_MPI=openmpi  Debian's Open MPI (scripts/setup.sh --openmpi installs it).
# An explicit MPI_HOME or MPI_CXX_COMPILER on the command line wins over both.
set(SPAWNPOOL_MPI "mpich" CACHE STRING "MPI to build against: mpich or openmpi")
set_property(CACHE SPAWNPOOL_MPI PROPERTY STRINGS mpich openmpi)

if(NOT MPI_HOME AND NOT MPI_CXX_COMPILER)
  if(SPAWNPOOL_MPI STREQUAL "mpich")
    if(DEFINED ENV{SPAWNPOOL_MPICH_PREFIX})
      set(_spawnpool_mpi_prefix "$ENV{SPAWNPOOL_MPICH_PREFIX}")
    else()
      set(_spawnpool_mpi_prefix "/opt/spawnpool/mpich-4.0.2-ch3")
    endif()
    if(NOT EXISTS "${_spawnpool_mpi_prefix}/bin/mpicxx")
      message(FATAL_ERROR
        "spawnpool: MPICH with spawn support not found in ${_spawnpool_mpi_prefix}. "
        "Run scripts/setup.sh (it builds it there), or set SPAWNPOOL_MPICH_PREFIX, "
        "or configure with -DSPAWNPOOL_MPI=openmpi.")
    endif()
    set(MPI_HOME "${_spawnpool_mpi_prefix}")
    set(MPI_C_COMPILER "${_spawnpool_mpi_prefix}/bin/mpicc")
    set(MPI_CXX_COMPILER "${_spawnpool_mpi_prefix}/bin/mpicxx")
    set(MPIEXEC_EXECUTABLE "${_spawnpool_mpi_prefix}/bin/mpiexec" CACHE FILEPATH "mpiexec")
  elseif(SPAWNPOOL_MPI STREQUAL "openmpi")
    if(NOT EXISTS /usr/bin/mpicxx.openmpi)
      message(FATAL_ERROR "spawnpool: Debian's Open MPI not found; run scripts/setup.sh --openmpi")
    endif()
    set(MPI_C_COMPILER /usr/bin/mpicc.openmpi)
    set(MPI_CXX_COMPILER /usr/bin/mpicxx.openmpi)
    set(MPIEXEC_EXECUTABLE /usr/bin/mpiexec.openmpi CACHE FILEPATH "mpiexec")
  else()
    message(FATAL_ERROR "spawnpool: SPAWNPOOL_MPI must be mpich or openmpi, not '${SPAWNPOOL_MPI}'")
  endif()
endif()

find_package(MPI REQUIRED COMPONENTS CXX)
message(STATUS "spawnpool: MPI ${MPI_CXX_VERSION} from ${MPI_CXX_COMPILER}, launcher ${MPIEXEC_EXECUTABLE}")
