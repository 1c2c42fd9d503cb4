#pragma once
// Receiving a message's out-of-band bytes (wire_format.hpp) straight into the objects decoded from
// its entries. The worker does it for call arguments, the manager for results.

#include "transport.hpp"

#include <spawnpool/detail/serialize.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>

namespace spawnpool::detail {

/// For each of the `entries` entries of `message`, calls `decode(i, targets)`: it decodes entry i
/// (or skips it), its blocks noted in `targets` (a budget of oob_bytes(i)), and returns false when
/// the entry cannot be decoded (having recorded why itself). Such an entry's out-of-band bytes go
/// to scratch space, which keeps the stream in step. Then receives the
/// whole stream. Completed sends are finished first, so that their vectors' storage can be
/// recycled for the decoded objects (vector_recycling.hpp).
/// @throws as Transport::receive_out_of_band (`peer_gone` is passed on)
void receive_into_decoded(Transport& transport, const Transport::Incoming& message,
                          std::size_t entries,
                          const std::function<std::uint64_t(std::size_t)>& oob_bytes,
                          const std::function<bool(std::size_t, OutOfBandTargets&)>& decode,
                          const std::function<bool()>& peer_gone = {});

}  // namespace spawnpool::detail
