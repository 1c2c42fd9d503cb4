// primes: counts the primes below N by splitting [0, N) into sub-ranges and farming them out to a
// pool of workers with Executor::map — seed 001's mpi4py.futures program (MPIpool.py) in C++.
//
//   ./build/examples/primes                 spawn mode: starts alone, spawns its workers
//   ./build/examples/primes 1000000 100     primes below 10^6 in 100 sub-ranges
//   SPAWNPOOL_MAX_WORKERS=4 ./build/examples/primes
//
// Prints "primes below 10000000: 664579", then the elapsed time and the number of workers.
#include <spawnpool/spawnpool.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <utility>
#include <vector>

/// All the primes in [low, high): trial division by odd numbers, as in the Python original.
std::vector<long> calc_primes(std::pair<long, long> range) {
  const auto [low, high] = range;
  std::vector<long> primes;
  if (low <= 2 && 2 < high) primes.push_back(2);
  long start = std::max(3L, low);
  if (start % 2 == 0) ++start;
  for (long n = start; n < high; n += 2) {
    bool prime = true;
    for (long d = 3; d * d <= n; d += 2) {
      if (n % d == 0) {
        prime = false;
        break;
      }
    }
    if (prime) primes.push_back(n);
  }
  return primes;
}
SPAWNPOOL_TASK(calc_primes);

/// Splits [low, high) into about `count` ranges that cover it exactly.
std::vector<std::pair<long, long>> determine_subranges(long low, long high, long count) {
  std::vector<std::pair<long, long>> ranges;
  const long step = std::max(1L, (high - low) / count);
  for (long i = low; i < high; i += step) ranges.emplace_back(i, std::min(i + step, high));
  return ranges;
}

int main(int argc, char** argv) {
  spawnpool::Runtime runtime(argc, argv);
  const long high = argc > 1 ? std::atol(argv[1]) : 10'000'000;
  const long pieces = argc > 2 ? std::atol(argv[2]) : 1000;

  try {
    const auto start = std::chrono::steady_clock::now();
    spawnpool::Executor pool;
    const auto subranges = determine_subranges(0, high, pieces);
    std::size_t count = 0;
    for (const std::vector<long>& primes : pool.map(calc_primes, subranges)) {
      count += primes.size();
    }
    const int workers = pool.num_workers();
    pool.shutdown();
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;

    std::printf("primes below %ld: %zu\n", high, count);
    std::printf("elapsed %.3f s with %d workers (%s mode)\n", elapsed.count(), workers,
                spawnpool::to_string(pool.mode()));
    return 0;
  } catch (const spawnpool::Error& e) {
    std::fprintf(stderr, "primes: %s\n", e.what());
    return 1;
  }
}
