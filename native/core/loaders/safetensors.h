// safetensors reader over a read-only mmap: no copies, strict validation.
//
// Layout: u64 little-endian header size N | N bytes of JSON header | data region.
// The header maps tensor names to {"dtype", "shape", "data_offsets": [begin, end]} (offsets are
// relative to the data region) plus an optional "__metadata__" string -> string object.
// Validation follows the reference implementation: offsets in bounds, begin <= end,
// shape x dtype size == end - begin without overflow, tensors non-overlapping and contiguous,
// covering the data region exactly. Every failure is codes::kSafetensorsInvalid.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/mmap.h"
#include "common/status.h"

namespace winnow {

enum class DType {
  kBool, kU8, kI8, kF8E4M3, kF8E5M2, kI16, kU16, kF16, kBF16, kI32, kU32, kF32, kF64, kI64, kU64
};

size_t DTypeSize(DType dtype);              // bytes per element
const char* DTypeName(DType dtype);         // the safetensors spelling: "F32", "BF16", ...
std::optional<DType> ParseDType(std::string_view name);

struct TensorView {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  const uint8_t* data;  // [nbytes]; inside the mapping; NOT necessarily aligned to the dtype
  size_t nbytes;
};

class SafeTensors {
 public:
  static StatusOr<SafeTensors> Open(const std::string& path);
  // Parses an already mapped file (takes ownership of the mapping).
  static StatusOr<SafeTensors> FromMapped(MappedFile file);

  const TensorView* Find(std::string_view name) const;  // nullptr when absent
  const std::vector<TensorView>& tensors() const { return tensors_; }  // sorted by offset
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::string& path() const { return file_.path(); }
  // The mapping, handed over (the views stay valid while it lives: a mapping does not move).
  MappedFile ReleaseFile() { return std::move(file_); }

 private:
  MappedFile file_;
  std::vector<TensorView> tensors_;
  std::unordered_map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace winnow
