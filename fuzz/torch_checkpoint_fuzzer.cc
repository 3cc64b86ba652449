// libFuzzer target for the pytorch_model.bin reader (native/core/checkpoint/torch_checkpoint.h). The first byte picks
// what the rest is: even, a whole file (zip + pickle); odd, only the pickle, put into a good zip as archive/data.pkl
// beside storages "0".."3" of 24, 16, 8 and 0 bytes (so pickle mutations are not lost to zip checks).
// ReadTorchStateDict must return a Status and never read outside the input; each tensor it returns lies inside the
// file, with nbytes = shape x dtype size.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "checkpoint/torch_checkpoint.h"
#include "../native/tests/torch_checkpoint_builder.h"

namespace {

void Check(const uint8_t* data, size_t size) {
  auto r = winnow::checkpoint::ReadTorchStateDict(data, size);
  if (!r.ok()) {
    if (r.status().code() != winnow::codes::kCheckpointInvalid) {
      std::fprintf(stderr, "INVARIANT: error code %s\n", r.status().ToString().c_str());
      std::abort();
    }
    return;
  }
  uint64_t sum = 0;
  for (const auto& t : *r) {
    uint64_t numel = 1;
    for (int64_t d : t.shape) {
      if (d < 0) std::abort();
      numel *= static_cast<uint64_t>(d);
    }
    if (t.offset > size || t.nbytes > size - t.offset || numel * winnow::DTypeSize(t.dtype) != t.nbytes) {
      std::fprintf(stderr, "INVARIANT: tensor '%s' [%llu, +%zu) of a %zu-byte file, %llu elements\n", t.name.c_str(),
                   static_cast<unsigned long long>(t.offset), t.nbytes, size, static_cast<unsigned long long>(numel));
      std::abort();
    }
    if (t.nbytes > 0) sum += data[t.offset] + data[t.offset + t.nbytes - 1];  // ASan checks both ends
  }
  if (sum == 0xffffffffffffffffull) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  if ((data[0] & 1) == 0) {
    Check(data + 1, size - 1);
    return 0;
  }
  const std::string pickle(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::string file = winnow::testing::Checkpoint(
      pickle, {{"0", std::string(24, '\1')}, {"1", std::string(16, '\2')}, {"2", std::string(8, '\3')}, {"3", ""}});
  // An exact-size heap copy, so reads past the end are caught.
  std::unique_ptr<uint8_t[]> copy(new uint8_t[file.size()]);
  std::memcpy(copy.get(), file.data(), file.size());
  Check(copy.get(), file.size());
  return 0;
}
