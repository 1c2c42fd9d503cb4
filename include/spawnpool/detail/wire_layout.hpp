#pragma once
// What decides a type's bytes on the wire, as far as C++17 can tell, for task signatures: a
// manager and a worker built from different definitions of a type of the same name must not
// decode each other's bytes into garbage.
//
// For each type: its size, its alignment, whether it is trivially copyable (then it may travel as
// raw bytes), and its cereal class version (CEREAL_CLASS_VERSION; 0 without one); for standard
// containers, pairs, tuples and optionals, the same of what they hold. A struct's members cannot
// be listed in C++17: a changed member that keeps the struct's size and alignment (an int turned
// into a float, two members swapped) is not seen. Give such types a CEREAL_CLASS_VERSION and raise
// it when their members change.

#include <cereal/details/helpers.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

namespace spawnpool::detail {

template <class T>
void append_wire_layout(std::string& out);

template <class T, class = void>
struct HoldsValues : std::false_type {};
template <class T>
struct HoldsValues<T, std::void_t<typename T::value_type>> : std::true_type {};

/// What T holds, for the layouts of containers, pairs, tuples and optionals.
template <class T>
struct HeldTypes {
  static void append(std::string& out) {
    if constexpr (HoldsValues<T>::value) {
      using Value = typename T::value_type;
      if constexpr (!std::is_same_v<Value, T>) append_wire_layout<std::remove_cv_t<Value>>(out);
    }
  }
};
template <class A, class B>
struct HeldTypes<std::pair<A, B>> {
  static void append(std::string& out) {
    append_wire_layout<std::remove_cv_t<A>>(out);
    append_wire_layout<std::remove_cv_t<B>>(out);
  }
};
template <class... E>
struct HeldTypes<std::tuple<E...>> {
  static void append(std::string& out) { (append_wire_layout<std::remove_cv_t<E>>(out), ...); }
};
template <class E>
struct HeldTypes<std::optional<E>> {
  static void append(std::string& out) { append_wire_layout<E>(out); }
};

/// Appends T's layout to `out`: "(size,alignment,trivially copyable,cereal version[,held...])".
template <class T>
void append_wire_layout(std::string& out) {
  out += '(';
  if constexpr (std::is_void_v<T>) {
    out += "void";
  } else {
    out += std::to_string(sizeof(T));
    out += ',';
    out += std::to_string(alignof(T));
    out += std::is_trivially_copyable_v<T> ? ",t," : ",c,";
    out += std::to_string(cereal::detail::Version<T>::version);
    HeldTypes<T>::append(out);
  }
  out += ')';
}

/// The layouts of a task's result and parameter types, in order.
template <class R, class... P>
std::string wire_layout_of() {
  std::string out;
  append_wire_layout<R>(out);
  (append_wire_layout<P>(out), ...);
  return out;
}

}  // namespace spawnpool::detail
