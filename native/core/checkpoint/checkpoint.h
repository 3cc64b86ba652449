// The weights of a model folder as the hub stores them: model.safetensors, sharded safetensors
// (model.safetensors.index.json), pytorch_model.bin or its sharded index; adapter_model.* for peft adapters.
// Every file is mapped read-only and tensors are views into the mappings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/mmap.h"
#include "common/status.h"
#include "loaders/safetensors.h"
#include "onnx/reader.h"

namespace winnow::checkpoint {

struct Tensor {
  DType dtype;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;  // [nbytes] inside a mapping the Checkpoint holds; not necessarily aligned
  size_t nbytes = 0;
  std::string file;  // the file holding it, relative to the folder ("model-00001-of-00002.safetensors")
  uint64_t offset = 0;  // where its bytes start in that file
  int64_t numel() const;
};

enum class Kind { kModel, kAdapter };

class Checkpoint {
 public:
  // The first of <stem>.safetensors, <stem>.safetensors.index.json, pytorch_<stem>.bin / adapter_model.bin,
  // pytorch_<stem>.bin.index.json present in `dir` (stem "model" or "adapter_model"), relative to `dir`; nullopt
  // when none is.
  static std::optional<std::string> Find(const std::string& dir, Kind kind = Kind::kModel);
  // Opens what Find finds. Errors: codes::kModelNotFound (none, listing the names tried), kSafetensorsInvalid,
  // kCheckpointInvalid (a bad pickle or index: shard names outside the folder, a name the shard lacks), kIo.
  static StatusOr<std::unique_ptr<Checkpoint>> Open(const std::string& dir, Kind kind = Kind::kModel);

  const Tensor* Get(std::string_view name) const;  // nullptr when absent
  const std::map<std::string, Tensor, std::less<>>& tensors() const { return tensors_; }
  const std::string& dir() const { return dir_; }
  const std::string& source() const { return source_; }  // what Find found
  // Each mapped file by its name relative to the folder (Tensor::file), for ONNX external data.
  const onnx::ExternalFiles& files() const { return files_; }
  // MappedFile::DropResidentPages on each mapped file: once the session has copied and packed what it needs, the
  // pages read at load stop counting in the process's memory; tensors read in place fault back in as used.
  void DropResidentPages() const;
  // Whether `path` is the very file mapped for `file` (a name of files()): for handing the path to ONNX Runtime.
  bool IsMappedFile(std::string_view file, const std::string& path) const;

 private:
  Status AddFile(const std::string& name, const std::optional<std::vector<std::string>>& only);
  std::string dir_, source_;
  std::vector<std::unique_ptr<MappedFile>> maps_;
  std::map<std::string, Tensor, std::less<>> tensors_;
  onnx::ExternalFiles files_;
};

// Reads `t` as float32 (F32, F16, BF16, F64 stored), row-major. Other dtypes: codes::kCheckpointInvalid.
StatusOr<std::vector<float>> ToFloat(const Tensor& t, const std::string& name);

}  // namespace winnow::checkpoint
