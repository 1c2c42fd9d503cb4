#include "transport.hpp"

#include "abandoned_sends.hpp"
#include "backoff.hpp"
#include "environment.hpp"
#include <spawnpool/detail/mpi_call.hpp>
#include "wire.hpp"

#include <algorithm>
#include <climits>
#include <thread>

namespace spawnpool::detail {

namespace {

/// Cuts the byte stream `pieces` (concatenated) into MPI messages of at most `part` bytes and calls
/// post(buffer, count, datatype) for each: a plain byte range when the message lies in one piece,
/// else an hindexed datatype over absolute addresses (sent from MPI_BOTTOM).
template <class Piece, class Post>
void for_each_stream_message(const std::vector<Piece>& pieces, std::size_t part, Post&& post) {
  std::vector<int> lengths;
  std::vector<MPI_Aint> addresses;
  void* first = nullptr;
  std::size_t filled = 0;
  auto flush = [&] {
    if (lengths.empty()) return;
    if (lengths.size() == 1) {
      post(first, lengths[0], MPI_BYTE);
    } else {
      MPI_Datatype type;
      SPAWNPOOL_MPI(MPI_Type_create_hindexed(static_cast<int>(lengths.size()), lengths.data(),
                                             addresses.data(), MPI_BYTE, &type));
      SPAWNPOOL_MPI(MPI_Type_commit(&type));
      post(MPI_BOTTOM, 1, type);
      MPI_Type_free(&type);  // the posted operation keeps what it needs
    }
    lengths.clear();
    addresses.clear();
    filled = 0;
  };
  for (const Piece& piece : pieces) {
    char* data = const_cast<char*>(piece.data);
    for (std::size_t offset = 0; offset < piece.size;) {
      const std::size_t n = std::min(piece.size - offset, part - filled);
      if (lengths.empty()) first = data + offset;
      MPI_Aint address;
      SPAWNPOOL_MPI(MPI_Get_address(data + offset, &address));
      lengths.push_back(static_cast<int>(n));
      addresses.push_back(address);
      offset += n;
      filled += n;
      if (filled == part) flush();
    }
  }
  flush();
}

}  // namespace

Transport::Transport(MPI_Comm comm)
    : comm_(comm),
      max_part_(static_cast<std::size_t>(
          env_integer_or_default(env::kMaxMessagePart).value_or(1L << 30))) {}

Transport::~Transport() { abandon_sends(); }

void Transport::send(int rank, int tag, wire::Kind kind, std::uint32_t count,
                     std::shared_ptr<Buffer> message, std::uint64_t aux, OutOfBand out_of_band) {
  wire::Header header;
  header.kind = static_cast<std::uint16_t>(kind);
  header.count = count;
  header.aux = aux;
  header.body_size = message->size() - wire::kHeaderSize;
  header.oob_size = out_of_band.bytes();
  const std::size_t oob_part = part_size_for(header.oob_size);
  header.oob_part_size = header.oob_size ? static_cast<std::uint32_t>(oob_part) : 0;
  PendingSend pending;
  const std::size_t total = message->size();
  const std::size_t part = part_size_for(total);
  if (total <= max_part_) {
    std::memcpy(message->data(), &header, sizeof header);
    pending.requests.resize(1);
    SPAWNPOOL_MPI(MPI_Isend(message->data(), static_cast<int>(total), MPI_BYTE, rank,
                            tag, comm_, &pending.requests[0]));
  } else {
    header.part_size = static_cast<std::uint32_t>(part);
    std::memcpy(message->data(), &header, sizeof header);
    const std::size_t parts = (total + part - 1) / part;
    pending.requests.resize(parts + 1);
    // The announcement is the header itself, sent from the buffer's first bytes.
    SPAWNPOOL_MPI(MPI_Isend(message->data(), static_cast<int>(wire::kHeaderSize), MPI_BYTE, rank,
                            tag, comm_, &pending.requests[0]));
    for (std::size_t i = 0; i < parts; ++i) {
      const std::size_t offset = i * part;
      const int size = static_cast<int>(std::min(part, total - offset));
      SPAWNPOOL_MPI(MPI_Isend(message->data() + offset, size, MPI_BYTE, rank,
                              tag + 1, comm_, &pending.requests[i + 1]));
    }
  }
  for_each_stream_message(out_of_band.blocks, oob_part,
                          [&](void* data, int n, MPI_Datatype type) {
                            pending.requests.emplace_back();
                            SPAWNPOOL_MPI(MPI_Isend(data, n, type, rank, tag + 1, comm_,
                                                    &pending.requests.back()));
                          });
  pending.message = std::move(message);
  pending.out_of_band = std::move(out_of_band);
  sends_.push_back(std::move(pending));
}

std::size_t Transport::part_size_for(std::uint64_t total) const noexcept {
  const std::uint64_t fewest = (total + kMaxParts - 1) / kMaxParts;
  return static_cast<std::size_t>(std::min<std::uint64_t>(
      std::max<std::uint64_t>(max_part_, fewest), static_cast<std::uint64_t>(INT_MAX)));
}

void Transport::receive_out_of_band(const Incoming& message,
                                    const std::vector<MutableSpan>& targets,
                                    const std::function<bool()>& peer_gone) {
  std::uint64_t total = 0;
  for (const MutableSpan& t : targets) total += t.size;
  const wire::Header& header = message.header;
  if (total != header.oob_size) {
    throw wire::ProtocolError("spawnpool: decoding found " + std::to_string(total) +
                              " out-of-band bytes where the message announced " +
                              std::to_string(header.oob_size));
  }
  if (total == 0) return;
  if (header.oob_part_size == 0 || header.oob_part_size > INT_MAX ||
      (total + header.oob_part_size - 1) / header.oob_part_size > kMaxParts) {
    throw wire::ProtocolError("spawnpool: invalid out-of-band part size " +
                              std::to_string(header.oob_part_size) + " for " +
                              std::to_string(total) + " bytes");
  }
  std::vector<MPI_Request> requests;
  for_each_stream_message(targets, header.oob_part_size,
                          [&](void* data, int n, MPI_Datatype type) {
                            requests.emplace_back();
                            SPAWNPOOL_MPI(MPI_Irecv(data, n, type, message.source, message.tag + 1,
                                                    comm_, &requests.back()));
                          });
  await_parts(requests, total, message.source, peer_gone);
}

void Transport::await_parts(std::vector<MPI_Request>& requests, std::uint64_t total, int source,
                            const std::function<bool()>& peer_gone) {
  const std::size_t parts = requests.size();
  auto last_part = std::chrono::steady_clock::now();
  auto deadline = last_part + part_stall_timeout_;
  auto next_check = last_part + std::chrono::milliseconds(100);
  std::vector<int> finished(parts);
  // However the wait ends early (given up on, or MPI failing a test because the sender died), the
  // receives still posted are cancelled and freed: a pool service that left them behind for each
  // client that died mid-message grew by their requests until MPICH ran out of them and aborted.
  struct CancelPending {
    std::vector<MPI_Request>& requests;
    ~CancelPending() {
      for (auto& r : requests) {
        if (r != MPI_REQUEST_NULL) {
          MPI_Cancel(&r);
          MPI_Request_free(&r);
        }
      }
    }
  } cancel_pending{requests};
  for (std::size_t remaining = parts; remaining > 0;) {
    int completed = 0;
    SPAWNPOOL_MPI(MPI_Testsome(static_cast<int>(parts), requests.data(), &completed,
                               finished.data(), MPI_STATUSES_IGNORE));
    if (completed > 0 && completed != MPI_UNDEFINED) {
      remaining -= static_cast<std::size_t>(completed);
      last_part = std::chrono::steady_clock::now();
      deadline = last_part + part_stall_timeout_;
      continue;
    }
    const auto now = std::chrono::steady_clock::now();
    std::string why;
    if ((peer_gone || peer_check_) && now >= next_check) {
      next_check = now + std::chrono::milliseconds(100);
      if (peer_gone && peer_gone()) why = "its process ended";
      if (why.empty() && peer_check_) why = peer_check_(last_part);
    }
    if (!why.empty() || now > deadline) {
      throw Timeout("spawnpool: the parts of a " + std::to_string(total) + "-byte message from rank " +
                    std::to_string(source) + " stopped arriving" +
                    (why.empty() ? "" : ": " + why));
    }
    std::this_thread::yield();
  }
}

bool Transport::progress_sends() {
  sweep_abandoned_sends();
  bool any = false;
  for (auto it = sends_.begin(); it != sends_.end();) {
    int done = 0;
    SPAWNPOOL_MPI(MPI_Testall(static_cast<int>(it->requests.size()), it->requests.data(), &done,
                              MPI_STATUSES_IGNORE));
    if (done) {
      it = sends_.erase(it);
      any = true;
    } else {
      ++it;
    }
  }
  return any;
}

void Transport::abandon_sends() {
  for (auto& pending : sends_) {
    std::vector<MPI_Request> requests = std::move(pending.requests);
    abandon_send(std::move(requests), std::make_shared<PendingSend>(std::move(pending)));
  }
  sends_.clear();
  sweep_abandoned_sends();
}

bool Transport::flush_sends(std::chrono::steady_clock::duration limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  Backoff backoff(PollSettings::from_environment());
  while (sends_pending() && std::chrono::steady_clock::now() < deadline) {
    if (progress_sends()) backoff.activity(); else backoff.pause();
  }
  if (!sends_pending()) return true;
  abandon_sends();
  return false;
}

std::optional<Transport::Incoming> Transport::try_receive(int source, int tag) {
  int flag = 0;
  MPI_Message handle;
  MPI_Status status;
  SPAWNPOOL_MPI(MPI_Improbe(source, tag, comm_, &flag, &handle, &status));
  if (!flag) return std::nullopt;
  int count = 0;
  SPAWNPOOL_MPI(MPI_Get_count(&status, MPI_BYTE, &count));
  if (incoming_limit_ != 0 && static_cast<std::uint64_t>(count) > incoming_limit_) {
    // Not received: the peer is given up on (the message stays queued on its communicator).
    throw wire::ProtocolError("spawnpool: a message of " + std::to_string(count) +
                              " bytes from rank " + std::to_string(status.MPI_SOURCE) +
                              " is larger than the limit of " + std::to_string(incoming_limit_) +
                              " bytes");
  }
  auto first = std::make_shared<Buffer>(static_cast<std::size_t>(count));
  SPAWNPOOL_MPI(MPI_Mrecv(first->data(), count, MPI_BYTE, &handle, MPI_STATUS_IGNORE));

  Incoming incoming;
  incoming.source = status.MPI_SOURCE;
  incoming.tag = status.MPI_TAG;
  if (!wire::is_session_tag(incoming.tag) && incoming.tag != wire::kControlTag) {
    throw wire::ProtocolError("spawnpool: message with tag " + std::to_string(incoming.tag) +
                              " on spawnpool's communicator, which only carries spawnpool's tags");
  }
  incoming.header = wire::decode_header(ByteSpan{first->data(), first->size()});
  if (incoming_limit_ != 0 && incoming.tag == wire::kControlTag &&
      (incoming.header.part_size != 0 || incoming.header.oob_size != 0)) {
    // From an untrusted peer (a pool service's client), control messages are heartbeats: a bare
    // header. (One announced in parts was read inside the wait for another's parts, nested.)
    throw wire::ProtocolError("spawnpool: a control message from rank " +
                              std::to_string(incoming.source) + " announces parts");
  }
  const std::uint64_t announced = wire::kHeaderSize + incoming.header.body_size;
  if (incoming_limit_ != 0 && (incoming.header.body_size > incoming_limit_ ||
                               incoming.header.oob_size > incoming_limit_ - std::min(incoming_limit_, announced))) {
    throw wire::ProtocolError("spawnpool: a message from rank " + std::to_string(incoming.source) +
                              " announces " + std::to_string(incoming.header.body_size) + " + " +
                              std::to_string(incoming.header.oob_size) +
                              " bytes, more than the limit of " + std::to_string(incoming_limit_) +
                              " bytes");
  }
  if (incoming.header.part_size == 0) {
    incoming.message = std::move(first);
    return incoming;
  }

  // A large message: its parts carry the whole message, header included.
  const std::uint64_t total = wire::kHeaderSize + incoming.header.body_size;
  const std::uint64_t part = incoming.header.part_size;
  if (part == 0 || part > INT_MAX || count != static_cast<int>(wire::kHeaderSize) ||
      incoming.header.body_size > (std::uint64_t{1} << 62) || (total + part - 1) / part > kMaxParts) {
    throw wire::ProtocolError("spawnpool: malformed announcement of a large message (" +
                              std::to_string(total) + " bytes in parts of " + std::to_string(part) +
                              ")");
  }
  auto whole = std::make_shared<Buffer>(static_cast<std::size_t>(total));
  const std::size_t parts = static_cast<std::size_t>((total + part - 1) / part);
  std::vector<MPI_Request> requests(parts);
  for (std::size_t i = 0; i < parts; ++i) {
    const std::uint64_t offset = i * part;
    const int size = static_cast<int>(std::min<std::uint64_t>(part, total - offset));
    SPAWNPOOL_MPI(MPI_Irecv(whole->data() + offset, size, MPI_BYTE, incoming.source,
                            incoming.tag + 1, comm_, &requests[i]));
  }
  await_parts(requests, total, incoming.source);
  incoming.header = wire::decode_header(ByteSpan{whole->data(), whole->size()});
  incoming.message = std::move(whole);
  return incoming;
}

}  // namespace spawnpool::detail
