#include "out_of_band_receive.hpp"

#include <vector>

namespace spawnpool::detail {

void receive_into_decoded(Transport& transport, const Transport::Incoming& message,
                          std::size_t entries,
                          const std::function<std::uint64_t(std::size_t)>& oob_bytes,
                          const std::function<bool(std::size_t, OutOfBandTargets&)>& decode,
                          const std::function<bool()>& peer_gone) {
  transport.progress_sends();
  std::vector<MutableSpan> targets;
  std::vector<Buffer> scratch;
  for (std::size_t i = 0; i < entries; ++i) {
    const std::uint64_t bytes = oob_bytes(i);
    const std::size_t first_target = targets.size();
    OutOfBandTargets out_of_band(static_cast<std::size_t>(bytes), targets);
    if (!decode(i, out_of_band) && bytes > 0) {
      targets.resize(first_target);
      scratch.emplace_back(static_cast<std::size_t>(bytes));
      targets.push_back({scratch.back().data(), scratch.back().size()});
    }
  }
  transport.receive_out_of_band(message, targets, peer_gone);
}

}  // namespace spawnpool::detail
