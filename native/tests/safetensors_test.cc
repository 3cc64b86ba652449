#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "loaders/safetensors.h"

namespace winnow {
namespace {

std::string TempPath(const std::string& name) { return ::testing::TempDir() + "/winnow_st_" + name; }

std::string WriteFile(const std::string& name, const std::string& bytes) {
  const std::string path = TempPath(name);
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

std::string Le64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

std::string Build(const std::string& header, const std::string& data) {
  return Le64(header.size()) + header + data;
}

// a: F32 [2, 3] = 0..5; b: F16 [4]; c: I8 scalar; empty: F32 [0, 5]; padded header.
std::string WellFormed() {
  std::string data;
  for (int i = 0; i < 6; ++i) {
    const float f = static_cast<float>(i);
    data.append(reinterpret_cast<const char*>(&f), 4);
  }
  const uint16_t halves[] = {0x3c00, 0x4000, 0xc000, 0x0000};  // 1, 2, -2, 0
  data.append(reinterpret_cast<const char*>(halves), 8);
  data.push_back(static_cast<char>(-5));
  const std::string header =
      R"({"__metadata__":{"format":"pt","note":"x"},)"
      R"("b":{"dtype":"F16","shape":[4],"data_offsets":[24,32]},)"
      R"("a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},)"
      R"("c":{"dtype":"I8","shape":[],"data_offsets":[32,33]},)"
      R"("empty":{"dtype":"F32","shape":[0,5],"data_offsets":[33,33]}}    )";
  return Build(header, data);
}

Status OpenBytes(const std::string& bytes) {
  const std::string path = WriteFile("case.safetensors", bytes);
  StatusOr<SafeTensors> st = SafeTensors::Open(path);
  std::remove(path.c_str());
  return st.ok() ? Status::Ok() : st.status();
}

void ExpectInvalid(const std::string& bytes, const std::string& fragment) {
  Status s = OpenBytes(bytes);
  EXPECT_EQ(s.code(), codes::kSafetensorsInvalid) << s.ToString();
  EXPECT_NE(s.message().find(fragment), std::string::npos) << "expected '" << fragment << "' in: " << s.message();
}

std::string OneTensor(const std::string& entry, size_t data_bytes) {
  return Build(R"({"t":)" + entry + "}", std::string(data_bytes, '\x01'));
}

TEST(SafeTensors, WellFormed) {
  const std::string path = WriteFile("good.safetensors", WellFormed());
  StatusOr<SafeTensors> opened = SafeTensors::Open(path);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  SafeTensors st = std::move(opened).value();  // views must survive the move
  std::remove(path.c_str());                  // and the unlink: the mapping keeps the file alive

  ASSERT_EQ(st.tensors().size(), 4u);
  EXPECT_EQ(st.tensors()[0].name, "a");  // sorted by offset
  EXPECT_EQ(st.metadata().at("format"), "pt");
  EXPECT_EQ(st.Find("nope"), nullptr);

  const TensorView* a = st.Find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->dtype, DType::kF32);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 3}));
  ASSERT_EQ(a->nbytes, 24u);
  float a5;
  std::memcpy(&a5, a->data + 20, 4);
  EXPECT_EQ(a5, 5.0f);

  const TensorView* b = st.Find("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->dtype, DType::kF16);
  EXPECT_EQ(b->nbytes, 8u);
  uint16_t b2;
  std::memcpy(&b2, b->data + 4, 2);
  EXPECT_EQ(b2, 0xc000);

  const TensorView* c = st.Find("c");
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->shape.empty());
  EXPECT_EQ(static_cast<int8_t>(c->data[0]), -5);

  const TensorView* e = st.Find("empty");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->nbytes, 0u);
  EXPECT_EQ(e->shape, (std::vector<int64_t>{0, 5}));
}

TEST(SafeTensors, AllDTypes) {
  const std::pair<const char*, size_t> dtypes[] = {{"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E4M3", 1}, {"F8_E5M2", 1},
                                                   {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},
                                                   {"U32", 4},  {"F32", 4}, {"F64", 8}, {"I64", 8},     {"U64", 8}};
  for (const auto& [name, size] : dtypes) {
    const std::string entry = std::string(R"({"dtype":")") + name + R"(","shape":[3],"data_offsets":[0,)" +
                              std::to_string(3 * size) + "]}";
    EXPECT_TRUE(OpenBytes(OneTensor(entry, 3 * size)).ok()) << name;
    ASSERT_TRUE(ParseDType(name).has_value());
    EXPECT_EQ(DTypeSize(*ParseDType(name)), size);
    EXPECT_STREQ(DTypeName(*ParseDType(name)), name);
  }
  EXPECT_TRUE(OpenBytes(Build("{}", "")).ok());  // no tensors at all
}

TEST(SafeTensors, Malformed) {
  ExpectInvalid("", "shorter than the 8-byte");
  ExpectInvalid("\x05\0\0", "shorter than the 8-byte");
  ExpectInvalid(Le64(100) + "{}", "exceeds the file");
  ExpectInvalid(Le64(~0ull) + "{}", "absurd");
  ExpectInvalid(Le64(200'000'000) + "{}", "absurd");
  ExpectInvalid(Build("{\"t\": [", ""), "not valid JSON");
  ExpectInvalid(Build("[1, 2]", ""), "must be a JSON object");
  ExpectInvalid(Build(R"({"__metadata__": {"a": 1}})", ""), "__metadata__ value for 'a'");
  ExpectInvalid(Build(R"({"__metadata__": 3})", ""), "__metadata__ must be an object");
  ExpectInvalid(Build(R"({"t": 3})", ""), "entry must be an object");
  ExpectInvalid(OneTensor(R"({"shape":[1],"data_offsets":[0,4]})", 4), "missing field 'dtype'");
  ExpectInvalid(OneTensor(R"({"dtype":"F32","data_offsets":[0,4]})", 4), "missing field 'shape'");
  ExpectInvalid(OneTensor(R"({"dtype":"F32","shape":[1]})", 4), "missing field 'data_offsets'");
  ExpectInvalid(OneTensor(R"({"dtype":"F17","shape":[1],"data_offsets":[0,4]})", 4), "unknown dtype 'F17'");
  ExpectInvalid(OneTensor(R"({"dtype":7,"shape":[1],"data_offsets":[0,4]})", 4), "'dtype' must be a string");
  ExpectInvalid(OneTensor(R"({"dtype":"F32","shape":[1],"data_offsets":[0,8]})", 4), "outside the data region");
  ExpectInvalid(OneTensor(R"({"dtype":"F32","shape":[1],"data_offsets":[8,4]})", 8), "begin 8 > end 4");
  ExpectInvalid(OneTensor(R"({"dtype":"F32","shape":[2],"data_offsets":[0,4]})", 4), "does not match shape");
  ExpectInvalid(OneTensor(R"({"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,4]})", 4),
                "shape product overflows");
  ExpectInvalid(OneTensor(R"({"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,4]})", 4),
                "shape product overflows");  // elements fit, bytes do not
  ExpectInvalid(OneTensor(R"({"dtype":"F32","shape":[-1],"data_offsets":[0,4]})", 4), "non-negative integers");
  ExpectInvalid(OneTensor(R"({"dtype":"F32","shape":[1.5],"data_offsets":[0,4]})", 4), "non-negative integers");
  ExpectInvalid(OneTensor(R"({"dtype":"F32","shape":[1],"data_offsets":[0.0,4]})", 4), "non-negative integers");
  ExpectInvalid(OneTensor(R"({"dtype":"F32","shape":[1],"data_offsets":[0]})", 4), "array of 2 integers");
  ExpectInvalid(OneTensor(R"({"dtype":"F32","shape":1,"data_offsets":[0,4]})", 4), "'shape' must be an array");
  ExpectInvalid(Build(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                      R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                      std::string(12, '\0')),
                "overlap");
  ExpectInvalid(Build(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", std::string(8, '\0')), "gap of 4");
  ExpectInvalid(OneTensor(R"({"dtype":"F32","shape":[1],"data_offsets":[0,4]})", 6), "2 trailing bytes");
  // Duplicate keys (the format forbids them; a JSON parser would keep one silently): a tensor named twice, a
  // field of a tensor given twice, a metadata key twice.
  ExpectInvalid(Build(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                      R"("a":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}})",
                      std::string(4, '\0')),
                "names 'a' twice");
  ExpectInvalid(OneTensor(R"({"dtype":"F32","dtype":"I32","shape":[1],"data_offsets":[0,4]})", 4), "names 'dtype' twice");
  ExpectInvalid(Build(R"({"__metadata__":{"format":"pt","format":"np"}})", ""), "names 'format' twice");
  // The same key in different objects is no duplicate.
  EXPECT_TRUE(OpenBytes(Build(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                              R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                              std::string(8, '\0')))
                  .ok());

  StatusOr<SafeTensors> missing = SafeTensors::Open(TempPath("does_not_exist.safetensors"));
  EXPECT_EQ(missing.status().code(), codes::kIo);
}

// Random byte mutations of a valid file: must never crash or read out of bounds (run under ASan
// with -DWINNOW_SANITIZE=ON); whatever opens must describe tensors inside the file.
TEST(SafeTensors, FuzzMutations) {
  const std::string good = WellFormed();
  std::mt19937 rng(2024);
  const size_t header_end = 8 + (good.size() - 33 - 8);
  int opened = 0;
  for (int iter = 0; iter < 10000; ++iter) {
    std::string bytes = good;
    const int edits = 1 + rng() % 4;
    for (int e = 0; e < edits; ++e) {
      const size_t at = rng() % 8 == 0 ? rng() % 8 : rng() % header_end;  // sometimes the size prefix
      switch (rng() % 4) {
        case 0: bytes[at] = static_cast<char>(rng()); break;
        case 1: bytes[at] = "0123456789[]{}\",:-.e"[rng() % 20]; break;
        case 2: bytes[at] ^= static_cast<char>(1u << (rng() % 8)); break;
        default: bytes.resize(rng() % bytes.size()); break;
      }
      if (bytes.empty()) break;
    }
    // A fresh name each time: truncating and rewriting one file makes ext4 flush it on close.
    const std::string path = TempPath("fuzz_" + std::to_string(iter) + ".safetensors");
    { std::ofstream(path, std::ios::binary) << bytes; }
    StatusOr<SafeTensors> st = SafeTensors::Open(path);
    std::remove(path.c_str());  // the mapping, if any, keeps the contents alive
    if (!st.ok()) {
      ASSERT_EQ(st.status().code(), codes::kSafetensorsInvalid) << st.status().ToString();
      continue;
    }
    ++opened;
    size_t total = 0;
    unsigned checksum = 0;
    for (const TensorView& t : st->tensors()) {
      total += t.nbytes;
      for (size_t i = 0; i < t.nbytes; ++i) checksum += t.data[i];  // ASan flags any overrun
    }
    ASSERT_LE(total, bytes.size());
    (void)checksum;
  }
  std::printf("fuzz: %d of 10000 mutations still opened\n", opened);
}

}  // namespace
}  // namespace winnow
