#pragma once
/// @file spawnpool.hpp
/// Umbrella header: everything a program using spawnpool needs, including cereal's support for the
/// standard library types most often used as task arguments and results.

#include <cereal/types/array.hpp>
#include <cereal/types/complex.hpp>
#include <cereal/types/deque.hpp>
#include <cereal/types/list.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/memory.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/set.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/tuple.hpp>
#include <cereal/types/unordered_map.hpp>
#include <cereal/types/unordered_set.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/variant.hpp>
#include <cereal/types/vector.hpp>
#include <cereal/types/chrono.hpp>

#include <spawnpool/batch.hpp>
#include <spawnpool/command.hpp>
#include <spawnpool/communicator.hpp>
#include <spawnpool/errors.hpp>
#include <spawnpool/executor.hpp>
#include <spawnpool/executor_concept.hpp>
#include <spawnpool/future.hpp>
#include <spawnpool/map_result.hpp>
#include <spawnpool/mpi_program.hpp>
#include <spawnpool/options.hpp>
#include <spawnpool/runtime.hpp>
#include <spawnpool/service.hpp>
#include <spawnpool/task.hpp>
#include <spawnpool/task_comm.hpp>
#include <spawnpool/thread_executor.hpp>
#include <spawnpool/version.hpp>
#include <spawnpool/wait.hpp>
