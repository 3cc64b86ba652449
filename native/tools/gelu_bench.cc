// GELU after a linear layer at [rows, cols] (default 1024 x 1536: a MiniLM FFN's up projection for 1024 tokens):
// ONNX Runtime's kernels (com.microsoft BiasGelu, com.microsoft Gelu after an Add, and the Add + erf form a built
// graph writes, which ONNX Runtime fuses itself) against com.winnow BiasGelu, each as a one-node-ish session, and
// Winnow's kernel alone at every SIMD level. Prints the fastest and the median milliseconds per run (on a busy
// machine the fastest is the steadier figure).
//   gelu_bench <onnxruntime library> [threads=1] [rows=1024] [cols=1536] [runs=200]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "gelu/gelu.h"
#include "onnx/writer.h"
#include "runtime/custom_ops.h"
#include "runtime/ort_runtime.h"

using namespace winnow;

namespace {

std::string Value(const std::string& name, std::vector<onnx::Dim> dims) {
  return onnx::ValueInfo(name, onnx::dtype::kFloat, dims);
}

// X [rows, cols] in, Y out, bias B [cols] an initializer; `body` writes the nodes.
template <class Body>
std::string Model(size_t rows, size_t cols, const std::vector<float>& bias, Body body) {
  onnx::GraphWriter g;
  body(g);
  g.Initializer(onnx::FloatTensor("B", {static_cast<int64_t>(cols)}, bias));
  const onnx::Dim r{static_cast<int64_t>(rows), ""}, c{static_cast<int64_t>(cols), ""};
  g.Input(Value("X", {r, c}));
  g.Output(Value("Y", {r, c}));
  return onnx::ModelProto(g.Graph("g"), {{"", 17}, {"com.microsoft", 1}, {"com.winnow", 1}});
}

struct Times {
  double best, median;
};

template <class F>
Times MeasureMs(int runs, F f) {
  std::vector<double> t;
  for (int i = 0; i < runs + 5; ++i) {
    const auto a = std::chrono::steady_clock::now();
    f();
    const auto b = std::chrono::steady_clock::now();
    if (i >= 5) t.push_back(std::chrono::duration<double, std::milli>(b - a).count());
  }
  std::sort(t.begin(), t.end());
  return {t.front(), t[t.size() / 2]};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: gelu_bench <onnxruntime library> [threads] [rows] [cols] [runs]\n");
    return 2;
  }
  const int threads = argc > 2 ? std::atoi(argv[2]) : 1;
  const size_t rows = argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 1024;
  const size_t cols = argc > 4 ? std::strtoul(argv[4], nullptr, 10) : 1536;
  const int runs = argc > 5 ? std::atoi(argv[5]) : 200;
  auto rt = rt::OrtRuntime::Get(argv[1]);
  if (!rt.ok()) {
    std::fprintf(stderr, "%s\n", rt.status().ToString().c_str());
    return 1;
  }
  std::mt19937 rng(1);
  std::normal_distribution<float> d(0.0f, 1.5f);
  std::vector<float> x(rows * cols), bias(cols), y(rows * cols);
  for (float& v : x) v = d(rng);
  for (float& v : bias) v = d(rng) * 0.1f;

  const float sqrt2 = std::sqrt(2.0f);
  struct Case {
    const char* name;
    std::string model;
  } cases[] = {
      {"onnxruntime com.microsoft BiasGelu", Model(rows, cols, bias, [](onnx::GraphWriter& g) {
         g.Node("BiasGelu", {"X", "B"}, {"Y"}, {}, "com.microsoft");
       })},
      {"onnxruntime Add + com.microsoft Gelu", Model(rows, cols, bias, [](onnx::GraphWriter& g) {
         g.Node("Add", {"X", "B"}, {"S"});
         g.Node("Gelu", {"S"}, {"Y"}, {}, "com.microsoft");
       })},
      {"onnxruntime Add + erf form (as built)", Model(rows, cols, bias, [&](onnx::GraphWriter& g) {
         g.Initializer(onnx::FloatTensor("sqrt2", {}, {sqrt2}));
         g.Initializer(onnx::FloatTensor("one", {}, {1.0f}));
         g.Initializer(onnx::FloatTensor("half", {}, {0.5f}));
         g.Node("Add", {"X", "B"}, {"S"});
         g.Node("Div", {"S", "sqrt2"}, {"D"});
         g.Node("Erf", {"D"}, {"E"});
         g.Node("Add", {"E", "one"}, {"E1"});
         g.Node("Mul", {"S", "E1"}, {"M"});
         g.Node("Mul", {"M", "half"}, {"Y"});
       })},
      {"com.winnow BiasGelu", Model(rows, cols, bias, [](onnx::GraphWriter& g) {
         g.Node("BiasGelu", {"X", "B"}, {"Y"}, {}, "com.winnow");
       })},
      {"com.winnow BiasGelu approximate=tanh", Model(rows, cols, bias, [](onnx::GraphWriter& g) {
         g.Node("BiasGelu", {"X", "B"}, {"Y"}, {onnx::StringAttribute("approximate", "tanh")}, "com.winnow");
       })},
  };
  std::printf("[%zu, %zu], %d thread(s), %d runs: fastest / median\n", rows, cols, threads, runs);
  auto mem = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  const int64_t shape[2] = {static_cast<int64_t>(rows), static_cast<int64_t>(cols)};
  for (const Case& c : cases) {
    Ort::SessionOptions so;
    so.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_ENABLE_ALL);
    so.SetIntraOpNumThreads(threads);
    so.Add(rt::CustomOpDomain());
    Ort::Session s((*rt)->env(), c.model.data(), c.model.size(), so);
    Ort::Value in = Ort::Value::CreateTensor<float>(mem, x.data(), x.size(), shape, 2);
    Ort::Value out = Ort::Value::CreateTensor<float>(mem, y.data(), y.size(), shape, 2);
    const char* in_names[] = {"X"};
    const char* out_names[] = {"Y"};
    const Times ms = MeasureMs(runs, [&] { s.Run(Ort::RunOptions{nullptr}, in_names, &in, 1, out_names, &out, 1); });
    std::printf("  %-42s %8.3f / %8.3f ms\n", c.name, ms.best, ms.median);
  }
  for (SimdLevel level : kAllSimdLevels) {
    if (!CpuSupports(level)) continue;
    gelu::Rows r;
    r.input = x.data();
    r.bias = bias.data();
    r.output = y.data();
    r.cols = cols;
    const Times ms = MeasureMs(runs, [&] { gelu::GeluAt(level, r, 0, rows); });
    std::printf("  kernel alone (1 thread), %-17s %8.3f / %8.3f ms\n", SimdLevelName(level), ms.best, ms.median);
  }
  return 0;
}
