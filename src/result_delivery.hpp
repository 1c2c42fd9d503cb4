#pragma once
// The manager's half of a kResults message: the futures each result completes, with a value or
// the error the worker reported.

#include "transport.hpp"
#include "wire.hpp"
#include "worker_roster.hpp"

#include <spawnpool/detail/task_state.hpp>

#include <exception>
#include <functional>
#include <memory>
#include <vector>

namespace spawnpool::detail {

/// A result decoded on arrival (one with out-of-band blocks), or why it could not be.
struct DecodedResult {
  std::shared_ptr<void> value;
  std::exception_ptr error;
};

/// Decodes the results of `message` that have out-of-band blocks (each with the decoder of its
/// state) and receives their blocks straight into the decoded objects; one that cannot be decoded
/// gets an error instead. Entries without blocks are left empty.
/// @throws as Transport::receive_out_of_band (Timeout or MpiError: the worker ended meanwhile)
std::vector<DecodedResult> receive_decoded_results(
    Transport& transport, const Transport::Incoming& message,
    const std::vector<wire::ResultView>& results,
    const std::vector<std::shared_ptr<TaskState>>& states, const std::function<bool()>& peer_gone);

/// Completes `state` with `result` of `message`, sent by `worker`: its value (the encoded bytes, or
/// `decoded` for a result with out-of-band blocks) or its error (RemoteError, UnregisteredTask,
/// Error).
void deliver_result(TaskState& state, const wire::ResultView& result,
                    const std::shared_ptr<const Buffer>& message, DecodedResult& decoded,
                    const Worker& worker);

}  // namespace spawnpool::detail
