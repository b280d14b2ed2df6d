#include "core/files.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "../../tests/test_util.h"

namespace fraudops {
namespace {

TEST(FilesTest, ThreadsWritingOnePathAtOnceEachWriteWholeAndLeaveNoTempFile) {
  // Each write goes to a temp file of its own, then is renamed over the path: whichever rename
  // is last, the file holds one writer's content whole, and every write succeeds.
  testing::TempDir dir;
  const std::string path = dir.File("shared.json");
  constexpr int kThreads = 8, kWrites = 50;
  std::vector<std::string> contents;
  for (int t = 0; t < kThreads; ++t) contents.push_back(std::string(64 * 1024, 'a' + t));
  std::vector<int> failures(kThreads, 0);
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int w = 0; w < kWrites; ++w) failures[t] += !WriteFileAtomic(path, contents[t]).ok();
    });
  }
  for (std::thread& writer : writers) writer.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], 0) << "writer " << t;
  Result<std::string> read = ReadFile(path);
  ASSERT_TRUE(read.ok());
  EXPECT_NE(std::find(contents.begin(), contents.end(), *read), contents.end())
      << "a mix of writes, " << read->size() << " bytes";
  for (const auto& entry : std::filesystem::directory_iterator(dir.path()))
    EXPECT_EQ(entry.path().filename(), "shared.json") << entry.path();
  EXPECT_NE(TempPathFor(path), TempPathFor(path));
}

}  // namespace
}  // namespace fraudops
