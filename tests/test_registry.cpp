// Task registry and argument/result serialization, without MPI: the same encode (manager) and
// invoke (worker) code paths an Executor uses, called directly.
#include <spawnpool/spawnpool.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

namespace {
struct Point {
  int x = 0, y = 0;
  template <class Archive>
  void serialize(Archive& ar) { ar(x, y); }
  bool operator==(const Point& o) const { return x == o.x && y == o.y; }
};
}  // namespace

double scale(const std::vector<double>& v, double factor) {
  double sum = 0;
  for (double x : v) sum += x * factor;
  return sum;
}
SPAWNPOOL_TASK(scale);

Point shift(Point p, std::map<std::string, int> by) { return {p.x + by["x"], p.y + by["y"]}; }
SPAWNPOOL_TASK_AS(shift, "geometry.shift");

std::optional<std::tuple<int, std::string>> pick(bool present) {
  if (!present) return std::nullopt;
  return std::make_tuple(7, std::string("seven"));
}
SPAWNPOOL_TASK(pick);

void nothing() {}
SPAWNPOOL_TASK(nothing);

int increment(int& x) { return ++x; }  // non-const reference parameter
SPAWNPOOL_TASK(increment);

int first_dup(int x) { return x; }
int second_dup(int x) { return -x; }
SPAWNPOOL_TASK_AS(first_dup, "dup");
SPAWNPOOL_TASK_AS(second_dup, "dup");

int not_a_task(int x) { return x; }

namespace sd = spawnpool::detail;

/// Encodes args the way Executor::submit does and runs the worker-side invoker.
template <class R, class... P, class... A>
sd::Buffer run_locally(R (*fn)(P...), const A&... args) {
  const sd::TaskEntry* task = sd::find_task(reinterpret_cast<sd::FunctionKey>(fn));
  EXPECT_NE(task, nullptr);
  const std::size_t size = sd::serialized_size(sd::as_parameter<P>(args)...);
  sd::Buffer bytes(size);
  sd::serialize_into(bytes.data(), size, sd::as_parameter<P>(args)...);
  return task->invoke(sd::ByteSpan{bytes.data(), bytes.size()}, nullptr, 16, false).buffer;
}

template <class T>
T decode(const sd::Buffer& result, std::size_t front = 16) {
  T value{};
  sd::deserialize_from(sd::ByteSpan{result.data() + front, result.size() - front}, value);
  return value;
}

TEST(Registry, FindsTasksByNameAndByFunction) {
  const sd::TaskEntry* by_name = sd::find_task("scale");
  ASSERT_NE(by_name, nullptr);
  EXPECT_EQ(by_name->name, "scale");
  EXPECT_EQ(sd::find_task(reinterpret_cast<sd::FunctionKey>(&scale)), by_name);
  EXPECT_NE(by_name->signature_text.find("double"), std::string::npos);
  const sd::TaskEntry* renamed = sd::find_task("geometry.shift");
  ASSERT_NE(renamed, nullptr);
  EXPECT_EQ(sd::find_task(reinterpret_cast<sd::FunctionKey>(&shift)), renamed);
  EXPECT_EQ(sd::find_task("shift"), nullptr);
  EXPECT_EQ(sd::find_task(reinterpret_cast<sd::FunctionKey>(&not_a_task)), nullptr);
}

TEST(Registry, SignaturesDifferBetweenFunctionTypes) {
  EXPECT_NE(sd::find_task("scale")->signature, sd::find_task("geometry.shift")->signature);
  EXPECT_EQ(sd::find_task("dup")->signature, (sd::signature_of<int, int>()));
}

TEST(Registry, OneNameForTwoFunctionsIsReported) {
  const std::string conflicts = sd::registry_conflicts();
  EXPECT_NE(conflicts.find("\"dup\""), std::string::npos) << conflicts;
  EXPECT_NE(conflicts.find("SPAWNPOOL_TASK_AS"), std::string::npos) << conflicts;
}

TEST(Registry, DescribesUnregisteredFunctionsByName) {
  const std::string text = sd::describe_function(reinterpret_cast<sd::FunctionKey>(&not_a_task));
  EXPECT_NE(text.find("not_a_task"), std::string::npos) << text;
}

TEST(Serialization, RoundTripsThroughTheInvoker) {
  const std::vector<double> v = {1.5, 2.5, 3.0};
  EXPECT_DOUBLE_EQ(decode<double>(run_locally(scale, v, 2)), 14.0);  // int -> double parameter
  std::map<std::string, int> by = {{"x", 2}, {"y", -3}};
  EXPECT_EQ(decode<Point>(run_locally(shift, Point{1, 1}, by)), (Point{3, -2}));
  EXPECT_EQ((decode<std::optional<std::tuple<int, std::string>>>(run_locally(pick, true))),
            std::make_optional(std::make_tuple(7, std::string("seven"))));
  EXPECT_EQ((decode<std::optional<std::tuple<int, std::string>>>(run_locally(pick, false))),
            std::nullopt);
  EXPECT_EQ(run_locally(nothing).size(), 16u);  // void: nothing after the reserved front
  EXPECT_EQ(decode<int>(run_locally(increment, 41)), 42);
}

TEST(Serialization, SizesAreExact) {
  const std::vector<double> v(1000, 1.0);
  const std::string s = "hello";
  const std::size_t size = sd::serialized_size(v, s, 3);
  EXPECT_EQ(size, 8 + 8000 + 8 + 5 + 4);
  sd::Buffer buffer(size);
  sd::serialize_into(buffer.data(), size, v, s, 3);
  std::tuple<std::vector<double>, std::string, int> back;
  sd::deserialize_from(sd::ByteSpan{buffer.data(), buffer.size()}, back);
  EXPECT_EQ(back, std::make_tuple(v, s, 3));
}

// Numbers and tuples of numbers are copied, not archived (plain_bytes.hpp): the bytes must be
// exactly cereal's, both ways, so that either side may use either path.
template <class T>
std::string cereal_bytes(const T& value) {
  std::ostringstream out;
  cereal::BinaryOutputArchive archive(out);
  archive(value);
  return out.str();
}

TEST(Serialization, NumbersAndTuplesOfNumbersAreCerealsBytes) {
  static_assert(sd::all_plain_bytes_v<int, double, std::tuple<int, char, long double>>);
  static_assert(!sd::all_plain_bytes_v<bool>, "a bool's byte is checked when decoded");
  static_assert(!sd::all_plain_bytes_v<std::tuple<int, bool>>);
  static_assert(!sd::all_plain_bytes_v<std::tuple<int, std::string>>);
  const std::tuple<int, char, double, std::uint64_t, float> tuple{-7, 'x', 2.5, 1ull << 40, 0.25f};
  const std::size_t size = sd::serialized_size(tuple);
  EXPECT_EQ(size, 4u + 1 + 8 + 8 + 4);
  std::string bytes(size, '\0');
  sd::serialize_into(bytes.data(), size, tuple);
  EXPECT_EQ(bytes, cereal_bytes(tuple));
  std::tuple<int, char, double, std::uint64_t, float> back;
  sd::deserialize_from(sd::ByteSpan{bytes.data(), bytes.size()}, back);
  EXPECT_EQ(back, tuple);

  // Several values in a row are the bytes of a tuple of them (as for a call's arguments).
  std::string row(sd::serialized_size(3, 4.5), '\0');
  sd::serialize_into(row.data(), row.size(), 3, 4.5);
  EXPECT_EQ(row, cereal_bytes(std::make_tuple(3, 4.5)));

  // A task's result: after the reserved front, cereal's bytes.
  const sd::Buffer result = sd::serialize_owned(-123456789L, 16, nullptr);
  ASSERT_EQ(result.size(), 16u + sizeof(long));
  EXPECT_EQ(std::string(result.data() + 16, sizeof(long)), cereal_bytes(-123456789L));

  // Too few bytes: the archive's error, nothing read past the end.
  double value = 0;
  EXPECT_THROW(sd::deserialize_from(sd::ByteSpan{bytes.data(), 7}, value), cereal::Exception);
  EXPECT_THROW(sd::deserialize_from(sd::ByteSpan{bytes.data(), size - 1}, back), cereal::Exception);
  EXPECT_THROW(sd::serialize_into(bytes.data(), size - 1, tuple), cereal::Exception);
}

TEST(Serialization, MatchingArgumentsAreNotCopied) {
  const std::vector<double> v(10);
  const auto& same = sd::as_parameter<const std::vector<double>&>(v);
  EXPECT_EQ(&same, &v);
  const double converted = sd::as_parameter<double>(3);
  EXPECT_EQ(converted, 3.0);
}

TEST(Serialization, LargeArraysGoOutOfBandOnlyWhereAllowed) {
  const std::vector<double> big(sd::kOutOfBandMin / sizeof(double), 2.5);  // exactly the minimum
  const std::vector<double> small(10, 1.0);
  const std::string text(sd::kOutOfBandMin + 3, 'q');
  // Not allowed: everything inline, the same bytes as before.
  sd::SpanOutputArchive inline_count;
  inline_count(big, small, text);
  EXPECT_EQ(inline_count.size(), sd::serialized_size(big, small, text));
  EXPECT_EQ(inline_count.out_of_band_blocks(), 0u);
  // Allowed: the two large ones are noted, with their addresses, and left out of the bytes.
  sd::SpanOutputArchive counter;
  counter.allow_out_of_band(true);
  counter(big, small, text);
  EXPECT_EQ(counter.out_of_band_blocks(), 2u);
  EXPECT_EQ(counter.out_of_band_bytes(), big.size() * sizeof(double) + text.size());
  sd::Buffer bytes(counter.size());
  std::vector<sd::ByteSpan> blocks;
  sd::SpanOutputArchive writer(bytes.data(), bytes.size(), &blocks);
  writer.allow_out_of_band(true);
  writer(big, small, text);
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_EQ(blocks[0].data, reinterpret_cast<const char*>(big.data()));
  EXPECT_EQ(blocks[1].data, text.data());
  // Decoding notes where the blocks go; filling them gives the values back.
  std::vector<double> big2, small2;
  std::string text2;
  std::vector<sd::MutableSpan> targets;
  sd::OutOfBandTargets out_of_band(counter.out_of_band_bytes(), targets);
  sd::SpanInputArchive reader(sd::ByteSpan{bytes.data(), bytes.size()}, &out_of_band);
  reader(big2, small2, text2);
  ASSERT_EQ(targets.size(), 2u);
  EXPECT_EQ(out_of_band.remaining(), 0u);
  for (std::size_t i = 0; i < 2; ++i) {
    ASSERT_EQ(targets[i].size, blocks[i].size);
    std::memcpy(targets[i].data, blocks[i].data, blocks[i].size);
  }
  EXPECT_EQ(big2, big);
  EXPECT_EQ(small2, small);
  EXPECT_EQ(text2, text);
}

TEST(Serialization, OutOfBandBudgetBoundsWhatCorruptSizesCanClaim) {
  const std::vector<double> big(sd::kOutOfBandMin / sizeof(double) * 2, 1.0);
  sd::SpanOutputArchive counter;
  counter.allow_out_of_band(true);
  counter(big);
  sd::Buffer bytes(counter.size());
  std::vector<sd::ByteSpan> blocks;
  sd::SpanOutputArchive writer(bytes.data(), bytes.size(), &blocks);
  writer.allow_out_of_band(true);
  writer(big);
  // A budget smaller than the block (the entry announced fewer bytes): refused before allocating.
  std::vector<sd::MutableSpan> targets;
  sd::OutOfBandTargets short_budget(counter.out_of_band_bytes() / 8 - 1, targets);
  std::vector<double> out;
  sd::SpanInputArchive reader(sd::ByteSpan{bytes.data(), bytes.size()}, &short_budget);
  EXPECT_THROW(reader(out), cereal::Exception);
  EXPECT_TRUE(targets.empty());
  // Copying from the sender's blocks (ThreadExecutor): the same values.
  sd::OutOfBand source;
  source.blocks = blocks;
  sd::OutOfBandCopy copy(source);
  std::vector<double> copied;
  sd::deserialize_from(sd::ByteSpan{bytes.data(), bytes.size()}, copied, &copy);
  EXPECT_EQ(copied, big);
}

// A corrupt count in a container of containers, with a large out-of-band budget claimed beside it
// (fuzz_decoder found one: 0x2280000000 bytes asked for): refused before anything is allocated,
// since each element needs an inline byte or a whole out-of-band block, not one budget byte.
TEST(Serialization, AClaimedOutOfBandBudgetDoesNotLetACountAllocate) {
  const std::uint64_t claimed_elements = std::uint64_t{1} << 40;  // 24 TiB of empty vectors
  sd::Buffer bytes(sizeof claimed_elements);
  std::memcpy(bytes.data(), &claimed_elements, sizeof claimed_elements);
  std::vector<sd::MutableSpan> targets;
  sd::OutOfBandTargets budget(std::size_t{1} << 40, targets);
  std::vector<std::vector<unsigned char>> out;
  sd::SpanInputArchive reader(sd::ByteSpan{bytes.data(), bytes.size()}, &budget);
  EXPECT_THROW(reader(out), cereal::Exception);
  // A vector or string of numbers (one block) is bounded by bytes: more than the budget, refused.
  const std::uint64_t too_many = claimed_elements * 2;
  std::memcpy(bytes.data(), &too_many, sizeof too_many);
  std::vector<double> numbers;
  sd::SpanInputArchive number_reader(sd::ByteSpan{bytes.data(), bytes.size()}, &budget);
  EXPECT_THROW(number_reader(numbers), cereal::Exception);
  std::string text;
  sd::SpanInputArchive text_reader(sd::ByteSpan{bytes.data(), bytes.size()}, &budget);
  EXPECT_THROW(text_reader(text), cereal::Exception);
  EXPECT_TRUE(targets.empty());
}

TEST(Serialization, TruncatedArgumentsAreRejected) {
  const sd::TaskEntry* task = sd::find_task("scale");
  const std::vector<double> v = {1, 2, 3};
  const std::size_t size = sd::serialized_size(v, 2.0);
  sd::Buffer bytes(size);
  sd::serialize_into(bytes.data(), size, v, 2.0);
  EXPECT_THROW(task->invoke(sd::ByteSpan{bytes.data(), size - 3}, nullptr, 0, false), sd::BadArguments);
}

// The wire layout in task signatures: what tells two definitions of a type apart as far as C++17
// can (size, alignment, cereal class version, and those of what containers hold).
namespace layout_test {
struct Small {
  int a = 0;
  template <class Archive>
  void serialize(Archive& ar) { ar(a); }
};
struct Large {
  int a = 0;
  double b = 0;
  template <class Archive>
  void serialize(Archive& ar) { ar(a, b); }
};
struct Versioned {
  int a = 0;
  template <class Archive>
  void serialize(Archive& ar, std::uint32_t) { ar(a); }
};
}  // namespace layout_test
CEREAL_CLASS_VERSION(layout_test::Versioned, 3);

TEST(WireLayout, TellsSizesVersionsAndHeldTypesApart) {
  using spawnpool::detail::wire_layout_of;
  using namespace layout_test;
  EXPECT_NE((wire_layout_of<int, Small>()), (wire_layout_of<int, Large>()));
  EXPECT_NE((wire_layout_of<int, Small>()), (wire_layout_of<int, Versioned>()));
  EXPECT_NE((wire_layout_of<int, std::vector<Small>>()), (wire_layout_of<int, std::vector<Large>>()));
  EXPECT_NE((wire_layout_of<int, std::map<int, Small>>()), (wire_layout_of<int, std::map<int, Large>>()));
  EXPECT_NE((wire_layout_of<std::optional<Small>>()), (wire_layout_of<std::optional<Large>>()));
  EXPECT_NE((wire_layout_of<void, std::tuple<Small, int>>()), (wire_layout_of<void, std::tuple<Large, int>>()));
  EXPECT_EQ((wire_layout_of<int, std::vector<Small>>()), (wire_layout_of<int, std::vector<Small>>()));
  EXPECT_NE(wire_layout_of<Versioned>().find(",3)"), std::string::npos) << wire_layout_of<Versioned>();
}

// A user type that holds itself through a standard container (a tree, like
// boost::property_tree::ptree) is described by its own size and version, never looked into.
namespace layout_test {
struct Tree {
  using value_type = std::pair<std::string, Tree>;
  std::vector<value_type> children;
  template <class Archive>
  void serialize(Archive& ar) { ar(children); }
};
}  // namespace layout_test

TEST(WireLayout, ATypeThatHoldsItselfEnds) {
  const std::string layout = spawnpool::detail::wire_layout_of<int, layout_test::Tree>();
  EXPECT_FALSE(layout.empty());
  EXPECT_EQ(layout, (spawnpool::detail::wire_layout_of<int, layout_test::Tree>()));
}
