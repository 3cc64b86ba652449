// Writes the ONNX graph Winnow builds from a checkpoint folder, with every weight inline (for inspection and for
// checking a built graph against a reference with another runtime).
//   build_graph_cli <model dir> <classification|features|pruning> <out.onnx> [peft LoRA adapter dir]
#include <cstdio>
#include <fstream>
#include <string>

#include "builder/builder.h"
#include "builder/lora.h"
#include "checkpoint/checkpoint.h"
#include "loaders/model_folder.h"

using namespace winnow;

int main(int argc, char** argv) {
  if (argc != 4 && argc != 5) {
    std::fprintf(stderr, "usage: %s <model dir> <classification|features|pruning> <out.onnx> [adapter dir]\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1], task = argv[2];
  builder::BuildOptions o;
  o.inline_all = true;
  o.task = task == "features" ? builder::Task::kFeatureExtraction
           : task == "pruning" ? builder::Task::kPruning
                               : builder::Task::kSequenceClassification;
  const std::string config_path = loaders::JoinPath(dir, "config.json");
  auto config = loaders::ReadJson(config_path, codes::kConfigInvalid);
  if (!config.ok()) return std::fprintf(stderr, "%s\n", config.status().ToString().c_str()), 1;
  auto ckpt = checkpoint::Checkpoint::Open(dir);
  if (!ckpt.ok()) return std::fprintf(stderr, "%s\n", ckpt.status().ToString().c_str()), 1;
  builder::Weights w(ckpt->get());
  if (argc == 5) {
    builder::AdapterSummary merged;
    const Status s = builder::MergeAdapter(argv[4], &w, {}, &merged);
    if (!s.ok()) return std::fprintf(stderr, "%s\n", s.ToString().c_str()), 1;
    std::printf("%s: %d LoRA modules merged, %d tensors replaced\n", argv[4], merged.merged, merged.replaced);
  }
  auto built = builder::Build(*config, config_path, &w, o);
  if (!built.ok()) return std::fprintf(stderr, "%s\n", built.status().ToString().c_str()), 1;
  std::ofstream(argv[3], std::ios::binary).write(built->onnx.data(), static_cast<std::streamsize>(built->onnx.size()));
  std::printf("%s: %s, %zu bytes\n", argv[3], built->architecture.c_str(), built->onnx.size());
  return 0;
}
