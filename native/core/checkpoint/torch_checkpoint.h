// pytorch_model.bin as torch.save writes a state dict: a zip archive (stored, not compressed) holding
// <archive>/data.pkl, a pickle of an OrderedDict name -> torch._utils._rebuild_tensor_v2(storage, offset, size,
// stride, ...), and <archive>/data/<key> files with each storage's bytes. Read without executing anything: the
// pickle machine accepts only the opcodes and globals a state dict needs and refuses everything else.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "loaders/safetensors.h"

namespace winnow::checkpoint {

// One tensor of the state dict, located in the file.
struct StoredTensor {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t offset = 0;  // where the tensor's first element lies in the file (its storage's entry + storage offset)
  size_t nbytes = 0;    // shape x dtype size; the tensor is contiguous (others are refused)
};

// Reads the state dict in the torch.save zip `data` [size] (the whole file, e.g. mapped). Tensors come in the
// pickle's order. Errors: codes::kCheckpointInvalid naming what was refused (an opcode, a global, a bad zip record,
// a tensor outside its storage, a non-contiguous tensor, the legacy pre-zip format).
StatusOr<std::vector<StoredTensor>> ReadTorchStateDict(const uint8_t* data, size_t size);

}  // namespace winnow::checkpoint
