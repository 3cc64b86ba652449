#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <utility>

#include <unistd.h>

#include "common/mmap.h"

namespace winnow {
namespace {

std::string WriteTemp(const std::string& name, const std::string& bytes) {
  const std::string path = ::testing::TempDir() + "/winnow_mmap_" + name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

TEST(MappedFile, MapsContents) {
  const std::string path = WriteTemp("a.bin", std::string("hello\0world", 11));
  StatusOr<MappedFile> f = MappedFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  ASSERT_EQ(f->size(), 11u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(f->data()), 11), std::string("hello\0world", 11));
  EXPECT_EQ(f->path(), path);

  const uint8_t* data = f->data();
  MappedFile moved(std::move(*f));
  EXPECT_EQ(moved.data(), data);  // the mapping does not move
  EXPECT_EQ(f->data(), nullptr);
  EXPECT_EQ(f->size(), 0u);
  MappedFile assigned;
  assigned = std::move(moved);
  EXPECT_EQ(assigned.data(), data);
  EXPECT_EQ(assigned.data()[6], 'w');
  std::remove(path.c_str());
}

TEST(MappedFile, EmptyFile) {
  const std::string path = WriteTemp("empty.bin", "");
  StatusOr<MappedFile> f = MappedFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->size(), 0u);
  EXPECT_EQ(f->data(), nullptr);
  std::remove(path.c_str());
}

// IsFile: the path still leads to the mapped file (a link to it too), not to one written over it by a rename.
TEST(MappedFile, IsFileFollowsTheInodeNotThePath) {
  const std::string path = WriteTemp("isfile.bin", "weights");
  StatusOr<MappedFile> f = MappedFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_TRUE(f->IsFile(path));
  const std::string link = path + ".link";
  std::remove(link.c_str());
  ASSERT_EQ(::symlink(path.c_str(), link.c_str()), 0);
  EXPECT_TRUE(f->IsFile(link));
  const std::string other = WriteTemp("isfile-new.bin", "WEIGHTS");  // same size, other bytes
  ASSERT_EQ(std::rename(other.c_str(), path.c_str()), 0);
  EXPECT_FALSE(f->IsFile(path));
  EXPECT_FALSE(f->IsFile(link));
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(f->data()), f->size()), "weights");  // the mapping keeps its own
  EXPECT_FALSE(f->IsFile(path + ".missing"));
  std::remove(link.c_str());
  std::remove(path.c_str());
}

TEST(MappedFile, Errors) {
  StatusOr<MappedFile> missing = MappedFile::Open("/nonexistent/winnow/file.bin");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), codes::kIo);
  EXPECT_NE(missing.status().message().find("/nonexistent/winnow/file.bin"), std::string::npos);
  EXPECT_NE(missing.status().message().find("No such file"), std::string::npos) << missing.status().message();

  StatusOr<MappedFile> dir = MappedFile::Open(::testing::TempDir());
  ASSERT_FALSE(dir.ok());
  EXPECT_EQ(dir.status().code(), codes::kIo);
  EXPECT_NE(dir.status().message().find("directory"), std::string::npos) << dir.status().message();
}

}  // namespace
}  // namespace winnow
