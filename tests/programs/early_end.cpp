// A worker program that ends before it reaches MPI_Init, as a broken one does at start-up
// (tests/test_worker_start.cpp):
//   early_end crash   dies of SIGSEGV (raised: a write through a null pointer would be caught by
//                     UBSan in the sanitizer build and become exit 1)
//   early_end exit3   calls exit(3)
#include <csignal>
#include <cstdlib>
#include <cstring>

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "crash") == 0) {
    std::signal(SIGSEGV, SIG_DFL);  // a sanitizer build's handler would turn the crash into exit 1
    std::raise(SIGSEGV);
  }
  if (argc > 1 && std::strcmp(argv[1], "exit3") == 0) std::exit(3);
  return 2;
}
