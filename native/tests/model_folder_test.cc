#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "loaders/model_folder.h"

namespace winnow::loaders {
namespace {

namespace fs = std::filesystem;

// A fresh folder under the test temp dir holding `model/` (the model folder), `outside/secret` and a hub-cache
// layout `cache/models--org--name/{snapshots/rev,blobs}`.
class ModelFolderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::path(::testing::TempDir()) / ("winnow_model_folder_" + std::to_string(getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "model" / "sub");
    fs::create_directories(root_ / "outside");
    std::ofstream(root_ / "model" / "model.onnx") << "x";
    std::ofstream(root_ / "model" / "sub" / "inner.onnx") << "x";
    std::ofstream(root_ / "outside" / "secret") << "x";
    model_ = (root_ / "model").string();
  }
  void TearDown() override { fs::remove_all(root_); }

  std::string Code(const std::string& name) {
    auto r = ConfigPath(model_, name, "winnow_pruning.json model");
    return r.ok() ? "ok" : r.status().code();
  }

  fs::path root_;
  std::string model_;
};

TEST_F(ModelFolderTest, ConfigPathKeepsNamesInsideTheFolder) {
  EXPECT_EQ(Code("model.onnx"), "ok");
  EXPECT_EQ(Code("sub/inner.onnx"), "ok");
  EXPECT_EQ(Code("sub/../model.onnx"), "ok");
  EXPECT_EQ(Code("./model.onnx"), "ok");
  EXPECT_EQ(Code("missing.onnx"), "ok");  // reported missing by the caller
  EXPECT_EQ(ConfigPath(model_, "model.onnx", "x").value(), model_ + "/model.onnx");

  EXPECT_EQ(Code("/etc/passwd"), codes::kConfigInvalid);
  EXPECT_EQ(Code((root_ / "outside" / "secret").string()), codes::kConfigInvalid);
  EXPECT_EQ(Code("../outside/secret"), codes::kConfigInvalid);
  EXPECT_EQ(Code("sub/../../outside/secret"), codes::kConfigInvalid);
  EXPECT_EQ(Code("../outside/missing"), codes::kConfigInvalid);  // refused whether or not it exists
  EXPECT_EQ(Code(std::string("model.onnx\0x", 12)), codes::kConfigInvalid);
  auto r = ConfigPath(model_, "../outside/secret", "winnow_pruning.json model");
  EXPECT_NE(r.status().message().find("winnow_pruning.json model names '../outside/secret'"), std::string::npos)
      << r.status().message();
}

TEST_F(ModelFolderTest, ConfigPathFollowsSymbolicLinks) {
  fs::create_symlink(root_ / "outside" / "secret", root_ / "model" / "evil.onnx");
  fs::create_symlink(root_ / "outside", root_ / "model" / "linked");
  fs::create_symlink("model.onnx", root_ / "model" / "alias.onnx");
  EXPECT_EQ(Code("evil.onnx"), codes::kConfigInvalid);
  EXPECT_EQ(Code("linked/secret"), codes::kConfigInvalid);
  EXPECT_EQ(Code("linked"), codes::kConfigInvalid);
  EXPECT_EQ(Code("alias.onnx"), "ok");
  EXPECT_EQ(Code("."), "ok");
  // The model folder itself reached through a link is still itself.
  fs::create_symlink(root_ / "model", root_ / "model_link");
  EXPECT_TRUE(ConfigPath((root_ / "model_link").string(), "model.onnx", "x").ok());
}

TEST_F(ModelFolderTest, ConfigPathAllowsAHubCacheSnapshotsBlobs) {
  const fs::path repo = root_ / "cache" / "models--org--name";
  fs::create_directories(repo / "snapshots" / "rev" / "1_Pooling");
  fs::create_directories(repo / "blobs");
  std::ofstream(repo / "blobs" / "abc") << "x";
  fs::create_symlink("../../blobs/abc", repo / "snapshots" / "rev" / "model.onnx");
  fs::create_symlink(root_ / "outside" / "secret", repo / "snapshots" / "rev" / "evil.onnx");
  const std::string snapshot = (repo / "snapshots" / "rev").string();
  EXPECT_TRUE(ConfigPath(snapshot, "model.onnx", "x").ok());
  EXPECT_TRUE(ConfigPath(snapshot, "1_Pooling", "x").ok());
  EXPECT_EQ(ConfigPath(snapshot, "evil.onnx", "x").status().code(), codes::kConfigInvalid);
  EXPECT_EQ(ConfigPath(snapshot, "../../blobs/abc", "x").status().code(), codes::kConfigInvalid);
  // Only files directly in that repository's blobs/.
  fs::create_directories(repo / "blobs" / "deep");
  std::ofstream(repo / "blobs" / "deep" / "x") << "x";
  fs::create_symlink("../../blobs/deep/x", repo / "snapshots" / "rev" / "deep.onnx");
  EXPECT_EQ(ConfigPath(snapshot, "deep.onnx", "x").status().code(), codes::kConfigInvalid);
}

TEST_F(ModelFolderTest, RealPathInside) {
  const std::string real_model = fs::canonical(root_ / "model").string();
  EXPECT_EQ(RealPathInside(real_model, model_ + "/model.onnx"), real_model + "/model.onnx");
  EXPECT_EQ(RealPathInside(real_model + "/", model_ + "/model.onnx"), real_model + "/model.onnx");
  EXPECT_TRUE(RealPathInside(real_model, model_ + "/sub/inner.onnx").has_value());
  EXPECT_FALSE(RealPathInside(real_model, model_ + "/sub/inner.onnx", /*direct=*/true).has_value());
  EXPECT_FALSE(RealPathInside(real_model, model_ + "/../outside/secret").has_value());
  EXPECT_FALSE(RealPathInside(real_model, model_ + "/missing").has_value());
  EXPECT_FALSE(RealPathInside(real_model, model_).has_value());  // the folder is not inside itself
  // A sibling whose name starts with the folder's is not inside it.
  fs::create_directories(root_ / "model2");
  std::ofstream(root_ / "model2" / "f") << "x";
  EXPECT_FALSE(RealPathInside(real_model, (root_ / "model2" / "f").string()).has_value());
}

TEST(ModelFolderConfig, GetIntInRangeNamesTheValueAsWritten) {
  const auto j = nlohmann::json::parse(R"({"a": -1, "b": 18446744073709551615, "c": 1.5, "d": "2", "e": 7})");
  auto a = GetIntInRange(j, "a", "config.json", 1, 10);
  EXPECT_EQ(a.status().code(), codes::kConfigInvalid);
  EXPECT_EQ(a.status().message(), "config.json: a must be an integer from 1 to 10, not -1");
  auto b = GetIntInRange(j, "b", "config.json", 1, 10);
  EXPECT_EQ(b.status().message(), "config.json: b must be an integer, not 18446744073709551615");
  EXPECT_EQ(GetIntInRange(j, "c", "config.json", 1, 10).status().message(), "config.json: c must be an integer, not 1.5");
  EXPECT_EQ(GetIntInRange(j, "d", "config.json", 1, 10).status().message(), "config.json: d must be an integer, not \"2\"");
  EXPECT_EQ(GetIntInRange(j, "e", "config.json", 1, 10).value(), std::optional<int64_t>(7));
  EXPECT_FALSE(GetIntInRange(j, "missing", "config.json", 1, 10)->has_value());
}

}  // namespace
}  // namespace winnow::loaders
