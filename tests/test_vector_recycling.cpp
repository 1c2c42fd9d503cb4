// The storage cache and recycled vector storage: what is kept, what a decode takes, and that a
// decoded vector always holds exactly the decoded values whatever stale elements its storage had.
#include <spawnpool/detail/serialize.hpp>
#include <spawnpool/detail/storage_cache.hpp>
#include <spawnpool/detail/vector_recycling.hpp>

#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <numeric>
#include <string>
#include <tuple>
#include <typeindex>
#include <vector>

namespace sd = spawnpool::detail;

namespace {

constexpr std::size_t kElements = std::size_t{1} << 18;  // 2 MiB of doubles: large enough

std::shared_ptr<void> owner_of_bytes(std::size_t bytes) {
  return std::make_shared<std::vector<char>>(bytes);
}

// Empties the process's cache (message buffers are kept there too), so that each test starts from
// nothing kept.
void drain_process_cache() {
  sd::StorageCache& cache = sd::recycled_storage();
  cache.drop_all();
  ASSERT_EQ(cache.kept_bytes(), 0u);
}

// Taking as a decoded vector does: at most a quarter more than needed.
std::shared_ptr<void> take_for_vector(sd::StorageCache& cache, std::type_index type,
                                      std::size_t bytes) {
  return cache.take(type, bytes, bytes + bytes / 4);
}

std::vector<double> decode_vector(const std::vector<double>& source) {
  sd::Buffer bytes(sd::serialized_size(source));
  sd::serialize_into(bytes.data(), bytes.size(), source);
  std::vector<double> decoded;
  sd::deserialize_from(sd::ByteSpan{bytes.data(), bytes.size()}, decoded);
  return decoded;
}

std::vector<double> counting(std::size_t n, double start) {
  std::vector<double> v(n);
  std::iota(v.begin(), v.end(), start);
  return v;
}

}  // namespace

TEST(StorageCache, TakesTheBestFitOfTheSameTypeWithinAQuarterMore) {
  sd::StorageCache cache(std::size_t{1} << 30);
  const std::type_index doubles(typeid(std::vector<double>));
  const std::type_index ints(typeid(std::vector<int>));
  auto exact = owner_of_bytes(100 << 20);
  auto larger = owner_of_bytes(110 << 20);
  cache.keep(doubles, 110 << 20, larger);
  cache.keep(doubles, 100 << 20, exact);
  EXPECT_EQ(cache.kept_bytes(), std::size_t{210} << 20);
  EXPECT_EQ(take_for_vector(cache, ints, 100 << 20), nullptr) << "another element type";
  EXPECT_EQ(take_for_vector(cache, doubles, 120 << 20), nullptr) << "too small";
  EXPECT_EQ(take_for_vector(cache, doubles, 79 << 20), nullptr)
      << "more than 1.25 x the size asked for";
  EXPECT_EQ(take_for_vector(cache, doubles, 95 << 20), exact) << "the best fit";
  EXPECT_EQ(take_for_vector(cache, doubles, 95 << 20), larger);
  EXPECT_EQ(take_for_vector(cache, doubles, 95 << 20), nullptr) << "each is handed out once";
  EXPECT_EQ(cache.kept_bytes(), 0u);
}

TEST(StorageCache, StaysWithinItsLimitByDroppingTheOldest) {
  sd::StorageCache cache(std::size_t{10} << 20);
  const std::type_index doubles(typeid(std::vector<double>));
  std::weak_ptr<void> oldest = [&] {
    auto owner = owner_of_bytes(4 << 20);
    cache.keep(doubles, 4 << 20, owner);
    return std::weak_ptr<void>(owner);
  }();
  cache.keep(doubles, 4 << 20, owner_of_bytes(4 << 20));
  cache.keep(doubles, 4 << 20, owner_of_bytes(4 << 20));  // 12 MiB > 10: the oldest goes
  EXPECT_EQ(cache.kept_bytes(), std::size_t{8} << 20);
  EXPECT_TRUE(oldest.expired()) << "the dropped storage is freed";
  cache.keep(doubles, 11 << 20, owner_of_bytes(11 << 20));  // over the whole limit: not kept
  EXPECT_EQ(cache.kept_bytes(), std::size_t{8} << 20);
}

TEST(VectorRecycling, VectorsInTuplesAreKeptAndLeftEmpty) {
  drain_process_cache();
  std::vector<double> small(100);
  auto values = std::make_tuple(counting(kElements, 1), std::string(1 << 20, 'x'), small,
                                std::vector<std::int32_t>(kElements));
  const double* storage = std::get<0>(values).data();
  sd::recycle_storage_of(values);
  EXPECT_TRUE(std::get<0>(values).empty());
  EXPECT_TRUE(std::get<3>(values).empty());
  EXPECT_EQ(std::get<1>(values).size(), std::size_t{1} << 20) << "strings are left alone";
  EXPECT_EQ(std::get<2>(values).size(), 100u) << "small vectors are left alone";
  EXPECT_EQ(sd::recycled_storage().kept_bytes(),
            kElements * sizeof(double) + kElements * sizeof(std::int32_t));
  // A decode of a vector of the same type and size takes the kept storage.
  const std::vector<double> source = counting(kElements, -3);
  const std::vector<double> decoded = decode_vector(source);
  EXPECT_EQ(decoded.data(), storage);
  EXPECT_EQ(decoded, source);
  drain_process_cache();
}

TEST(VectorRecycling, DecodedValuesAreExactWhateverTheStorageHeldBefore) {
  drain_process_cache();
  // Kept storage of each shape: the same size, fewer elements than needed (the decode grows it
  // within its capacity), more elements than needed (the decode shrinks it).
  for (const std::size_t kept_size : {kElements, kElements - 1000, kElements + 1000}) {
    std::vector<double> stale(kept_size, -1.0);
    stale.reserve(kElements + 1000);
    const double* storage = stale.data();
    sd::recycle_storage_of(stale);
    const std::vector<double> source = counting(kElements, 0.25);
    const std::vector<double> decoded = decode_vector(source);
    EXPECT_EQ(decoded.data(), storage) << kept_size;
    EXPECT_EQ(decoded, source) << "kept storage held " << kept_size << " stale elements";
  }
  drain_process_cache();
}

TEST(VectorRecycling, StorageMuchLargerThanNeededIsNotHandedOut) {
  drain_process_cache();
  std::vector<double> huge(kElements * 2);
  const double* storage = huge.data();
  sd::recycle_storage_of(huge);
  const std::vector<double> decoded = decode_vector(counting(kElements, 1));
  EXPECT_NE(decoded.data(), storage) << "a vector must not pin twice its size";
  EXPECT_EQ(decoded.capacity(), kElements);
  drain_process_cache();
}

TEST(VectorRecycling, AHolderRecyclesWhenTheLastOwnerLetsGo) {
  drain_process_cache();
  auto holder = sd::make_recycling_holder<std::tuple<std::vector<double>>>(counting(kElements, 1));
  std::shared_ptr<const void> second_owner = holder;
  holder.reset();
  EXPECT_EQ(sd::recycled_storage().kept_bytes(), 0u) << "still owned";
  second_owner.reset();
  EXPECT_EQ(sd::recycled_storage().kept_bytes(), kElements * sizeof(double));
  drain_process_cache();
}
