#include "common/thread_pool.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace winnow {
namespace {

// Each job runs once per worker index, job after job (started lazily or by Start()).
TEST(ThreadPool, RunsEveryIndexOncePerJob) {
  for (bool start : {false, true}) {
    ThreadPool pool(3);
    if (start) ASSERT_TRUE(pool.Start().ok());
    for (int job = 0; job < 50; ++job) {
      std::vector<std::atomic<int>> seen(pool.size());
      ASSERT_TRUE(pool.TryRun([&](int w) { seen[w].fetch_add(1); }));
      for (auto& s : seen) ASSERT_EQ(s.load(), 1);
    }
  }
}

TEST(ThreadPool, ParallelForCoversTheRangeOnce) {
  ThreadPool pool(2);
  std::vector<std::atomic<int>> hits(1000);
  ParallelFor(&pool, hits.size(), 7, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) hits[i].fetch_add(1);
  });
  for (auto& h : hits) ASSERT_EQ(h.load(), 1);
}

// Virtual memory of this process, in bytes (/proc/self/statm: pages).
size_t VirtualBytes() {
  size_t pages = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%zu", &pages) != 1) pages = 0;
    std::fclose(f);
  }
  return pages * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

// Threads the system refuses (here: no address space left for their stacks): Start() says so with INTERNAL and leaves
// nothing running, and work still gets done on the calling thread. Runs in a child process, whose limit is lowered.
[[noreturn]] void StartUnderAddressSpaceLimit() {
  ThreadPool pool(64);
  const rlim_t limit = VirtualBytes() + (16u << 20);  // room for two thread stacks at most
  const rlimit rl{limit, limit};
  if (setrlimit(RLIMIT_AS, &rl) != 0) std::exit(2);
  Status st = pool.Start();
  if (st.ok() || st.code() != codes::kInternal || st.message().find("could not start 64 threads") != 0) {
    std::fprintf(stderr, "Start(): %s\n", st.ToString().c_str());
    std::exit(3);
  }
  std::atomic<size_t> sum{0};
  ParallelFor(&pool, 100, 1, [&](size_t b, size_t e) { sum += e - b; });
  std::exit(sum == 100 ? 0 : 4);
}

TEST(ThreadPoolDeathTest, ThreadsThatCannotStartAreAnErrorNotAHang) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(StartUnderAddressSpaceLimit(), ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace winnow
