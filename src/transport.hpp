#pragma once
// Framed messages over one MPI communicator, without blocking: sends are MPI_Isend'ed from buffers
// kept alive until complete; receives use MPI_Improbe + MPI_Mrecv into an exactly-sized buffer.
// A message larger than the part limit (default 1 GiB, $SPAWNPOOL_MAX_MESSAGE_PART) is announced by
// its bare header and then sent in parts, received straight into one buffer: messages over 2 GiB
// work and the payload is never copied on the way. Out-of-band blocks (wire_format.hpp) are sent
// from the objects that hold them and received straight into the decoded objects.
// A received message travels in at most kMaxParts MPI messages (a sender uses larger parts when
// needed), so a peer cannot make a process post more receives than that; a process that faces
// untrusted peers (the pool service) also limits the size a message may announce.
// Not thread-safe: one Transport is used by one thread.

#include <spawnpool/detail/bytes.hpp>
#include <spawnpool/detail/wire_format.hpp>

#include <mpi.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace spawnpool::detail {

/// Most MPI messages that one message's parts, or its out-of-band bytes, travel in.
inline constexpr std::uint64_t kMaxParts = std::uint64_t{1} << 16;

class Transport {
 public:
  struct Incoming {
    int source = -1;
    int tag = -1;
    wire::Header header;
    std::shared_ptr<const Buffer> message;  // header included

    /// The whole message, header included.
    ByteSpan bytes() const noexcept { return ByteSpan{message->data(), message->size()}; }
  };

  /// Uses `comm` (not owned) for spawnpool's tags.
  explicit Transport(MPI_Comm comm);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  /// Writes the header (kind, count, body size, aux) into the first wire::kHeaderSize bytes of
  /// `message` and starts sending it to `rank` with message tag `tag` (parts on tag + 1), followed
  /// by the `out_of_band` blocks (on tag + 1), which stay alive until the send completes.
  void send(int rank, int tag, wire::Kind kind, std::uint32_t count,
            std::shared_ptr<Buffer> message, std::uint64_t aux = 0,
            OutOfBand out_of_band = {});

  /// Completes finished sends and frees their buffers. True when any completed.
  bool progress_sends();
  bool sends_pending() const noexcept { return !sends_.empty(); }

  /// Refuses messages that announce more than `bytes` (header, body and out-of-band bytes
  /// together) before anything is allocated for them, and control-tag messages in parts or with
  /// out-of-band bytes (a heartbeat is a bare header). 0 (the default): no limit.
  void limit_incoming(std::uint64_t bytes) noexcept { incoming_limit_ = bytes; }

  /// While the parts of a large message or its out-of-band bytes are awaited, `check` is asked
  /// every 0.1 s, with the time the last part arrived (or the wait began); a non-empty answer
  /// (why) ends the wait with Timeout. For a peer that must be given up on sooner than the part
  /// stall limit (a pool service's client). Empty: not asked.
  using PeerCheck = std::function<std::string(std::chrono::steady_clock::time_point last_part)>;
  void watch_peer_while_waiting(PeerCheck check) { peer_check_ = std::move(check); }

  /// Receives one whole message from `source` (or MPI_ANY_SOURCE) with message tag `tag` (or
  /// MPI_ANY_TAG: then only spawnpool's session tags are accepted) if one is waiting.
  /// @throws wire::ProtocolError for a message without a valid header, one larger than
  /// limit_incoming allows, or one announced in more than kMaxParts parts
  /// @throws Timeout when the parts of a large message stop arriving for `part_stall_timeout`, or
  /// the watch_peer_while_waiting check gives up on the sender
  std::optional<Incoming> try_receive(int source, int tag);

  /// Receives the out-of-band bytes that follow `message` (header.oob_size of them) into
  /// `targets`, in order; their sizes must add up to header.oob_size. Call it for each message with
  /// out-of-band bytes before receiving the next message from the same source.
  /// `peer_gone`, when given, is asked every 0.1 s while waiting whether the sender has ended.
  /// @throws wire::ProtocolError when the targets do not add up or the part size is invalid
  /// @throws Timeout when the bytes stop arriving for `part_stall_timeout`, or the sender ended
  /// (`peer_gone`, or the watch_peer_while_waiting check)
  void receive_out_of_band(const Incoming& message, const std::vector<MutableSpan>& targets,
                           const std::function<bool()>& peer_gone = {});

  /// Cancels sends that have not completed (used when the peer is gone). Their buffers stay alive
  /// until MPI has completed them (abandoned_sends.hpp): MPI may still read them.
  void abandon_sends();

  /// Completes pending sends, polling with backoff, for at most `limit`; what has not completed
  /// by then is abandoned. True when every send completed.
  /// @throws MpiError when MPI fails testing a send
  bool flush_sends(std::chrono::steady_clock::duration limit);

  MPI_Comm comm() const noexcept { return comm_; }

 private:
  struct PendingSend {
    std::vector<MPI_Request> requests;
    std::shared_ptr<Buffer> message;
    OutOfBand out_of_band;
  };

  /// Waits for `requests` (receives of a `total`-byte message from `source`), giving up when none
  /// completes for part_stall_timeout_.
  void await_parts(std::vector<MPI_Request>& requests, std::uint64_t total, int source,
                   const std::function<bool()>& peer_gone = {});

  /// The part size for sending `total` bytes: max_part_, or more so that at most kMaxParts parts.
  std::size_t part_size_for(std::uint64_t total) const noexcept;

  MPI_Comm comm_;
  std::size_t max_part_;
  std::chrono::seconds part_stall_timeout_{120};
  std::uint64_t incoming_limit_ = 0;
  PeerCheck peer_check_;
  std::vector<PendingSend> sends_;
};

}  // namespace spawnpool::detail
