#include "loaders/safetensors.h"

#include <algorithm>
#include <limits>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace winnow {
namespace {

// The reference implementation refuses headers above 100 MB.
constexpr uint64_t kMaxHeaderSize = 100'000'000;

struct DTypeInfo {
  DType dtype;
  const char* name;
  size_t size;
};

constexpr DTypeInfo kDTypes[] = {
    {DType::kBool, "BOOL", 1}, {DType::kU8, "U8", 1},     {DType::kI8, "I8", 1},
    {DType::kF8E4M3, "F8_E4M3", 1}, {DType::kF8E5M2, "F8_E5M2", 1}, {DType::kI16, "I16", 2},
    {DType::kU16, "U16", 2},   {DType::kF16, "F16", 2},   {DType::kBF16, "BF16", 2},
    {DType::kI32, "I32", 4},   {DType::kU32, "U32", 4},   {DType::kF32, "F32", 4},
    {DType::kF64, "F64", 8},   {DType::kI64, "I64", 8},   {DType::kU64, "U64", 8},
};

Status Invalid(const std::string& path, const std::string& what) {
  return Status(codes::kSafetensorsInvalid, "invalid safetensors file '" + path + "': " + what);
}

// A non-negative JSON integer (rejects floats, negatives, booleans).
bool AsUint64(const nlohmann::json& j, uint64_t* out) {
  if (j.is_number_unsigned()) {
    *out = j.get<uint64_t>();
    return true;
  }
  if (j.is_number_integer() && j.get<int64_t>() >= 0) {
    *out = static_cast<uint64_t>(j.get<int64_t>());
    return true;
  }
  return false;
}

}  // namespace

size_t DTypeSize(DType dtype) {
  for (const DTypeInfo& d : kDTypes) {
    if (d.dtype == dtype) return d.size;
  }
  return 0;
}

const char* DTypeName(DType dtype) {
  for (const DTypeInfo& d : kDTypes) {
    if (d.dtype == dtype) return d.name;
  }
  return "?";
}

std::optional<DType> ParseDType(std::string_view name) {
  for (const DTypeInfo& d : kDTypes) {
    if (name == d.name) return d.dtype;
  }
  return std::nullopt;
}

StatusOr<SafeTensors> SafeTensors::Open(const std::string& path) {
  WINNOW_ASSIGN_OR_RETURN(MappedFile file, MappedFile::Open(path));
  return FromMapped(std::move(file));
}

StatusOr<SafeTensors> SafeTensors::FromMapped(MappedFile file) {
  const std::string& path = file.path();
  const uint8_t* bytes = file.data();
  const uint64_t file_size = file.size();
  if (file_size < 8) {
    return Invalid(path, "file is " + std::to_string(file_size) +
                             " bytes, shorter than the 8-byte header size prefix");
  }
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | bytes[i];
  if (header_size > kMaxHeaderSize) {
    return Invalid(path, "header size " + std::to_string(header_size) + " is absurd (limit " +
                             std::to_string(kMaxHeaderSize) + " bytes)");
  }
  if (header_size > file_size - 8) {
    return Invalid(path, "header size " + std::to_string(header_size) + " exceeds the file (" +
                             std::to_string(file_size - 8) + " bytes after the prefix)");
  }
  const char* header_begin = reinterpret_cast<const char*>(bytes + 8);
  // The format forbids duplicate keys; nlohmann::json would keep the last silently, so the parser callback
  // tracks each open object's keys and notes the first key seen twice.
  std::vector<std::set<std::string>> open_objects;
  std::string duplicate;
  const nlohmann::json::parser_callback_t track_keys = [&](int, nlohmann::json::parse_event_t event,
                                                           nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    if (event == E::object_start) {
      open_objects.emplace_back();
    } else if (event == E::object_end) {
      if (!open_objects.empty()) open_objects.pop_back();
    } else if (event == E::key && !open_objects.empty() && parsed.is_string()) {
      if (!open_objects.back().insert(parsed.get<std::string>()).second && duplicate.empty())
        duplicate = parsed.get<std::string>();
    }
    return true;
  };
  nlohmann::json header =
      nlohmann::json::parse(header_begin, header_begin + header_size, track_keys, /*allow_exceptions=*/false);
  if (header.is_discarded()) return Invalid(path, "header is not valid JSON");
  if (!duplicate.empty()) return Invalid(path, "header names '" + duplicate + "' twice in one object (duplicate keys are not allowed)");
  if (!header.is_object()) return Invalid(path, "header must be a JSON object");

  const uint8_t* data_region = bytes + 8 + header_size;
  const uint64_t data_size = file_size - 8 - header_size;

  SafeTensors st;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const nlohmann::json& entry = it.value();
    if (name == "__metadata__") {
      if (!entry.is_object()) return Invalid(path, "__metadata__ must be an object");
      for (auto m = entry.begin(); m != entry.end(); ++m) {
        if (!m.value().is_string()) {
          return Invalid(path, "__metadata__ value for '" + m.key() + "' must be a string");
        }
        st.metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor '" + name + "': ";
    if (!entry.is_object()) return Invalid(path, where + "entry must be an object");
    auto dtype_it = entry.find("dtype");
    auto shape_it = entry.find("shape");
    auto offsets_it = entry.find("data_offsets");
    if (dtype_it == entry.end()) return Invalid(path, where + "missing field 'dtype'");
    if (shape_it == entry.end()) return Invalid(path, where + "missing field 'shape'");
    if (offsets_it == entry.end()) return Invalid(path, where + "missing field 'data_offsets'");
    if (!dtype_it->is_string()) return Invalid(path, where + "'dtype' must be a string");
    const std::string dtype_name = dtype_it->get<std::string>();
    std::optional<DType> dtype = ParseDType(dtype_name);
    if (!dtype) return Invalid(path, where + "unknown dtype '" + dtype_name + "'");
    if (!shape_it->is_array()) return Invalid(path, where + "'shape' must be an array");

    TensorView view{name, *dtype, {}, nullptr, 0};
    uint64_t elements = 1;
    for (const nlohmann::json& d : *shape_it) {
      uint64_t dim = 0;
      if (!AsUint64(d, &dim) || dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return Invalid(path, where + "shape entries must be non-negative integers");
      }
      if (__builtin_mul_overflow(elements, dim, &elements)) {
        return Invalid(path, where + "shape product overflows");
      }
      view.shape.push_back(static_cast<int64_t>(dim));
    }
    uint64_t expected_bytes = 0;
    if (__builtin_mul_overflow(elements, static_cast<uint64_t>(DTypeSize(*dtype)), &expected_bytes)) {
      return Invalid(path, where + "shape product overflows");
    }
    if (!offsets_it->is_array() || offsets_it->size() != 2) {
      return Invalid(path, where + "'data_offsets' must be an array of 2 integers");
    }
    uint64_t begin = 0, end = 0;
    if (!AsUint64((*offsets_it)[0], &begin) || !AsUint64((*offsets_it)[1], &end)) {
      return Invalid(path, where + "'data_offsets' must be non-negative integers");
    }
    if (begin > end) {
      return Invalid(path, where + "data_offsets begin " + std::to_string(begin) + " > end " +
                               std::to_string(end));
    }
    if (end > data_size) {
      return Invalid(path, where + "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                               "] outside the data region of " + std::to_string(data_size) + " bytes");
    }
    if (end - begin != expected_bytes) {
      return Invalid(path, where + "byte length " + std::to_string(end - begin) +
                               " does not match shape x dtype size (" + std::to_string(expected_bytes) + ")");
    }
    view.data = data_region + begin;
    view.nbytes = static_cast<size_t>(end - begin);
    st.tensors_.push_back(std::move(view));
  }

  std::sort(st.tensors_.begin(), st.tensors_.end(), [&](const TensorView& a, const TensorView& b) {
    return a.data != b.data ? a.data < b.data : a.nbytes < b.nbytes;
  });
  uint64_t cursor = 0;
  const TensorView* prev = nullptr;
  for (const TensorView& t : st.tensors_) {
    const uint64_t begin = static_cast<uint64_t>(t.data - data_region);
    if (begin < cursor) {
      return Invalid(path, "tensors '" + prev->name + "' and '" + t.name + "' overlap");
    }
    if (begin > cursor) {
      return Invalid(path, "gap of " + std::to_string(begin - cursor) + " bytes before tensor '" + t.name +
                               "' (tensors must be contiguous)");
    }
    cursor = begin + t.nbytes;
    prev = &t;
  }
  if (cursor != data_size) {
    return Invalid(path, "data region has " + std::to_string(data_size - cursor) +
                             " trailing bytes not covered by any tensor");
  }
  for (size_t i = 0; i < st.tensors_.size(); ++i) st.index_.emplace(st.tensors_[i].name, i);
  st.file_ = std::move(file);  // the mapping's address is unchanged by the move
  return st;
}

const TensorView* SafeTensors::Find(std::string_view name) const {
  auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace winnow
