// Protocol Buffers wire format, just enough to read and rewrite ONNX ModelProto / GraphProto / NodeProto
// without the protobuf library: a bounds-checked field reader and a few field writers. Every read is
// checked against the buffer; malformed input makes the reader stop with ok() == false, never read past.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace winnow::onnx::pb {

enum Wire : uint8_t { kVarint = 0, kFixed64 = 1, kLen = 2, kFixed32 = 5 };

struct Field {
  uint32_t number = 0;
  uint8_t wire = 0;
  uint64_t varint = 0;     // kVarint; kFixed32 / kFixed64 values as raw bits
  std::string_view bytes;  // kLen payload
  std::string_view raw;    // the whole field, tag included (to copy it through unchanged)
};

// Decodes the varint at buf[*pos], advancing *pos. False (and *pos unspecified) when it is truncated or
// longer than 10 bytes.
bool ReadVarint(std::string_view buf, size_t* pos, uint64_t* v);

// Appends the varints of a packed repeated field (e.g. repeated int64). False on malformed input.
bool ReadPackedVarints(std::string_view packed, std::vector<int64_t>* out);

class Reader {
 public:
  explicit Reader(std::string_view buf) : buf_(buf) {}
  // Reads the next field. Returns false at the end of the buffer or on malformed input (then ok() is false).
  bool Next(Field* f);
  bool ok() const { return ok_; }

 private:
  std::string_view buf_;
  size_t pos_ = 0;
  bool ok_ = true;
};

void AppendVarint(std::string* out, uint64_t v);
void AppendTag(std::string* out, uint32_t number, Wire wire);
void AppendLen(std::string* out, uint32_t number, std::string_view payload);
void AppendVarintField(std::string* out, uint32_t number, uint64_t v);
void AppendFixed32Field(std::string* out, uint32_t number, uint32_t bits);

}  // namespace winnow::onnx::pb
