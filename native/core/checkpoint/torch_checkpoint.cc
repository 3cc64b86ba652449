#include "checkpoint/torch_checkpoint.h"

namespace winnow::checkpoint {

// Placeholder until the reader lands.
StatusOr<std::vector<StoredTensor>> ReadTorchStateDict(const uint8_t*, size_t) {
  return Status(codes::kCheckpointInvalid, "pytorch_model.bin is not read yet");
}

}  // namespace winnow::checkpoint
