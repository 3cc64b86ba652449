#include "onnx/wire.h"

#include <cstring>

namespace winnow::onnx::pb {

bool ReadVarint(std::string_view buf, size_t* pos, uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*pos >= buf.size()) return false;
    const uint8_t b = static_cast<uint8_t>(buf[(*pos)++]);
    result |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = result;
      return true;
    }
  }
  return false;  // more than 10 bytes
}

bool ReadPackedVarints(std::string_view packed, std::vector<int64_t>* out) {
  size_t pos = 0;
  while (pos < packed.size()) {
    uint64_t v;
    if (!ReadVarint(packed, &pos, &v)) return false;
    out->push_back(static_cast<int64_t>(v));
  }
  return true;
}

bool Reader::Next(Field* f) {
  if (!ok_ || pos_ >= buf_.size()) return false;
  const size_t start = pos_;
  uint64_t tag;
  if (!ReadVarint(buf_, &pos_, &tag) || (tag >> 3) == 0 || (tag >> 3) > 0x1fffffff) return ok_ = false;
  f->number = static_cast<uint32_t>(tag >> 3);
  f->wire = static_cast<uint8_t>(tag & 7);
  f->varint = 0;
  f->bytes = {};
  switch (f->wire) {
    case kVarint:
      if (!ReadVarint(buf_, &pos_, &f->varint)) return ok_ = false;
      break;
    case kFixed64:
    case kFixed32: {
      const size_t n = f->wire == kFixed64 ? 8 : 4;
      if (buf_.size() - pos_ < n) return ok_ = false;
      uint64_t bits = 0;
      std::memcpy(&bits, buf_.data() + pos_, n);  // little-endian hosts only (x86-64, arm64)
      f->varint = bits;
      pos_ += n;
      break;
    }
    case kLen: {
      uint64_t len;
      if (!ReadVarint(buf_, &pos_, &len) || len > buf_.size() - pos_) return ok_ = false;
      f->bytes = buf_.substr(pos_, static_cast<size_t>(len));
      pos_ += static_cast<size_t>(len);
      break;
    }
    default:  // groups (3, 4) and reserved wire types: ONNX never uses them
      return ok_ = false;
  }
  f->raw = buf_.substr(start, pos_ - start);
  return true;
}

void AppendVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void AppendTag(std::string* out, uint32_t number, Wire wire) { AppendVarint(out, (uint64_t{number} << 3) | wire); }

void AppendLen(std::string* out, uint32_t number, std::string_view payload) {
  AppendTag(out, number, kLen);
  AppendVarint(out, payload.size());
  out->append(payload);
}

void AppendVarintField(std::string* out, uint32_t number, uint64_t v) {
  AppendTag(out, number, kVarint);
  AppendVarint(out, v);
}

void AppendFixed32Field(std::string* out, uint32_t number, uint32_t bits) {
  AppendTag(out, number, kFixed32);
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
}

}  // namespace winnow::onnx::pb
