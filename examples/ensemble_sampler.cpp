// ensemble_sampler: an affine-invariant ensemble MCMC sampler (Goodman & Weare's stretch move, as in
// emcee; seed 004's pattern) written once as a template over the executor concept, evaluating every
// walker's proposal with pool.map, and run with a ThreadExecutor and then an MPI Executor by changing
// only the type. It samples a correlated 3-d Gaussian and prints both posterior means and the truth.
//
//   ./build/examples/ensemble_sampler            both runs (the Executor spawns its workers)
//   ./build/examples/ensemble_sampler 4000       4000 steps instead of 1000
//   SPAWNPOOL_MAX_WORKERS=4 ./build/examples/ensemble_sampler
//
// Both runs use the same random seed; since map() returns results in input order, they draw the very
// same chain, which the program checks and prints.
#include <spawnpool/spawnpool.hpp>

#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

// ---------------------------------------------------------------------------------------------
// The model: a Gaussian with mean kTruth and covariance L L^T (standard deviations 1, 0.5 and 2; the
// first two correlated at 0.8), up to a constant.

constexpr std::size_t kDim = 3;
constexpr std::array<double, kDim> kTruth{1.0, -2.0, 0.5};
constexpr std::array<std::array<double, kDim>, kDim> kCholesky{{
    {1.0, 0.0, 0.0},
    {0.4, 0.3, 0.0},
    {0.0, 0.0, 2.0},
}};

/// Log-probability of a point (the task the pools run): -|L^-1 (theta - truth)|^2 / 2.
double log_prob(const std::vector<double>& theta) {
  std::array<double, kDim> z{};
  double sum = 0;
  for (std::size_t i = 0; i < kDim; ++i) {
    double r = theta[i] - kTruth[i];
    for (std::size_t j = 0; j < i; ++j) r -= kCholesky[i][j] * z[j];
    z[i] = r / kCholesky[i][i];
    sum += z[i] * z[i];
  }
  return -0.5 * sum;
}
SPAWNPOOL_TASK(log_prob);

// ---------------------------------------------------------------------------------------------
// The sampler, written once for any executor.

struct Settings {
  std::size_t walkers = 32;
  std::size_t steps = 1000;
  std::size_t burn_in = 250;
  double stretch = 2.0;  // the stretch move's scale a
  unsigned long seed = 4;
};

struct Posterior {
  std::vector<double> mean;
  double acceptance = 0;
  std::size_t samples = 0;
};

/// Runs the ensemble for settings.steps steps and averages the walkers' positions after burn-in.
/// Each step updates the two halves of the ensemble in turn; every walker of the active half
/// proposes Y = X_j + z (X_k - X_j) with X_j a random walker of the other half and z drawn from
/// g(z) ~ 1/sqrt(z) on [1/a, a], accepted with probability min(1, z^(d-1) p(Y) / p(X_k)). The
/// log-probabilities of a half's proposals are evaluated in parallel with one pool.map.
template <class Pool>
Posterior sample(Pool& pool, const Settings& settings, std::size_t dim) {
  static_assert(spawnpool::is_executor_v<Pool>, "sample() needs a spawnpool executor");
  std::mt19937_64 rng(settings.seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);

  const std::size_t n = settings.walkers;
  const std::size_t half = n / 2;
  std::uniform_int_distribution<std::size_t> pick(0, half - 1);
  std::vector<std::vector<double>> walkers(n, std::vector<double>(dim));
  for (auto& w : walkers) {
    for (double& x : w) x = normal(rng);
  }
  std::vector<double> logp = pool.map(log_prob, walkers).get();

  // One message per worker for each half's proposals.
  const auto workers = static_cast<std::size_t>(pool.num_workers());
  const auto options = spawnpool::MapOptions{}.chunksize((half + workers - 1) / workers);

  Posterior out;
  out.mean.assign(dim, 0.0);
  std::size_t accepted = 0;
  std::vector<std::vector<double>> proposals(half, std::vector<double>(dim));
  std::vector<double> log_z(half);
  for (std::size_t step = 0; step < settings.steps; ++step) {
    for (std::size_t active = 0; active < 2; ++active) {
      const std::size_t first = active * half;       // walkers [first, first + half) move
      const std::size_t other = (1 - active) * half;  // against walkers [other, other + half)
      for (std::size_t k = 0; k < half; ++k) {
        const double u = uniform(rng);
        const double z = std::pow((settings.stretch - 1.0) * u + 1.0, 2) / settings.stretch;
        const auto& xj = walkers[other + pick(rng)];
        const auto& xk = walkers[first + k];
        for (std::size_t d = 0; d < dim; ++d) proposals[k][d] = xj[d] + z * (xk[d] - xj[d]);
        log_z[k] = std::log(z);
      }
      const std::vector<double> proposed = pool.map(options, log_prob, proposals).get();
      for (std::size_t k = 0; k < half; ++k) {
        const double log_accept = static_cast<double>(dim - 1) * log_z[k] + proposed[k] -
                                  logp[first + k];
        if (std::log(uniform(rng)) < log_accept) {
          walkers[first + k] = proposals[k];
          logp[first + k] = proposed[k];
          ++accepted;
        }
      }
    }
    if (step >= settings.burn_in) {
      for (const auto& w : walkers) {
        for (std::size_t d = 0; d < dim; ++d) out.mean[d] += w[d];
      }
      out.samples += n;
    }
  }
  for (double& m : out.mean) m /= static_cast<double>(out.samples);
  out.acceptance = static_cast<double>(accepted) / static_cast<double>(settings.steps * 2 * half);
  return out;
}

// ---------------------------------------------------------------------------------------------

/// Runs the sampler on `pool` and prints one line; returns the result.
template <class Pool>
Posterior run(Pool& pool, const char* label, const Settings& settings) {
  const auto start = std::chrono::steady_clock::now();
  Posterior p = sample(pool, settings, kDim);
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  std::printf("%-16s %2d %-8s", label, pool.num_workers(), label[0] == 'T' ? "threads" : "workers");
  for (double m : p.mean) std::printf(" %8.4f", m);
  std::printf("   acceptance %.2f, %.2f s\n", p.acceptance, elapsed.count());
  return p;
}

/// True when every coordinate of the mean is within `tolerance` standard deviations of the truth.
bool close_to_truth(const Posterior& p, double tolerance) {
  for (std::size_t i = 0; i < kDim; ++i) {
    double variance = 0;
    for (std::size_t j = 0; j <= i; ++j) variance += kCholesky[i][j] * kCholesky[i][j];
    if (std::abs(p.mean[i] - kTruth[i]) > tolerance * std::sqrt(variance)) return false;
  }
  return true;
}

int main(int argc, char** argv) {
  spawnpool::Runtime runtime(argc, argv);  // the MPI executor needs it; worker processes serve here
  Settings settings;
  if (argc > 1) settings.steps = static_cast<std::size_t>(std::atol(argv[1]));
  settings.burn_in = settings.steps / 4;

  std::printf("ensemble sampler: %zu walkers, %zu dimensions, %zu steps (%zu burn-in), a = %g\n",
              settings.walkers, kDim, settings.steps, settings.burn_in, settings.stretch);
  std::printf("%-27s", "truth");
  for (double t : kTruth) std::printf(" %8.4f", t);
  std::printf("\n");

  const spawnpool::Options options;  // the same options for both executors
  Posterior on_threads, on_processes;
  {
    spawnpool::ThreadExecutor pool(options);
    on_threads = run(pool, "ThreadExecutor", settings);
  }
  {
    spawnpool::Executor pool(options);
    on_processes = run(pool, "Executor", settings);
  }

  constexpr double kTolerance = 0.2;
  const bool close = close_to_truth(on_threads, kTolerance) && close_to_truth(on_processes, kTolerance);
  const bool same = on_threads.mean == on_processes.mean &&
                    on_threads.acceptance == on_processes.acceptance;
  std::printf("both posterior means within %.1f standard deviations of the truth: %s\n", kTolerance,
              close ? "yes" : "no");
  std::printf("both executors drew the same chain: %s\n", same ? "yes" : "no");
  return close && same ? 0 : 1;
}
