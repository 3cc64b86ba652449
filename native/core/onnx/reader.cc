#include "onnx/reader.h"

#include <cstring>

#include "common/half.h"

namespace winnow::onnx {

Status Malformed(const std::string& what) { return Status(codes::kOnnxInvalid, "malformed ONNX protobuf: " + what); }

bool ParseNode(std::string_view bytes, Node* n) {
  pb::Reader r(bytes);
  pb::Field f;
  while (r.Next(&f)) {
    if (f.wire != pb::kLen) continue;
    switch (f.number) {
      case node_f::kInput: n->inputs.push_back(f.bytes); break;
      case node_f::kOutput: n->outputs.push_back(f.bytes); break;
      case node_f::kName: n->name = f.bytes; break;
      case node_f::kOpType: n->op = f.bytes; break;
      case node_f::kDomain: n->domain = f.bytes; break;
      case node_f::kAttribute: {
        n->attributes.push_back(f.bytes);
        pb::Reader ar(f.bytes);
        pb::Field af;
        while (ar.Next(&af))
          if (af.number == attr_f::kG || af.number == attr_f::kGraphs) n->has_subgraph = true;
        if (!ar.ok()) return false;
        break;
      }
      default: break;
    }
  }
  return r.ok();
}

Attr FindAttr(const Node& n, std::string_view name) {
  Attr a;
  for (std::string_view payload : n.attributes) {
    pb::Reader r(payload);
    pb::Field f;
    Attr cur;
    bool match = false;
    while (r.Next(&f)) {
      if (f.number == attr_f::kName && f.wire == pb::kLen) match = f.bytes == name;
      else if (f.number == attr_f::kF && f.wire == pb::kFixed32) cur.f = BitsToFloat(static_cast<uint32_t>(f.varint));
      else if (f.number == attr_f::kI && f.wire == pb::kVarint) cur.i = static_cast<int64_t>(f.varint);
      else if (f.number == attr_f::kT && f.wire == pb::kLen) cur.t = f.bytes;
      else if (f.number == attr_f::kS && f.wire == pb::kLen) cur.s = f.bytes;
      else if (f.number == attr_f::kInts && f.wire == pb::kVarint) cur.ints.push_back(static_cast<int64_t>(f.varint));
      else if (f.number == attr_f::kInts && f.wire == pb::kLen) pb::ReadPackedVarints(f.bytes, &cur.ints);
    }
    if (match && r.ok()) {
      cur.found = true;
      return cur;
    }
  }
  return a;
}

std::pair<std::string_view, std::string_view> KeyValue(std::string_view entry) {
  pb::Reader r(entry);
  pb::Field f;
  std::string_view key, value;
  while (r.Next(&f)) {
    if (f.number == 1 && f.wire == pb::kLen) key = f.bytes;
    else if (f.number == 2 && f.wire == pb::kLen) value = f.bytes;
  }
  return {key, value};
}

std::optional<uint64_t> Decimal(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

std::optional<Tensor> ParseTensor(std::string_view bytes, const ExternalFiles* files) {
  Tensor t;
  pb::Reader r(bytes);
  pb::Field f;
  std::string_view location;
  std::optional<uint64_t> offset = 0, length;
  while (r.Next(&f)) {
    switch (f.number) {
      case tensor_f::kExternalData:
        if (f.wire == pb::kLen) {
          auto [key, value] = KeyValue(f.bytes);
          if (key == "location") location = value;
          else if (key == "offset") offset = Decimal(value);
          else if (key == "length") length = Decimal(value);
        }
        break;
      case tensor_f::kDims:
        if (f.wire == pb::kVarint) t.dims.push_back(static_cast<int64_t>(f.varint));
        else if (f.wire == pb::kLen && !pb::ReadPackedVarints(f.bytes, &t.dims)) return std::nullopt;
        break;
      case tensor_f::kDataType: t.data_type = f.varint; break;
      case tensor_f::kRawData: t.raw = f.bytes; break;
      case tensor_f::kDataLocation: t.external = f.varint == 1; break;
      case tensor_f::kFloatData:
        if (f.wire == pb::kFixed32) t.floats.push_back(BitsToFloat(static_cast<uint32_t>(f.varint)));
        else if (f.wire == pb::kLen) {
          if (f.bytes.size() % 4) return std::nullopt;
          for (size_t i = 0; i < f.bytes.size(); i += 4) {
            uint32_t b;
            std::memcpy(&b, f.bytes.data() + i, 4);
            t.floats.push_back(BitsToFloat(b));
          }
        }
        break;
      case tensor_f::kDoubleData:
        if (f.wire == pb::kFixed64) {
          double d;
          std::memcpy(&d, &f.varint, 8);
          t.doubles.push_back(d);
        } else if (f.wire == pb::kLen) {
          if (f.bytes.size() % 8) return std::nullopt;
          for (size_t i = 0; i < f.bytes.size(); i += 8) {
            double d;
            std::memcpy(&d, f.bytes.data() + i, 8);
            t.doubles.push_back(d);
          }
        }
        break;
      case tensor_f::kInt32Data:
      case tensor_f::kInt64Data:
        if (f.wire == pb::kVarint) t.ints.push_back(static_cast<int64_t>(f.varint));
        else if (f.wire == pb::kLen && !pb::ReadPackedVarints(f.bytes, &t.ints)) return std::nullopt;
        break;
      default: break;
    }
  }
  if (!r.ok()) return std::nullopt;
  if (t.external && files && offset) {
    auto file = files->find(location);
    if (file != files->end() && *offset <= file->second.size()) {
      const uint64_t n = length ? *length : file->second.size() - *offset;
      if (n <= file->second.size() - *offset) {
        t.raw = file->second.substr(*offset, n);
        t.resolved = true;
      }
    }
  }
  return t;
}

size_t NumElements(const Tensor& t) {
  size_t n = 1;
  for (int64_t d : t.dims) {
    if (d < 0 || d > (int64_t{1} << 40)) return 0;
    n *= static_cast<size_t>(d);
  }
  return n;
}

std::optional<double> ScalarValue(const Tensor& t) {
  if ((t.external && !t.resolved) || NumElements(t) != 1) return std::nullopt;
  switch (t.data_type) {
    case dtype::kFloat:
      if (t.raw.size() == 4) {
        uint32_t b;
        std::memcpy(&b, t.raw.data(), 4);
        return BitsToFloat(b);
      }
      if (t.raw.empty() && t.floats.size() == 1) return t.floats[0];
      return std::nullopt;
    case dtype::kDouble:
      if (t.raw.size() == 8) {
        double d;
        std::memcpy(&d, t.raw.data(), 8);
        return d;
      }
      if (t.raw.empty() && t.doubles.size() == 1) return t.doubles[0];
      return std::nullopt;
    case dtype::kFloat16:
      if (t.raw.size() == 2) {
        uint16_t h;
        std::memcpy(&h, t.raw.data(), 2);
        return HalfToFloat(h);
      }
      if (t.raw.empty() && t.ints.size() == 1) return HalfToFloat(static_cast<uint16_t>(t.ints[0]));
      return std::nullopt;
    default: return std::nullopt;
  }
}

std::optional<std::vector<int64_t>> IntValues(const Tensor& t) {
  if (t.external && !t.resolved) return std::nullopt;
  const size_t n = NumElements(t);
  if (t.data_type == dtype::kInt64 && !t.raw.empty()) {
    if (t.raw.size() != n * 8) return std::nullopt;
    std::vector<int64_t> v(n);
    std::memcpy(v.data(), t.raw.data(), t.raw.size());
    return v;
  }
  if (t.data_type == dtype::kInt32 && !t.raw.empty()) {
    if (t.raw.size() != n * 4) return std::nullopt;
    std::vector<int64_t> v(n);
    for (size_t i = 0; i < n; ++i) {
      int32_t x;
      std::memcpy(&x, t.raw.data() + 4 * i, 4);
      v[i] = x;
    }
    return v;
  }
  if ((t.data_type == dtype::kInt64 || t.data_type == dtype::kInt32) && t.ints.size() == n) return t.ints;
  return std::nullopt;
}

bool IsOp(const Node& n, std::string_view op) { return n.op == op && (n.domain.empty() || n.domain == "ai.onnx"); }

std::optional<std::string_view> OtherOperand(const Node& n, std::string_view value) {
  if (n.inputs.size() != 2) return std::nullopt;
  if (n.inputs[0] == value && n.inputs[1] != value) return n.inputs[1];
  if (n.inputs[1] == value && n.inputs[0] != value) return n.inputs[0];
  return std::nullopt;
}

}  // namespace winnow::onnx
