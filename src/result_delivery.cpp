#include "result_delivery.hpp"

#include "out_of_band_receive.hpp"

#include <spawnpool/detail/packed_chunk.hpp>
#include <spawnpool/errors.hpp>

namespace spawnpool::detail {

std::vector<DecodedResult> receive_decoded_results(
    Transport& transport, const Transport::Incoming& message,
    const std::vector<wire::ResultView>& results,
    const std::vector<std::shared_ptr<TaskState>>& states, const std::function<bool()>& peer_gone) {
  std::vector<DecodedResult> decoded(results.size());
  if (message.header.oob_size == 0) return decoded;
  auto decode = [&](std::size_t i, OutOfBandTargets& out_of_band) {
    const wire::ResultView& r = results[i];
    if (r.payload_oob == 0) return true;  // decoded when its future is read
    try {
      if (r.status != wire::ResultStatus::kOk || states[i]->decoder() == nullptr) {
        throw Error("a result of this kind cannot have out-of-band bytes");
      }
      decoded[i].value = states[i]->decoder()(r.payload, &out_of_band);
      if (out_of_band.remaining() != 0) {
        throw Error(std::to_string(out_of_band.remaining()) +
                    " out-of-band bytes left over after the result");
      }
      return true;
    } catch (const std::exception& e) {
      decoded[i].value.reset();
      decoded[i].error = std::make_exception_ptr(
          Error("spawnpool: could not decode the result of task \"" + states[i]->task_name() +
                "\": " + e.what()));
      return false;
    }
  };
  receive_into_decoded(
      transport, message, results.size(), [&](std::size_t i) { return results[i].payload_oob; },
      decode, peer_gone);
  return decoded;
}

void deliver_result(TaskState& state, const wire::ResultView& r,
                    const std::shared_ptr<const Buffer>& message, DecodedResult& decoded,
                    const Worker& worker) {
  switch (r.status) {
    case wire::ResultStatus::kOk:
      if (r.payload_oob == 0) {
        if (state.packed_calls() != 0 && packed_has_failures(r.payload)) {
          auto origin = std::make_shared<PackedOrigin>();
          origin->payload = SharedBytes{message, r.payload};
          origin->worker_id = worker.id;
          origin->worker_pid = worker.pid;
          origin->host = worker.host;
          state.set_decoded(std::move(origin));
        } else {
          state.set_value(SharedBytes{message, r.payload});
        }
      } else if (decoded.value) {
        state.set_decoded(std::move(decoded.value));
      } else {
        state.set_error(decoded.error);
      }
      break;
    case wire::ResultStatus::kException: {
      auto e = wire::decode_error_payload(r.payload);
      state.set_error(std::make_exception_ptr(RemoteError(std::move(e.type_name),
                                                          std::move(e.message), worker.id,
                                                          worker.pid, worker.host,
                                                          state.task_name())));
      break;
    }
    case wire::ResultStatus::kUnknownTask:
      state.set_error(std::make_exception_ptr(
          UnregisteredTask("spawnpool: " + wire::decode_error_payload(r.payload).message)));
      break;
    default:
      state.set_error(std::make_exception_ptr(
          Error("spawnpool: " + wire::decode_error_payload(r.payload).message)));
  }
}

}  // namespace spawnpool::detail
