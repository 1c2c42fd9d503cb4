#pragma once
/// @file map_result.hpp
/// MapResult<R>: the handle Executor::map returns: results in input order.
///
/// @code
///   auto results = pool.map(simulate, seeds, params);   // returns at once
///   for (double x : results) use(x);                    // each result as soon as it is there
///   std::vector<double> all = pool.map(simulate, seeds, params).get();
/// @endcode
/// Thread-safety: one MapResult must not be used from two threads at once.

#include <spawnpool/future.hpp>

#include <cstddef>
#include <iterator>
#include <type_traits>
#include <vector>

namespace spawnpool {

template <class R>
class MapResult {
 public:
  explicit MapResult(std::vector<Future<R>> futures) : futures_(std::move(futures)) {}

  /// Number of results.
  std::size_t size() const noexcept { return futures_.size(); }

  /// True when every result is available.
  bool ready() const {
    for (const auto& f : futures_)
      if (f.valid() && !f.ready()) return false;
    return true;
  }

  /// Blocks until every result is available.
  void wait() const {
    for (const auto& f : futures_)
      if (f.valid()) f.wait();
  }

  /// All results in input order (for R = void: waits for all). Consumes the handle.
  /// @throws the first error in input order (RemoteError, WorkerLost, ...)
  auto get() {
    if constexpr (std::is_void_v<R>) {
      for (auto& f : futures_) f.get();
    } else {
      std::vector<R> out;
      out.reserve(futures_.size());
      for (auto& f : futures_) out.push_back(f.get());
      return out;
    }
  }

  /// The futures, one per input, in input order.
  std::vector<Future<R>>& futures() noexcept { return futures_; }

  /// Input iterator over the results in order; dereferencing waits for that result.
  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = R;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = R;
    iterator(std::vector<Future<R>>* futures, std::size_t index) : futures_(futures), index_(index) {}
    R operator*() const { return (*futures_)[index_].get(); }
    iterator& operator++() { ++index_; return *this; }
    void operator++(int) { ++index_; }
    bool operator==(const iterator& o) const { return index_ == o.index_; }
    bool operator!=(const iterator& o) const { return index_ != o.index_; }

   private:
    std::vector<Future<R>>* futures_;
    std::size_t index_;
  };
  iterator begin() { return iterator(&futures_, 0); }
  iterator end() { return iterator(&futures_, futures_.size()); }

 private:
  std::vector<Future<R>> futures_;
};

}  // namespace spawnpool
