#pragma once
// What decides a type's bytes on the wire, as far as C++17 can tell, for task signatures: a
// manager and a worker built from different definitions of a type of the same name must not
// decode each other's bytes into garbage.
//
// For each type: its size, its alignment, whether it is trivially copyable (then it may travel as
// raw bytes), and its cereal class version (CEREAL_CLASS_VERSION; 0 without one); for the standard
// containers, pairs, tuples, optionals and variants, the same of what they hold. A struct's members cannot
// be listed in C++17: a changed member that keeps the struct's size and alignment (an int turned
// into a float, two members swapped) is not seen. Give such types a CEREAL_CLASS_VERSION and raise
// it when their members change.

#include <cereal/details/helpers.hpp>

#include <array>
#include <cstddef>
#include <deque>
#include <list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

namespace spawnpool::detail {

template <class T>
void append_wire_layout(std::string& out);

/// What T holds, for the standard containers, pairs, tuples, optionals and variants; nothing for
/// any other type (a user type is described by its own size and version, never looked into, so
/// that a type that holds itself, a tree say, cannot send this into endless recursion).
template <class T>
struct HeldTypes {
  static void append(std::string&) {}
};
template <class... E>
struct HeldTypesOf {
  static void append(std::string& out) { (append_wire_layout<std::remove_cv_t<E>>(out), ...); }
};
template <class T, class A>
struct HeldTypes<std::vector<T, A>> : HeldTypesOf<T> {};
template <class T, class A>
struct HeldTypes<std::deque<T, A>> : HeldTypesOf<T> {};
template <class T, class A>
struct HeldTypes<std::list<T, A>> : HeldTypesOf<T> {};
template <class T, std::size_t N>
struct HeldTypes<std::array<T, N>> : HeldTypesOf<T> {};
template <class K, class C, class A>
struct HeldTypes<std::set<K, C, A>> : HeldTypesOf<K> {};
template <class K, class C, class A>
struct HeldTypes<std::multiset<K, C, A>> : HeldTypesOf<K> {};
template <class K, class H, class E, class A>
struct HeldTypes<std::unordered_set<K, H, E, A>> : HeldTypesOf<K> {};
template <class K, class V, class C, class A>
struct HeldTypes<std::map<K, V, C, A>> : HeldTypesOf<K, V> {};
template <class K, class V, class C, class A>
struct HeldTypes<std::multimap<K, V, C, A>> : HeldTypesOf<K, V> {};
template <class K, class V, class H, class E, class A>
struct HeldTypes<std::unordered_map<K, V, H, E, A>> : HeldTypesOf<K, V> {};
template <class A, class B>
struct HeldTypes<std::pair<A, B>> : HeldTypesOf<A, B> {};
template <class... E>
struct HeldTypes<std::tuple<E...>> : HeldTypesOf<E...> {};
template <class E>
struct HeldTypes<std::optional<E>> : HeldTypesOf<E> {};
template <class... E>
struct HeldTypes<std::variant<E...>> : HeldTypesOf<E...> {};

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
