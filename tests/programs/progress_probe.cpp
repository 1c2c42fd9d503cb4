// MapOptions::progress(true) in spawn mode (README, "Maps"): `progress_probe` maps `square` over
// 30 inputs on 2 workers with the progress line on and prints "sum=<sum>". Run under a
// pseudo-terminal (`script`), its standard error shows "map square: 30/30 done"; through a pipe it
// shows nothing. Started alone it relaunches under mpiexec, whose pipe its standard error then is.
#include <spawnpool/spawnpool.hpp>

#include <cstdio>
#include <numeric>
#include <vector>

int square(int x) { return x * x; }
SPAWNPOOL_TASK(square);

int main(int argc, char** argv) {
  spawnpool::Runtime runtime(argc, argv);
  spawnpool::Executor pool(spawnpool::Options{}.max_workers(2));
  std::vector<int> xs(30);
  std::iota(xs.begin(), xs.end(), 1);
  const std::vector<int> squares =
      pool.map(spawnpool::MapOptions{}.progress(true).chunksize(1), square, xs).get();
  std::printf("sum=%d\n", std::accumulate(squares.begin(), squares.end(), 0));
  return 0;
}
