#pragma once
/// @file next_iterator.hpp
/// The input iterator of the single-pass handles (AsCompleted, UnorderedMapResult, BatchResult),
/// which all hand out their elements through `std::optional<Value> next()`.

#include <cstddef>
#include <iterator>
#include <optional>
#include <utility>

namespace spawnpool::detail {

/// Input iterator over what `owner->next()` returns, until it returns nullopt. It holds the
/// element last returned; ++ calls next() again, so it waits (and throws) as next() does. Only
/// the owner makes a dereferenceable one: begin() is NextIterator(this, next()), end() a
/// default-constructed one.
template <class Owner, class Value>
class NextIterator {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = Value;
  using difference_type = std::ptrdiff_t;
  using pointer = const Value*;
  using reference = Value;

  NextIterator() = default;
  Value operator*() const { return *current_; }
  NextIterator& operator++() {
    current_ = owner_->next();
    return *this;
  }
  void operator++(int) { ++*this; }
  /// Equal when both are past the end (the end iterator is a default-constructed one).
  bool operator==(const NextIterator& other) const { return !current_ && !other.current_; }
  bool operator!=(const NextIterator& other) const { return !(*this == other); }

 private:
  friend Owner;
  NextIterator(Owner* owner, std::optional<Value> current)
      : owner_(owner), current_(std::move(current)) {}
  Owner* owner_ = nullptr;
  std::optional<Value> current_;
};

}  // namespace spawnpool::detail
