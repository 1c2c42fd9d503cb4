#include "exception_type.hpp"

#include <spawnpool/detail/registry.hpp>  // demangle

#include <cxxabi.h>

#include <typeinfo>

namespace spawnpool::detail {

std::string current_exception_type() {
  const std::type_info* type = abi::__cxa_current_exception_type();
  return type ? demangle(type->name()) : std::string("unknown exception");
}

}  // namespace spawnpool::detail
