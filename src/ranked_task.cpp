// Names, checks and messages of k-rank tasks (ranked_task.hpp); their MPI side is rank_group.cpp.

#include <spawnpool/detail/ranked_task.hpp>

#include "exception_type.hpp"

#include <stdexcept>

namespace spawnpool::detail {

std::string all_ranks_task_name(std::string_view name) { return std::string(name) + "[all ranks]"; }

const TaskEntry& require_all_ranks_twin(const TaskEntry& plain) {
  const TaskEntry* twin = find_task(all_ranks_task_name(plain.name));
  if (twin == nullptr) {
    throw UnregisteredTask("spawnpool: task '" + plain.name +
                           "' has no all-ranks form (it is not a k-rank task)");
  }
  return *twin;
}

std::string ranked_entry_name(FunctionKey function, bool all_ranks) {
  const TaskEntry* plain = find_task(function);
  if (plain == nullptr) return "(unregistered k-rank task)";
  return all_ranks ? all_ranks_task_name(plain->name) : plain->name;
}

void check_ranks(int ranks) {
  if (ranks < 1) {
    throw Error("spawnpool: TaskOptions::ranks must be at least 1, got " + std::to_string(ranks));
  }
}

std::string describe_rank_failure(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return current_exception_type() + ": " + e.what();
  } catch (...) {
    return current_exception_type();
  }
}

void throw_rank_failure(int rank, int size, const std::vector<char>& what) {
  throw std::runtime_error("rank " + std::to_string(rank) + " of the task's " +
                           std::to_string(size) + " ranks failed: " +
                           std::string(what.begin(), what.end()));
}

}  // namespace spawnpool::detail
