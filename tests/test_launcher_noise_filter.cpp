// The relaunching parent's filter of hydra's own lines (spawn/launcher_noise_filter.hpp), and the
// one-line reasons workers log (src/one_line_reason.hpp). No MPI processes.
#include "spawn/launcher_noise_filter.hpp"
#include "src/one_line_reason.hpp"

#include <spawnpool/errors.hpp>

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace {

using spawnpool::detail::LauncherNoiseFilter;

/// Feeds `pieces` one after another, then releases what is held (the end of the stream).
std::string filtered(const std::vector<std::string>& pieces) {
  LauncherNoiseFilter filter;
  std::string out;
  for (const auto& piece : pieces) out += filter.feed(piece);
  return out + filter.release();
}

/// What mpiexec printed on Ctrl-C and at the end of a rank killed by SIGINT (MPICH 4.0.2).
const std::string kCtrlC =
    "[mpiexec@vm] Sending Ctrl-C to processes as requested\n"
    "[mpiexec@vm] Press Ctrl-C again to force abort\n";
const std::string kTerminated =
    "YOUR APPLICATION TERMINATED WITH THE EXIT STRING: Interrupt (signal 2)\n"
    "This typically refers to a problem with your application.\n"
    "Please see the FAQ page for debugging suggestions\n";

TEST(LauncherNoiseFilter, DropsHydrasCtrlCAndTerminationLines) {
  EXPECT_EQ(filtered({"ready 1 2 3\n" + kCtrlC + kTerminated}), "ready 1 2 3\n");
  EXPECT_EQ(filtered({"YOUR APPLICATION TERMINATED WITH THE EXIT STRING: Aborted (signal 6)\n"
                      "This typically refers to a problem with your application.\n"
                      "Please see the FAQ page for debugging suggestions\n"}),
            "");
}

// hydra writes "[mpiexec@HOST] " and the message in two writes (HYDU_dump); the program's output
// may come in between other pieces, and a piece may end anywhere.
TEST(LauncherNoiseFilter, DropsLinesThatArriveInPieces) {
  EXPECT_EQ(filtered({"a\n[mpiexec@node-17.cluster] ", "Press Ctrl-C again to force abort\n", "b\n"}),
            "a\nb\n");
  const std::string all = "x\n" + kCtrlC + "y\n" + kTerminated + "z";
  for (std::size_t size = 1; size <= 7; ++size) {
    std::vector<std::string> pieces;
    for (std::size_t at = 0; at < all.size(); at += size) pieces.push_back(all.substr(at, size));
    EXPECT_EQ(filtered(pieces), "x\ny\nz") << "pieces of " << size;
  }
}

TEST(LauncherNoiseFilter, PassesEveryOtherLineUnchanged) {
  const std::vector<std::string> kept = {
      "[spawnpool warning] worker 1 (pid 4711): the manager (pid 4710) is gone; exiting\n",
      // hydra's other lines (its errors) are news to the user: kept.
      "[mpiexec@vm] control_cb (pm/pmiserv/pmiserv_cb.c:206): assert (!closed) failed\n",
      "[mpiexec@vm] Press Ctrl-C again to force abort, said nobody\n",
      "[mpiexec@two words] Press Ctrl-C again to force abort\n",
      "  [mpiexec@vm] Press Ctrl-C again to force abort\n",
      // The two lines after the banner only count right after it.
      "This typically refers to a problem with your application.\n",
      "Please see the FAQ page for debugging suggestions\n",
      "YOUR APPLICATION TERMINATED WITH THE EXIT STRING: my own words\n",
      "\n",
      "no newline at the end",
  };
  for (const auto& line : kept) EXPECT_EQ(filtered({line}), line);
  std::string all;
  for (const auto& line : kept) all += line;
  EXPECT_EQ(filtered({all}), all);
  // A line of the program between the banner and its follow-up lines ends the banner.
  EXPECT_EQ(filtered({"YOUR APPLICATION TERMINATED WITH THE EXIT STRING: Killed (signal 9)\n"
                      "mine\nThis typically refers to a problem with your application.\n"}),
            "mine\nThis typically refers to a problem with your application.\n");
}

TEST(LauncherNoiseFilter, IsBinarySafe) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  const char tail[] = "\0\0[mpiexec@\0] x\n\r\n";
  bytes += std::string(tail, sizeof tail - 1);
  EXPECT_EQ(filtered({bytes}), bytes);
  EXPECT_EQ(filtered({std::string("a\0b\n", 4) + kCtrlC + std::string("\0", 1)}),
            std::string("a\0b\n\0", 5));
}

// Promptness: the program's unfinished lines are passed on at once; only what could still
// become one of hydra's lines is held, and release() gives it back unchanged.
TEST(LauncherNoiseFilter, HoldsOnlyWhatCouldBecomeHydrasLine) {
  LauncherNoiseFilter filter;
  EXPECT_EQ(filter.feed("progress 10%"), "progress 10%");
  EXPECT_FALSE(filter.holding());
  EXPECT_EQ(filter.feed("\rprogress 20%"), "\rprogress 20%");
  EXPECT_EQ(filter.feed("\n"), "\n");
  EXPECT_EQ(filter.feed("[mpi"), "");
  EXPECT_TRUE(filter.holding());
  EXPECT_EQ(filter.feed("exec@vm] "), "");
  EXPECT_TRUE(filter.holding());
  EXPECT_EQ(filter.feed("Press"), "");
  EXPECT_EQ(filter.release(), "[mpiexec@vm] Press");
  EXPECT_FALSE(filter.holding());
  // The rest of a released line passes, even if it completes hydra's text.
  EXPECT_EQ(filter.feed(" Ctrl-C again to force abort\n"), " Ctrl-C again to force abort\n");
  // A start that cannot become hydra's is passed on as soon as that is clear.
  EXPECT_EQ(filter.feed("[mpiexec@vm] Hello"), "[mpiexec@vm] Hello");
  EXPECT_FALSE(filter.holding());
  EXPECT_EQ(filter.feed("[x"), "[x");
  EXPECT_EQ(filter.feed("\nYOUR APP"), "\n");
  EXPECT_TRUE(filter.holding());
  EXPECT_EQ(filter.feed("s\n"), "YOUR APPs\n");
  EXPECT_EQ(filter.release(), "");
}

TEST(LauncherNoiseFilter, KnowsHydrasLines) {
  EXPECT_TRUE(LauncherNoiseFilter::is_launcher_line("[mpiexec@vm] Press Ctrl-C again to force abort"));
  EXPECT_TRUE(LauncherNoiseFilter::is_launcher_line(
      "[mpiexec@login-3.example.org] Sending Ctrl-C to processes as requested"));
  EXPECT_TRUE(LauncherNoiseFilter::is_launcher_line(
      "YOUR APPLICATION TERMINATED WITH THE EXIT STRING: Segmentation fault (signal 11)"));
  EXPECT_FALSE(LauncherNoiseFilter::is_launcher_line("[mpiexec@] Press Ctrl-C again to force abort"));
  EXPECT_FALSE(LauncherNoiseFilter::is_launcher_line("[proxy:0:0@vm] Press Ctrl-C again to force abort"));
  EXPECT_FALSE(LauncherNoiseFilter::is_launcher_line("This typically refers to a problem with your application."));
}

// What hydra printed once spawnpool had ended an mpiexec that outstayed its program (MPICH
// 4.0.2: CI, a rank kept alive by a stopped follower), in the pieces a pipe may cut it into.
TEST(LauncherNoiseFilter, DropsEveryHydraLineOnceSpawnpoolEndsMpiexec) {
  const std::string hydra_errors =
      "[mpiexec@vm] HYDU_sock_write (utils/sock/sock.c:254): write error (Bad file descriptor)\n"
      "[mpiexec@vm] HYD_pmcd_pmiserv_send_signal (pm/pmiserv/pmiserv_cb.c:176): unable to write "
      "data to proxy\n"
      "[proxy:0:0@vm] HYD_pmcd_pmip_control_cmd_cb (pm/pmiserv/pmip_cb.c:480): assert (!closed) "
      "failed\n"
      "[mpiexec@vm] main (ui/mpich/mpiexec.c:325): process manager error waiting for completion\n";
  const std::string program = "the program's own line\n[mpiexec-like] but the program's\n";

  LauncherNoiseFilter before;  // not told: hydra's error lines are not its usual noise
  EXPECT_EQ(before.feed(hydra_errors) + before.release(), hydra_errors);

  LauncherNoiseFilter filter;
  std::string out = filter.feed("[mpiexec@vm] start of a line written before\n");
  filter.drop_all_launcher_lines();
  for (std::size_t at = 0; at < hydra_errors.size(); at += 7) out += filter.feed(hydra_errors.substr(at, 7));
  out += filter.feed(program);
  out += filter.release();
  EXPECT_EQ(out, "[mpiexec@vm] start of a line written before\n" + program);
}

// What a worker that lost its manager logged (MPICH 4.0.2, ch3), as five lines.
const std::string kMpichStack =
    "Unknown error class, error stack:\n"
    "internal_Isend(120)............: MPI_Isend(buf=0x7f4018000ba0, count=48, MPI_BYTE, 0, 21326, "
    "comm=0x84000001, request=0x7f4018000be0) failed\n"
    "MPIDI_CH3_EagerContigIsend(551): failure occurred while attempting to send an eager message\n"
    "MPIDI_CH3_iSendv(28)...........: Communication error with rank 0";

TEST(OneLineReason, AnMpiErrorStackBecomesItsRoutineAndInnermostCause) {
  const spawnpool::MpiError error("MPI_Isend(...)", 741467749, kMpichStack);
  EXPECT_NE(std::string(error.what()).find('\n'), std::string::npos);
  EXPECT_EQ(spawnpool::detail::one_line_reason(error),
            "MPI_Isend failed: Communication error with rank 0");
  EXPECT_EQ(spawnpool::detail::one_line_mpi_message(kMpichStack + "\n\n"),
            "Communication error with rank 0");
}

TEST(OneLineReason, MessagesWithoutAStackAreKept) {
  EXPECT_EQ(spawnpool::detail::one_line_reason(
                spawnpool::MpiError("MPI_Send", 16, "MPI_ERR_OTHER: known error not in list")),
            "MPI_Send failed: MPI_ERR_OTHER: known error not in list");
  EXPECT_EQ(spawnpool::detail::one_line_mpi_message("Other MPI error, error stack:"),
            "Other MPI error");
  EXPECT_EQ(spawnpool::detail::one_line_reason(std::runtime_error("first\nsecond")), "first");
  EXPECT_EQ(spawnpool::detail::one_line_reason(std::runtime_error("plain")), "plain");
}

}  // namespace
