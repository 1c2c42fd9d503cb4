#include <spawnpool/detail/registry.hpp>

#include <cxxabi.h>
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>

namespace spawnpool::detail {

namespace {

struct Registry {
  std::mutex mutex;  // registration may run from several shared libraries' initialisers
  std::map<std::string, std::unique_ptr<TaskEntry>, std::less<>> by_name;
  std::map<FunctionKey, const TaskEntry*> by_function;
  std::string conflicts;
};

Registry& registry() {
  static Registry instance;
  return instance;
}

}  // namespace

void register_task(TaskEntry entry) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto found = r.by_name.find(entry.name);
  if (found != r.by_name.end()) {
    if (found->second->function != entry.function && found->second->signature != 0) {
      r.conflicts += "task name \"" + entry.name + "\" is registered for two different functions (" +
                     found->second->signature_text + " and " + entry.signature_text +
                     "); use SPAWNPOOL_TASK_AS(fn, \"other name\") for one of them\n";
    }
    return;
  }
  auto owned = std::make_unique<TaskEntry>(std::move(entry));
  r.by_function.emplace(owned->function, owned.get());
  r.by_name.emplace(owned->name, std::move(owned));
}

const TaskEntry* find_task(std::string_view name) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto found = r.by_name.find(name);
  return found == r.by_name.end() ? nullptr : found->second.get();
}

const TaskEntry* find_task(FunctionKey function) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto found = r.by_function.find(function);
  return found == r.by_function.end() ? nullptr : found->second;
}

std::string registry_conflicts() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  return r.conflicts;
}

std::string demangle(const char* mangled) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> readable(
      abi::__cxa_demangle(mangled, nullptr, nullptr, &status), std::free);
  return status == 0 && readable ? std::string(readable.get()) : std::string(mangled);
}

std::string describe_function(FunctionKey function) {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(function), &info) != 0 && info.dli_sname != nullptr &&
      info.dli_saddr == reinterpret_cast<void*>(function)) {
    return demangle(info.dli_sname);
  }
  char address[32];
  std::snprintf(address, sizeof address, "%p", reinterpret_cast<void*>(function));
  return std::string("the function at ") + address;
}

}  // namespace spawnpool::detail
