// quantize: 'int8' linear layers at the MiniLM shapes ([rows, 384] x [384, 384 | 1536], [rows, 1536] x [1536, 384]):
// ONNX Runtime's com.microsoft DynamicQuantizeMatMul (+ com.winnow BiasGelu after the FFN-up product, as a built
// graph runs it) against com.winnow MatMulInt8 (GELU in its epilogue), each as a one- or two-node session, and the
// AMX kernel alone on one thread. Prints the fastest and the median milliseconds per run.
//   int8_bench <onnxruntime library> [threads=1] [rows=2912] [runs=20]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "gelu/gelu.h"
#include "gemm/matmul_int8.h"
#include "onnx/writer.h"
#include "runtime/custom_ops.h"
#include "runtime/ort_runtime.h"

using namespace winnow;

namespace {

struct Times {
  double best, median;
};

template <class F>
Times MeasureMs(int runs, F f) {
  std::vector<double> t;
  for (int i = 0; i < runs + 3; ++i) {
    const auto a = std::chrono::steady_clock::now();
    f();
    const auto b = std::chrono::steady_clock::now();
    if (i >= 3) t.push_back(std::chrono::duration<double, std::milli>(b - a).count());
  }
  std::sort(t.begin(), t.end());
  return {t.front(), t[t.size() / 2]};
}

// n floats at a 64-byte boundary inside `storage`, as ONNX Runtime's allocator places tensors (C rows straddling
// cache lines would make every 64-byte store of the kernel a split store).
float* Aligned64(std::vector<float>* storage, size_t n) {
  storage->assign(n + 16, 0.0f);
  const size_t skew = reinterpret_cast<uintptr_t>(storage->data()) % 64;
  return storage->data() + (skew ? (64 - skew) / sizeof(float) : 0);
}

std::string Model(int64_t rows, int64_t k, int64_t n, const std::string& w, const std::vector<float>& scale,
                  const std::vector<float>& bias, bool winnow, bool gelu) {
  onnx::GraphWriter g;
  if (winnow) {
    std::vector<std::string> attrs;
    if (gelu) attrs.push_back(onnx::StringAttribute("epilogue", "gelu"));
    g.Node("MatMulInt8", {"X", "W", "S", "B"}, {"Y"}, attrs, "com.winnow");
  } else if (gelu) {
    g.Node("DynamicQuantizeMatMul", {"X", "W", "S"}, {"P"}, {}, "com.microsoft");
    g.Node("BiasGelu", {"P", "B"}, {"Y"}, {}, "com.winnow");
  } else {
    g.Node("DynamicQuantizeMatMul", {"X", "W", "S", "", "B"}, {"Y"}, {}, "com.microsoft");
  }
  g.Initializer(onnx::RawTensor("W", onnx::dtype::kInt8, {k, n}, w));
  g.Initializer(onnx::FloatTensor("S", {n}, scale));
  g.Initializer(onnx::FloatTensor("B", {n}, bias));
  g.Input(onnx::ValueInfo("X", onnx::dtype::kFloat, {{rows, ""}, {k, ""}}));
  g.Output(onnx::ValueInfo("Y", onnx::dtype::kFloat, {{rows, ""}, {n, ""}}));
  return onnx::ModelProto(g.Graph("g"), {{"", 17}, {"com.microsoft", 1}, {"com.winnow", 1}});
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: int8_bench <onnxruntime library> [threads] [rows] [runs]\n");
    return 2;
  }
  const int threads = argc > 2 ? std::atoi(argv[2]) : 1;
  const int64_t rows = argc > 3 ? std::atoll(argv[3]) : 2912;
  const int runs = argc > 4 ? std::atoi(argv[4]) : 20;
  auto rt = rt::OrtRuntime::Get(argv[1]);
  if (!rt.ok()) {
    std::fprintf(stderr, "%s\n", rt.status().ToString().c_str());
    return 1;
  }
  std::printf("%lld rows, %d thread(s), %d runs, kernel %s: fastest / median ms\n", static_cast<long long>(rows),
              threads, runs, gemm::Int8IsaName(gemm::ActiveInt8Isa()));
  std::mt19937 rng(1);
  std::normal_distribution<float> d(0.0f, 1.0f);
  auto mem = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  struct Shape {
    int64_t k, n;
    bool gelu;
  } shapes[] = {{384, 384, false}, {384, 1536, true}, {1536, 384, false}};
  for (const Shape& sh : shapes) {
    std::vector<float> x_storage, y_storage, scale(sh.n), bias(sh.n);
    float* x = Aligned64(&x_storage, rows * sh.k);
    float* y = Aligned64(&y_storage, rows * sh.n);
    std::string w(sh.k * sh.n, '\0');
    for (int64_t i = 0; i < rows * sh.k; ++i) x[i] = d(rng);
    for (char& v : w) v = static_cast<char>(static_cast<int>(rng() % 255) - 127);
    for (float& v : scale) v = 0.001f;
    for (float& v : bias) v = d(rng);
    std::printf("[%lld, %lld] x [%lld, %lld]%s\n", static_cast<long long>(rows), static_cast<long long>(sh.k),
                static_cast<long long>(sh.k), static_cast<long long>(sh.n), sh.gelu ? " + GELU" : "");
    for (bool winnow : {false, true}) {
      if (winnow && gemm::ActiveInt8Isa() == gemm::Int8Isa::kNone) continue;
      const std::string model = Model(rows, sh.k, sh.n, w, scale, bias, winnow, sh.gelu);
      Ort::SessionOptions so;
      so.SetIntraOpNumThreads(threads);
      so.Add(rt::CustomOpDomain());
      Ort::Session s((*rt)->env(), model.data(), model.size(), so);
      const int64_t in_shape[2] = {rows, sh.k}, out_shape[2] = {rows, sh.n};
      Ort::Value in = Ort::Value::CreateTensor<float>(mem, x, rows * sh.k, in_shape, 2);
      Ort::Value out = Ort::Value::CreateTensor<float>(mem, y, rows * sh.n, out_shape, 2);
      const char* in_names[] = {"X"};
      const char* out_names[] = {"Y"};
      const Times ms = MeasureMs(runs, [&] { s.Run(Ort::RunOptions{nullptr}, in_names, &in, 1, out_names, &out, 1); });
      std::printf("  %-44s %8.3f / %8.3f\n",
                  winnow ? "com.winnow MatMulInt8" : (sh.gelu ? "DynamicQuantizeMatMul + BiasGelu" : "DynamicQuantizeMatMul"),
                  ms.best, ms.median);
    }
    if (gemm::ActiveInt8Isa() == gemm::Int8Isa::kNone) continue;
    const gemm::PackedInt8Weights packed(reinterpret_cast<const int8_t*>(w.data()), scale.data(), sh.k, sh.n, gemm::ActiveInt8Isa());
    const gemm::Activation act = sh.gelu ? gemm::Activation::kGelu : gemm::Activation::kNone;
    const Times ms = MeasureMs(runs, [&] {
      gemm::MatMulInt8(gemm::ActiveInt8Isa(), packed, x, bias.data(), y, rows, act);
    });
    std::printf("  %-44s %8.3f / %8.3f\n", "kernel alone (1 thread)", ms.best, ms.median);
    if (sh.gelu) {
      const Times plain = MeasureMs(runs, [&] {
        gemm::MatMulInt8(gemm::ActiveInt8Isa(), packed, x, bias.data(), y, rows, gemm::Activation::kNone);
      });
      std::printf("  %-44s %8.3f / %8.3f\n", "kernel alone, no GELU (1 thread)", plain.best, plain.median);
      gelu::Rows r;
      r.input = r.output = y;
      r.cols = sh.n;
      const Times after = MeasureMs(runs, [&] {
        gemm::MatMulInt8(gemm::ActiveInt8Isa(), packed, x, bias.data(), y, rows, gemm::Activation::kNone);
        gelu::Gelu(r, 0, rows);
      });
      std::printf("  %-44s %8.3f / %8.3f\n", "kernel, then GELU over C (1 thread)", after.best, after.median);
    }
  }
  return 0;
}
