# spawnpool_add_worker(<target> [<task source>...])
#
# Builds a dedicated worker program: the given task sources (the files whose SPAWNPOOL_TASK lines
# register the tasks) plus spawnpool's generic worker main (spawn/worker_main.cpp), linked with
# spawnpool::spawnpool. A manager spawns it with
#   spawnpool::Executor pool(spawnpool::Options{}.worker_program("<path of the target>"));
# (in CMake, pass $<TARGET_FILE:<target>> to the manager, e.g. as a compile definition).
# The worker has only the tasks linked into it, plus spawnpool's built-in command task; the manager
# must register the tasks it submits too (share the task sources, or a library, between both).
# Further settings go through the usual commands: target_link_libraries(<target> PRIVATE ...).
#
# Available in spawnpool's own build (after the library target) and from the installed package
# (find_package(spawnpool)).

if(NOT DEFINED SPAWNPOOL_WORKER_MAIN_SOURCE)
  # spawnpool's source tree; the installed package config sets the installed copy instead.
  set(SPAWNPOOL_WORKER_MAIN_SOURCE "${CMAKE_CURRENT_LIST_DIR}/../spawn/worker_main.cpp")
endif()
get_filename_component(SPAWNPOOL_WORKER_MAIN_SOURCE "${SPAWNPOOL_WORKER_MAIN_SOURCE}" ABSOLUTE)
# Kept as a global property so that the function finds it from any directory.
set_property(GLOBAL PROPERTY SPAWNPOOL_WORKER_MAIN_SOURCE "${SPAWNPOOL_WORKER_MAIN_SOURCE}")

function(spawnpool_add_worker target)
  if(NOT target)
    message(FATAL_ERROR "spawnpool_add_worker: give the name of the worker target to create")
  endif()
  if(NOT TARGET spawnpool::spawnpool)
    message(FATAL_ERROR "spawnpool_add_worker(${target}): the target spawnpool::spawnpool does not "
                        "exist here; call find_package(spawnpool) (or add spawnpool's directory) first")
  endif()
  get_property(worker_main GLOBAL PROPERTY SPAWNPOOL_WORKER_MAIN_SOURCE)
  if(NOT EXISTS "${worker_main}")
    message(FATAL_ERROR "spawnpool_add_worker(${target}): spawnpool's worker main is missing: "
                        "${worker_main}")
  endif()
  add_executable(${target} ${ARGN} "${worker_main}")
  target_link_libraries(${target} PRIVATE spawnpool::spawnpool)
endfunction()
