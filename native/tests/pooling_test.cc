// Pooling kernels: every SIMD level against the scalar oracle (and the scalar oracle against an
// fp64 reference), sentence-transformers semantics, quantisation parity with numpy, and the
// fp16 / bf16 conversions exhaustively.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "common/cpu_features.h"
#include "common/half.h"
#include "pooling/pooling.h"
#include "pooling/quantize.h"

namespace winnow::pooling {
namespace {

constexpr size_t kDims[] = {1, 7, 16, 31, 256, 384, 1000};
constexpr TableDType kDTypes[] = {TableDType::kF32, TableDType::kF16, TableDType::kBF16, TableDType::kI8};

// ---- fp16 / bf16 ------------------------------------------------------------------------------

// Reference decoder written differently: arithmetic with ldexp instead of bit assembly.
double RefHalf(uint16_t h) {
  const int sign = (h >> 15) ? -1 : 1;
  const int exp = (h >> 10) & 0x1f;
  const int mant = h & 0x3ff;
  if (exp == 0) return sign * std::ldexp(static_cast<double>(mant), -24);
  if (exp == 31) return mant ? std::numeric_limits<double>::quiet_NaN() : sign * std::numeric_limits<double>::infinity();
  return sign * std::ldexp(static_cast<double>(1024 + mant), exp - 25);
}

TEST(Half, HalfToFloatExhaustive) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float got = HalfToFloat(static_cast<uint16_t>(h));
    const double want = RefHalf(static_cast<uint16_t>(h));
    if (std::isnan(want)) {
      ASSERT_TRUE(std::isnan(got)) << h;
      ASSERT_EQ(std::signbit(got), (h & 0x8000) != 0) << h;
      ASSERT_EQ(FloatToHalf(got), h | 0x200) << "NaN comes back quiet with its payload " << h;
    } else {
      ASSERT_EQ(static_cast<double>(got), want) << h;
      ASSERT_EQ(std::signbit(got), (h & 0x8000) != 0) << h;
      ASSERT_EQ(FloatToHalf(got), h) << "round trip " << h;
    }
  }
}

TEST(Half, FloatToHalfRoundsToNearestEven) {
  // Every midpoint between adjacent finite halves (exact in fp32) must go to the even one, and
  // one fp32 ulp either side must go to the nearer one.
  for (uint32_t h = 0; h < 0x7c00; ++h) {
    for (uint32_t sign : {0u, 0x8000u}) {
      const uint16_t a = static_cast<uint16_t>(h | sign), b = static_cast<uint16_t>((h + 1) | sign);
      // h + 1 == 0x7c00: the midpoint is 65520, between 65504 and the would-be next value 65536.
      const double next = (h + 1 == 0x7c00) ? (sign ? -65536.0 : 65536.0) : RefHalf(b);
      const double mid = (RefHalf(a) + next) / 2;
      const float fmid = static_cast<float>(mid);
      ASSERT_EQ(static_cast<double>(fmid), mid);
      ASSERT_EQ(FloatToHalf(fmid), (h & 1) ? b : a) << h;
      ASSERT_EQ(FloatToHalf(std::nextafter(fmid, 0.0f)), a) << h;
      ASSERT_EQ(FloatToHalf(std::nextafter(fmid, sign ? -1e30f : 1e30f)), b) << h;
    }
  }
  EXPECT_EQ(FloatToHalf(1e-10f), 0);
  EXPECT_EQ(FloatToHalf(-1e-10f), 0x8000);
  EXPECT_EQ(FloatToHalf(1e10f), 0x7c00);
  EXPECT_EQ(FloatToHalf(-std::numeric_limits<float>::infinity()), 0xfc00);
  EXPECT_EQ(FloatToHalf(65504.0f), 0x7bff);
}

TEST(Half, FloatToHalfRandomIsNearest) {
  std::mt19937 rng(7);
  for (int i = 0; i < 1'000'000; ++i) {
    const float f = BitsToFloat(rng() & 0xc7ffffffu);  // |f| < 2^16 roughly, all exponents below
    if (std::isnan(f)) continue;
    const uint16_t h = FloatToHalf(f);
    if (std::fabs(f) >= 65520.0f) {
      ASSERT_EQ(h & 0x7fff, 0x7c00) << f;
      continue;
    }
    const double err = std::fabs(RefHalf(h) - f);
    for (int delta : {-1, 1}) {
      const uint16_t n = static_cast<uint16_t>(h + delta);
      if (((n ^ h) & 0x8000) || ((n & 0x7fff) >= 0x7c00)) continue;
      ASSERT_LE(err, std::fabs(RefHalf(n) - f)) << f;
    }
  }
}

TEST(Half, Bf16) {
  for (uint32_t b = 0; b < 65536; ++b) {
    const float f = Bf16ToFloat(static_cast<uint16_t>(b));
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    ASSERT_EQ(bits, b << 16);
    if (std::isnan(f)) {
      ASSERT_TRUE(std::isnan(Bf16ToFloat(FloatToBf16(f))));
    } else {
      ASSERT_EQ(FloatToBf16(f), b);
    }
  }
  // Ties to even, and nearest otherwise.
  EXPECT_EQ(FloatToBf16(BitsToFloat(0x3f808000u)), 0x3f80);  // tie, even below
  EXPECT_EQ(FloatToBf16(BitsToFloat(0x3f818000u)), 0x3f82);  // tie, even above
  EXPECT_EQ(FloatToBf16(BitsToFloat(0x3f808001u)), 0x3f81);
  EXPECT_EQ(FloatToBf16(BitsToFloat(0x7f7fffffu)), 0x7f80);  // max float rounds to inf
  EXPECT_EQ(FloatToBf16(BitsToFloat(0x00008000u)), 0x0000);  // subnormal tie to even
  EXPECT_EQ(FloatToBf16(BitsToFloat(0x00018000u)), 0x0002);
  EXPECT_TRUE(std::isnan(Bf16ToFloat(FloatToBf16(BitsToFloat(0x7f800001u)))));  // low-payload NaN
}

// ---- helpers -----------------------------------------------------------------------------------

struct Table {
  std::vector<uint8_t> bytes;  // one spare leading byte so the table can be deliberately misaligned
  TableView view;
};

Table RandomTable(std::mt19937& rng, TableDType dtype, size_t rows, size_t dim, bool misalign) {
  Table t;
  const size_t esize = TableDTypeSize(dtype);
  t.bytes.resize(rows * dim * esize + 1);
  uint8_t* base = t.bytes.data() + (misalign ? 1 : 0);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_int_distribution<int> i8(-128, 127);
  for (size_t i = 0; i < rows * dim; ++i) {
    if (dtype == TableDType::kF32) {
      const float v = normal(rng);
      std::memcpy(base + i * 4, &v, 4);
    } else if (dtype == TableDType::kF16 || dtype == TableDType::kBF16) {
      const float v = normal(rng);
      const uint16_t h = dtype == TableDType::kF16 ? FloatToHalf(v) : FloatToBf16(v);
      std::memcpy(base + i * 2, &h, 2);
    } else {
      base[i] = static_cast<uint8_t>(static_cast<int8_t>(i8(rng)));
    }
  }
  t.view.data = base;
  t.view.dtype = dtype;
  t.view.rows = rows;
  t.view.dim = dim;
  t.view.i8_scale = dtype == TableDType::kI8 ? 0.0123f : 1.0f;
  return t;
}

double ElementAt(const TableView& t, size_t row, size_t d) {
  const uint8_t* p = static_cast<const uint8_t*>(t.data) + (row * t.dim + d) * TableDTypeSize(t.dtype);
  uint16_t h;
  float f;
  switch (t.dtype) {
    case TableDType::kF32: std::memcpy(&f, p, 4); return f;
    case TableDType::kF16: std::memcpy(&h, p, 2); return RefHalf(h);
    case TableDType::kBF16: std::memcpy(&h, p, 2); return Bf16ToFloat(h);
    case TableDType::kI8: return static_cast<int8_t>(*p) * static_cast<double>(t.i8_scale);
  }
  return 0;
}

// fp64 reference of EmbeddingBag plus, per element, the scale against which rounding is judged
// (mean of |terms|, so cancellation does not make the tolerance vanish).
void RefBag(const TableView& t, const std::vector<int32_t>& ids, bool normalize, std::vector<double>* out,
            std::vector<double>* mag) {
  out->assign(t.dim, 0.0);
  mag->assign(t.dim, 0.0);
  for (int32_t id : ids) {
    const size_t row = t.mapping ? static_cast<size_t>(t.mapping[id]) : static_cast<size_t>(id);
    const double w = t.row_weights ? t.row_weights[id] : 1.0;
    for (size_t d = 0; d < t.dim; ++d) {
      (*out)[d] += ElementAt(t, row, d) * w;
      (*mag)[d] += std::fabs(ElementAt(t, row, d) * w);
    }
  }
  if (ids.empty()) return;
  double ss = 0;
  for (size_t d = 0; d < t.dim; ++d) {
    (*out)[d] /= ids.size();
    (*mag)[d] /= ids.size();
    ss += (*out)[d] * (*out)[d];
  }
  if (normalize && ss > 0) {
    for (size_t d = 0; d < t.dim; ++d) {
      (*out)[d] /= std::sqrt(ss);
      (*mag)[d] /= std::sqrt(ss);
    }
  }
}

// |got - want| <= 1e-6 relative to max(|want|, magnitude of the summed terms).
void ExpectClose(const std::vector<float>& got, const std::vector<float>& want, const std::vector<double>& mag,
                 const std::string& what, double rel = 1e-6) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t d = 0; d < got.size(); ++d) {
    const double tol = rel * std::max(std::fabs(static_cast<double>(want[d])), mag[d]) + 1e-30;
    ASSERT_NEAR(got[d], want[d], tol) << what << " d=" << d;
  }
}

std::vector<float> ToFloat(const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); }

class LevelTest : public ::testing::TestWithParam<SimdLevel> {
 protected:
  void SetUp() override {
    if (!KernelLevelAvailable(GetParam())) {
      GTEST_SKIP() << SimdLevelName(GetParam()) << " kernels not available on this CPU/build";
    }
  }
};

INSTANTIATE_TEST_SUITE_P(AllLevels, LevelTest,
                         ::testing::Values(SimdLevel::kScalar, SimdLevel::kAvx2, SimdLevel::kAvx512, SimdLevel::kNeon),
                         [](const auto& info) { return std::string(SimdLevelName(info.param)); });

// ---- EmbeddingBag ------------------------------------------------------------------------------

TEST_P(LevelTest, EmbeddingBagMatchesScalarAndReference) {
  std::mt19937 rng(1234);
  for (size_t dim : kDims) {
    for (TableDType dtype : kDTypes) {
      for (int variant = 0; variant < 4; ++variant) {  // bit 0: mapping, bit 1: row weights
        const size_t rows = 50, vocab = 80;
        Table table = RandomTable(rng, dtype, rows, dim, /*misalign=*/variant == 3);
        std::vector<int64_t> mapping(vocab);
        std::vector<float> weights(vocab);
        for (auto& m : mapping) m = static_cast<int64_t>(rng() % rows);
        for (auto& w : weights) w = std::uniform_real_distribution<float>(0.1f, 3.0f)(rng);
        TableView& t = table.view;
        if (variant & 1) t.mapping = mapping.data();
        if (variant & 2) t.row_weights = weights.data();
        t.vocab = (variant & 1) ? vocab : 0;
        const size_t id_limit = (variant & 1) ? vocab : rows;
        for (size_t n : {0, 1, 2, 20, 63, 64, 65, 150}) {
          std::vector<int32_t> ids(n);
          for (auto& id : ids) id = static_cast<int32_t>(rng() % id_limit);
          for (bool normalize : {false, true}) {
            const std::string what = std::string(SimdLevelName(GetParam())) + " dim=" + std::to_string(dim) +
                                     " dtype=" + std::to_string(static_cast<int>(dtype)) +
                                     " variant=" + std::to_string(variant) + " n=" + std::to_string(n) +
                                     " normalize=" + std::to_string(normalize);
            std::vector<float> want(dim, -7.0f), got(dim, -7.0f);
            ASSERT_TRUE(EmbeddingBag(SimdLevel::kScalar, t, ids.data(), n, want.data(), normalize).ok());
            ASSERT_TRUE(EmbeddingBag(GetParam(), t, ids.data(), n, got.data(), normalize).ok());
            std::vector<double> ref, mag;
            RefBag(t, ids, normalize, &ref, &mag);
            ExpectClose(got, want, mag, what);
            // The oracle itself against fp64: fp32 summation of up to 150 terms.
            ExpectClose(want, ToFloat(ref), mag, what + " (scalar vs fp64)", 2e-5);
            if (n == 0) {
              for (float v : got) ASSERT_EQ(v, 0.0f) << what;
            }
          }
        }
      }
    }
  }
}

// n == 1 with no weights is an exact conversion: run every fp16 / bf16 bit pattern through the
// kernel (F16C / AVX-512 / NEON conversion instructions vs the scalar half.h).
TEST_P(LevelTest, EmbeddingBagConvertsEveryHalfExactly) {
  for (TableDType dtype : {TableDType::kF16, TableDType::kBF16}) {
    const size_t dim = 256, rows = 256;
    std::vector<uint16_t> data(rows * dim);
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint16_t>(i);
    TableView t;
    t.data = data.data();
    t.dtype = dtype;
    t.rows = rows;
    t.dim = dim;
    for (int32_t id = 0; id < static_cast<int32_t>(rows); ++id) {
      std::vector<float> got(dim);
      ASSERT_TRUE(EmbeddingBag(GetParam(), t, &id, 1, got.data(), false).ok());
      for (size_t d = 0; d < dim; ++d) {
        const uint16_t h = data[id * dim + d];
        const float want = dtype == TableDType::kF16 ? HalfToFloat(h) : Bf16ToFloat(h);
        if (std::isnan(want)) {
          ASSERT_TRUE(std::isnan(got[d])) << h;
        } else {
          ASSERT_EQ(got[d], want) << "pattern " << h;  // -0 comes back +0 (0 + -0)
          if (want != 0) {
            ASSERT_EQ(FloatBits(got[d]), FloatBits(want)) << "pattern " << h;
          }
        }
      }
    }
  }
}

TEST_P(LevelTest, EmbeddingBagSemantics) {
  // rows: r0 = (1, 2, 3), r1 = (-4, 0, 8); token 0 -> r1 (w 0.5), token 1 -> r0 (w 2), token 2 -> r1 (w 1).
  const float table[] = {1, 2, 3, -4, 0, 8};
  const int64_t mapping[] = {1, 0, 1};
  const float weights[] = {0.5f, 2.0f, 1.0f};
  TableView t;
  t.data = table;
  t.rows = 2;
  t.dim = 3;
  t.mapping = mapping;
  t.row_weights = weights;
  t.vocab = 3;
  const int32_t ids[] = {0, 1, 2, 1};
  std::vector<float> out(3);
  ASSERT_TRUE(EmbeddingBag(GetParam(), t, ids, 4, out.data(), false).ok());
  // (r1*0.5 + r0*2 + r1 + r0*2) / 4 = ((-2,0,4) + (2,4,6) + (-4,0,8) + (2,4,6)) / 4
  EXPECT_FLOAT_EQ(out[0], -0.5f);
  EXPECT_FLOAT_EQ(out[1], 2.0f);
  EXPECT_FLOAT_EQ(out[2], 6.0f);
  ASSERT_TRUE(EmbeddingBag(GetParam(), t, ids, 4, out.data(), true).ok());
  const float norm = std::sqrt(0.25f + 4.0f + 36.0f);
  EXPECT_NEAR(out[0], -0.5f / norm, 1e-7);
  EXPECT_NEAR(out[2], 6.0f / norm, 1e-7);

  // i8 dequantisation multiplier; a zero bag stays zero when normalised.
  const int8_t q[] = {10, -20, 0, 0};
  TableView t8;
  t8.data = q;
  t8.dtype = TableDType::kI8;
  t8.rows = 2;
  t8.dim = 2;
  t8.i8_scale = 0.5f;
  const int32_t one = 0, zero_row = 1;
  ASSERT_TRUE(EmbeddingBag(GetParam(), t8, &one, 1, out.data(), false).ok());
  EXPECT_EQ(out[0], 5.0f);
  EXPECT_EQ(out[1], -10.0f);
  ASSERT_TRUE(EmbeddingBag(GetParam(), t8, &zero_row, 1, out.data(), true).ok());
  EXPECT_EQ(out[0], 0.0f);
  EXPECT_EQ(out[1], 0.0f);
}

// ---- SimilarityMatrix ----------------------------------------------------------------------------

// Independent reference in long double, straight from the definitions (util.cos_sim and friends). *scale: what a
// rounding error of the dot product is proportional to, the sum of |x[d] * y[d]| (over the norms, for cosine).
double RefSimilarity(const float* x, const float* y, size_t dim, Similarity fn, double* scale = nullptr) {
  long double dot = 0, xx = 0, yy = 0, sq = 0, ab = 0, absdot = 0;
  for (size_t d = 0; d < dim; ++d) {
    const long double a = x[d], b = y[d];
    dot += a * b;
    absdot += std::fabs(a * b);
    xx += a * a;
    yy += b * b;
    sq += (a - b) * (a - b);
    ab += std::fabs(a - b);
  }
  const long double norms = std::max(std::sqrt(xx), 1e-12L) * std::max(std::sqrt(yy), 1e-12L);
  if (scale != nullptr) *scale = static_cast<double>(fn == Similarity::kCosine ? absdot / norms : fn == Similarity::kDot ? absdot : 0);
  switch (fn) {
    case Similarity::kCosine: return static_cast<double>(dot / norms);
    case Similarity::kDot: return static_cast<double>(dot);
    case Similarity::kEuclidean: return static_cast<double>(-std::sqrt(sq));
    case Similarity::kManhattan: return static_cast<double>(-ab);
  }
  return 0;
}

TEST_P(LevelTest, SimilarityMatchesReferenceAtEveryWidth) {
  std::mt19937 rng(99);
  std::normal_distribution<float> g(0.0f, 1.0f);
  for (size_t dim : {1, 3, 4, 7, 8, 15, 16, 17, 31, 32, 33, 63, 384, 1027}) {
    // n: five tiles of four and a remainder row; at the widest, more rows than one widened chunk (252) or one
    // block of a (64) holds. m: four tiles of four and three remainder columns; a row of 19 scores is two groups
    // of eight lanes and a ragged tail in finish_dots.
    const size_t n = dim == 1027 ? 257 : 21, m = 19;
    std::vector<float> a(n * dim), b(m * dim);
    for (auto& v : a) v = g(rng);
    for (auto& v : b) v = g(rng);
    std::fill(b.begin() + dim, b.begin() + 2 * dim, 0.0f);  // a zero row: cosine 0, not NaN
    // Dot products are fp32 chains of at most ceil(dim / 4) products (NEON's 4 lanes; fewer on wider levels) on
    // the SIMD levels: the classic bound is that many unit roundoffs times the sum of |products|.
    const double chain = static_cast<double>((dim + 3) / 4) * std::ldexp(1.0, -24);
    for (Similarity fn : {Similarity::kCosine, Similarity::kDot, Similarity::kEuclidean, Similarity::kManhattan}) {
      std::vector<float> out(n * m), scalar(n * m), pair(m), part((n - 3) * (m - 2));
      ASSERT_TRUE(SimilarityMatrix(GetParam(), a.data(), n, b.data(), m, dim, fn, false, out.data()).ok());
      ASSERT_TRUE(SimilarityMatrix(SimdLevel::kScalar, a.data(), n, b.data(), m, dim, fn, false, scalar.data()).ok());
      ASSERT_TRUE(SimilarityMatrix(GetParam(), a.data(), m, b.data(), m, dim, fn, true, pair.data()).ok());
      ASSERT_TRUE(SimilarityMatrix(GetParam(), a.data() + 3 * dim, n - 3, b.data() + 2 * dim, m - 2, dim, fn, false,
                                   part.data())
                      .ok());
      const bool fp32_chains = GetParam() != SimdLevel::kScalar && (fn == Similarity::kCosine || fn == Similarity::kDot);
      for (size_t i = 0; i < n; ++i) {
        for (size_t j = 0; j < m; ++j) {
          double scale = 0;
          const double want = RefSimilarity(a.data() + i * dim, b.data() + j * dim, dim, fn, &scale);
          const std::string what = "dim=" + std::to_string(dim) + " fn=" + std::to_string(static_cast<int>(fn)) +
                                   " i=" + std::to_string(i) + " j=" + std::to_string(j);
          // fp64 sums rounded once: the float nearest the exact value, give or take one rounding step; fp32
          // chains add their bound.
          const double tol = 1e-6 * std::max(1.0, std::fabs(want)) + (fp32_chains ? chain * scale : 0.0);
          EXPECT_NEAR(out[i * m + j], want, tol) << what;
          EXPECT_NEAR(out[i * m + j], scalar[i * m + j], tol) << what;
          if (j == 1 && fn == Similarity::kCosine) EXPECT_EQ(out[i * m + j], 0.0f) << what;
          // Where a pair sits in the matrix does not change its arithmetic: batch results equal single ones.
          if (i >= 3 && j >= 2 && (fp32_chains || GetParam() == SimdLevel::kScalar))
            EXPECT_EQ(part[(i - 3) * (m - 2) + (j - 2)], out[i * m + j]) << what;
        }
        if (i < m) {
          if (fp32_chains || GetParam() == SimdLevel::kScalar) EXPECT_EQ(pair[i], out[i * m + i]) << "pairwise row " << i;
          else EXPECT_NEAR(pair[i], out[i * m + i], 1e-6 * std::max(1.0f, std::fabs(pair[i]))) << "pairwise row " << i;
        }
      }
    }
  }
}

TEST_P(LevelTest, SimilarityThreadsGiveTheSameBits) {
  // Large enough to be split (4 M multiply-adds, 512+ rows of b or pairs): 1, 2, 3 and 0 (one per core) threads,
  // every function, matrix (21 x 1301 x 160) and pairwise (1031 pairs x 4099), equal bit for bit.
  std::mt19937 rng(3);
  std::normal_distribution<float> g(0.0f, 1.0f);
  const size_t n = 21, m = 1301, dim = 160, pairs = 1031, pdim = 4099;
  std::vector<float> a(n * dim), b(m * dim), pa(pairs * pdim), pb(pairs * pdim);
  for (auto* v : {&a, &b, &pa, &pb})
    for (auto& x : *v) x = g(rng);
  for (Similarity fn : {Similarity::kCosine, Similarity::kDot, Similarity::kEuclidean, Similarity::kManhattan}) {
    std::vector<float> one(n * m), pair_one(pairs);
    ASSERT_TRUE(SimilarityMatrix(GetParam(), a.data(), n, b.data(), m, dim, fn, false, one.data(), 1).ok());
    ASSERT_TRUE(SimilarityMatrix(GetParam(), pa.data(), pairs, pb.data(), pairs, pdim, fn, true, pair_one.data(), 1).ok());
    for (int threads : {2, 3, 0}) {
      std::vector<float> out(n * m, -7.0f), pair(pairs, -7.0f);
      ASSERT_TRUE(SimilarityMatrix(GetParam(), a.data(), n, b.data(), m, dim, fn, false, out.data(), threads).ok());
      ASSERT_TRUE(SimilarityMatrix(GetParam(), pa.data(), pairs, pb.data(), pairs, pdim, fn, true, pair.data(), threads).ok());
      EXPECT_EQ(out, one) << "fn " << static_cast<int>(fn) << " threads " << threads;
      EXPECT_EQ(pair, pair_one) << "pairwise fn " << static_cast<int>(fn) << " threads " << threads;
    }
  }
}

TEST_P(LevelTest, SimilarityWorkedExample) {
  const float a[] = {3, 4, 1, 0};
  const float b[] = {4, 3, 0, 0, -3, -4};
  float out[6];
  ASSERT_TRUE(SimilarityMatrix(GetParam(), a, 2, b, 3, 2, Similarity::kCosine, false, out).ok());
  const float cosine[] = {0.96f, 0.0f, -1.0f, 0.8f, 0.0f, -0.6f};
  for (int k = 0; k < 6; ++k) EXPECT_NEAR(out[k], cosine[k], 1e-7) << k;
  ASSERT_TRUE(SimilarityMatrix(GetParam(), a, 2, b, 3, 2, Similarity::kManhattan, false, out).ok());
  const float l1[] = {-2, -7, -14, -6, -1, -8};
  for (int k = 0; k < 6; ++k) EXPECT_EQ(out[k], l1[k]) << k;
  ASSERT_TRUE(SimilarityMatrix(GetParam(), a, 2, b, 2, 2, Similarity::kEuclidean, true, out).ok());
  EXPECT_FLOAT_EQ(out[0], -std::sqrt(2.0f));
  EXPECT_FLOAT_EQ(out[1], -1.0f);
}

// Row i of an [n, m] score matrix ranked best first, ties in index order: what semantic search must return.
std::vector<int32_t> BruteForceOrder(const std::vector<float>& all, size_t i, size_t m) {
  std::vector<int32_t> order(m);
  for (size_t j = 0; j < m; ++j) order[j] = static_cast<int32_t>(j);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return all[i * m + a] > all[i * m + b]; });
  return order;
}

TEST(SemanticSearch, TopKMatchesBruteForceWithTiesAndChunks) {
  // Values on a coarse grid, and duplicated rows, so scores tie; every chunk size gives the brute-force order.
  std::mt19937 rng(5);
  const size_t n = 3, m = 31, dim = 5;
  std::vector<float> q(n * dim), c(m * dim);
  for (auto& v : q) v = static_cast<float>(static_cast<int>(rng() % 5) - 2);
  for (auto& v : c) v = static_cast<float>(static_cast<int>(rng() % 5) - 2);
  std::copy(c.begin() + 2 * dim, c.begin() + 3 * dim, c.begin() + 7 * dim);
  for (Similarity fn : {Similarity::kCosine, Similarity::kDot, Similarity::kEuclidean, Similarity::kManhattan}) {
    std::vector<float> all(n * m);
    SimilarityMatrix(q.data(), n, c.data(), m, dim, fn, false, all.data());
    for (size_t k : {1, 4, 31, 50}) {
      for (size_t chunk : {1, 6, 31, 100}) {
        std::vector<int32_t> index;
        std::vector<float> score;
        size_t last_done = 0;
        ASSERT_TRUE(SemanticSearch(q.data(), n, c.data(), m, dim, fn, k, chunk, 1, nullptr,
                                   [&](size_t done, size_t total) {
                                     EXPECT_EQ(total, m);
                                     EXPECT_GT(done, last_done);
                                     last_done = done;
                                   },
                                   &index, &score)
                        .ok());
        EXPECT_EQ(last_done, m);
        const size_t kk = std::min(k, m);
        ASSERT_EQ(index.size(), n * kk);
        for (size_t i = 0; i < n; ++i) {
          const std::vector<int32_t> order = BruteForceOrder(all, i, m);
          for (size_t r = 0; r < kk; ++r) {
            EXPECT_EQ(index[i * kk + r], order[r]) << "fn " << static_cast<int>(fn) << " k " << k << " chunk " << chunk;
            EXPECT_EQ(score[i * kk + r], all[i * m + order[r]]);
          }
        }
      }
    }
  }
  // Cancelled before the second chunk: ABORTED.
  std::vector<int32_t> index;
  std::vector<float> score;
  int asked = 0;
  Status st = SemanticSearch(q.data(), n, c.data(), m, dim, Similarity::kDot, 3, 4, 1, [&] { return ++asked > 1; }, nullptr,
                             &index, &score);
  EXPECT_EQ(st.code(), std::string("ABORTED"));
  EXPECT_EQ(asked, 2);
}

TEST(SemanticSearch, ThreadsSplitChunksWithoutChangingTheResult) {
  // 1,500 rows on a coarse grid (many ties): chunks of 1,500 and 700 rows split over 1 to 8 threads (slices of at
  // least 256 rows) all give the brute-force order.
  std::mt19937 rng(11);
  const size_t n = 4, m = 1500, dim = 3;
  std::vector<float> q(n * dim), c(m * dim);
  for (auto& v : q) v = static_cast<float>(static_cast<int>(rng() % 3) - 1);
  for (auto& v : c) v = static_cast<float>(static_cast<int>(rng() % 3) - 1);
  std::vector<float> all(n * m);
  SimilarityMatrix(q.data(), n, c.data(), m, dim, Similarity::kDot, false, all.data());
  const size_t k = 300;
  for (size_t chunk : {1500, 700}) {
    for (int threads : {1, 2, 3, 8}) {
      std::vector<int32_t> index;
      std::vector<float> score;
      ASSERT_TRUE(SemanticSearch(q.data(), n, c.data(), m, dim, Similarity::kDot, k, chunk, threads, nullptr, nullptr,
                                 &index, &score)
                      .ok());
      for (size_t i = 0; i < n; ++i) {
        const std::vector<int32_t> order = BruteForceOrder(all, i, m);
        for (size_t r = 0; r < k; ++r)
          ASSERT_EQ(index[i * k + r], order[r]) << "chunk " << chunk << " threads " << threads << " query " << i << " rank " << r;
      }
    }
  }
}

TEST(SemanticSearch, ManyQueriesScoreTheCorpusInBlocksWithoutChangingTheResult) {
  // 1,100 queries: the corpus is scored 64 rows at a time (a block's scores stay in cache for the heaps), so a
  // chunk of 300 rows is five blocks, the last one ragged; ties on a coarse grid cross the block edges.
  std::mt19937 rng(17);
  const size_t n = 1100, m = 300, dim = 3, k = 20;
  std::vector<float> q(n * dim), c(m * dim);
  for (auto& v : q) v = static_cast<float>(static_cast<int>(rng() % 3) - 1);
  for (auto& v : c) v = static_cast<float>(static_cast<int>(rng() % 3) - 1);
  std::vector<float> all(n * m);
  SimilarityMatrix(q.data(), n, c.data(), m, dim, Similarity::kCosine, false, all.data());
  for (size_t chunk : {300, 130}) {
    std::vector<int32_t> index;
    std::vector<float> score;
    ASSERT_TRUE(SemanticSearch(q.data(), n, c.data(), m, dim, Similarity::kCosine, k, chunk, 1, nullptr, nullptr,
                               &index, &score)
                    .ok());
    for (size_t i = 0; i < n; ++i) {
      const std::vector<int32_t> order = BruteForceOrder(all, i, m);
      for (size_t r = 0; r < k; ++r) {
        ASSERT_EQ(index[i * k + r], order[r]) << "chunk " << chunk << " query " << i << " rank " << r;
        ASSERT_EQ(score[i * k + r], all[i * m + order[r]]);
      }
    }
  }
}

TEST(SemanticSearch, NanScoresRankLast) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float q[] = {1, 0};
  const float c[] = {nan, 0, 1, 0, nan, 1, -1, 0, 0.5f, 0};  // scores: NaN, 1, NaN, -1, 0.5
  std::vector<int32_t> index;
  std::vector<float> score;
  ASSERT_TRUE(SemanticSearch(q, 1, c, 5, 2, Similarity::kDot, 5, 2, 1, nullptr, nullptr, &index, &score).ok());
  EXPECT_EQ(index, (std::vector<int32_t>{1, 4, 3, 0, 2}));
  EXPECT_TRUE(std::isnan(score[3]) && std::isnan(score[4]));
  ASSERT_TRUE(SemanticSearch(q, 1, c, 5, 2, Similarity::kDot, 2, 1, 1, nullptr, nullptr, &index, &score).ok());
  EXPECT_EQ(index, (std::vector<int32_t>{1, 4}));
  // The heap fills with NaNs first, then numbers come in the same chunk: the full heap's worst is a NaN, which
  // every number beats (a threshold scan must not compare against it).
  const float d[] = {nan, 0, nan, 0, nan, 0, 2, 0, nan, 0, 3, 0, 1, 0};  // scores: NaN, NaN, NaN, 2, NaN, 3, 1
  ASSERT_TRUE(SemanticSearch(q, 1, d, 7, 2, Similarity::kDot, 2, 7, 1, nullptr, nullptr, &index, &score).ok());
  EXPECT_EQ(index, (std::vector<int32_t>{5, 3}));
  EXPECT_EQ(score, (std::vector<float>{3, 2}));
}

TEST(EmbeddingBag, RejectsBadIds) {
  const float table[] = {1, 2, 3, 4};
  const int64_t mapping[] = {1, 2};
  TableView t;
  t.data = table;
  t.rows = 2;
  t.dim = 2;
  float out[2];
  const int32_t bad[] = {0, 2};
  Status s = EmbeddingBag(t, bad, 2, out, false);
  EXPECT_EQ(s.code(), codes::kInvalidArgument);
  EXPECT_NE(s.message().find("token id 2 at position 1"), std::string::npos) << s.message();
  const int32_t negative = -1;
  EXPECT_EQ(EmbeddingBag(t, &negative, 1, out, false).code(), codes::kInvalidArgument);
  t.mapping = mapping;
  t.vocab = 2;
  const int32_t mapped_out = 1;
  s = EmbeddingBag(t, &mapped_out, 1, out, false);
  EXPECT_EQ(s.code(), codes::kInvalidArgument);
  EXPECT_NE(s.message().find("maps to row 2"), std::string::npos) << s.message();
}

TEST(Dispatch, ActiveLevel) {
  const std::string name = ActiveSimdLevelName();
  std::optional<SimdLevel> level = ParseSimdLevel(name);
  ASSERT_TRUE(level.has_value()) << name;
  EXPECT_TRUE(KernelLevelAvailable(*level));
  if (const char* env = std::getenv("WINNOW_SIMD"); env != nullptr && ParseSimdLevel(env)) {
    EXPECT_EQ(name, SimdLevelName(ClampToSupported(*ParseSimdLevel(env)))) << "WINNOW_SIMD=" << env;
  } else {
    EXPECT_EQ(*level, BestSupportedSimdLevel());
  }
  std::printf("active SIMD level: %s (best supported: %s)\n", name.c_str(), SimdLevelName(BestSupportedSimdLevel()));
  EXPECT_FALSE(ParseSimdLevel("sse9").has_value());
  EXPECT_EQ(ClampToSupported(SimdLevel::kScalar), SimdLevel::kScalar);
  for (SimdLevel l : kAllSimdLevels) {
    if (!KernelLevelAvailable(l)) {
      const float x = 1;
      const int32_t id = 0;
      TableView t;
      t.data = &x;
      t.rows = t.dim = 1;
      float out;
      EXPECT_EQ(EmbeddingBag(l, t, &id, 1, &out, false).code(), codes::kInvalidArgument);
    }
  }
}

// ---- PoolHidden --------------------------------------------------------------------------------

constexpr PoolMode kModes[] = {PoolMode::kCls, PoolMode::kMean, PoolMode::kMax, PoolMode::kLastToken,
                               PoolMode::kWeightedMean};

TEST_P(LevelTest, PoolHiddenMatchesScalar) {
  std::mt19937 rng(99);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (size_t dim : kDims) {
    for (size_t seq : {1, 5, 33}) {
      const size_t batch = 6;
      std::vector<float> hidden(batch * seq * dim);
      for (auto& v : hidden) v = normal(rng);
      std::vector<int64_t> mask(batch * seq, 0);
      for (size_t b = 0; b < batch; ++b) {
        int64_t* m = mask.data() + b * seq;
        const size_t len = b == 0 ? 0 : 1 + rng() % seq;  // row 0: all-zero mask
        if (b == 5) {
          for (size_t s = 0; s < seq; ++s) m[s] = rng() % 2;  // holes
        } else if (b % 3 == 2) {
          for (size_t s = seq - len; s < seq; ++s) m[s] = 1;  // left padded
        } else {
          for (size_t s = 0; s < len; ++s) m[s] = 1;  // right padded
        }
      }
      for (PoolMode mode : kModes) {
        const std::string what = std::string(SimdLevelName(GetParam())) + " dim=" + std::to_string(dim) +
                                 " seq=" + std::to_string(seq) + " mode=" + std::to_string(static_cast<int>(mode));
        std::vector<float> want(batch * dim), got(batch * dim);
        ASSERT_TRUE(PoolHidden(SimdLevel::kScalar, hidden.data(), mask.data(), batch, seq, dim, mode, want.data()).ok());
        ASSERT_TRUE(PoolHidden(GetParam(), hidden.data(), mask.data(), batch, seq, dim, mode, got.data()).ok());
        // Magnitude: weighted mean of |h| (cancellation-aware tolerance).
        std::vector<double> mag(batch * dim, 0.0);
        for (size_t b = 0; b < batch; ++b) {
          double wsum = 0;
          for (size_t s = 0; s < seq; ++s) {
            if (mask[b * seq + s] == 0) continue;
            const double w = mode == PoolMode::kWeightedMean ? s + 1.0 : 1.0;
            wsum += w;
            for (size_t d = 0; d < dim; ++d) mag[b * dim + d] += w * std::fabs(hidden[(b * seq + s) * dim + d]);
          }
          for (size_t d = 0; d < dim; ++d) mag[b * dim + d] /= std::max(wsum, 1e-9);
        }
        ExpectClose(got, want, mag, what);
        if (mode == PoolMode::kCls || mode == PoolMode::kMax || mode == PoolMode::kLastToken) {
          ASSERT_EQ(got, want) << what << ": selection modes must be bit-exact";
        }
      }
      std::vector<float> a = hidden, b = hidden;
      const size_t rows = batch * seq;
      L2NormalizeRows(a.data(), rows, dim);
      ASSERT_TRUE(L2NormalizeRows(GetParam(), b.data(), rows, dim).ok());
      ExpectClose(b, a, std::vector<double>(a.size(), 1.0 / std::sqrt(static_cast<double>(dim))), "normalize");
    }
  }
}

TEST_P(LevelTest, PoolHiddenSentenceTransformersSemantics) {
  // batch 3, seq 3, dim 2. Row 0 right padded, row 1 left padded, row 2 all padding.
  const float hidden[] = {1, -1, 3, 5, 100, 100,    //
                          50, 50, 2, 4, -6, 0,      //
                          7, 8, 9, 10, 11, 12};
  const int64_t mask[] = {1, 1, 0, 0, 1, 1, 0, 0, 0};
  float out[6];
  auto run = [&](PoolMode mode) { ASSERT_TRUE(PoolHidden(GetParam(), hidden, mask, 3, 3, 2, mode, out).ok()); };
  run(PoolMode::kCls);
  EXPECT_EQ(std::vector<float>(out, out + 6), (std::vector<float>{1, -1, 50, 50, 7, 8}));
  run(PoolMode::kMean);
  EXPECT_EQ(std::vector<float>(out, out + 6), (std::vector<float>{2, 2, -2, 2, 0, 0}));
  run(PoolMode::kMax);
  EXPECT_EQ(std::vector<float>(out, out + 6), (std::vector<float>{3, 5, 2, 4, -1e9f, -1e9f}));
  run(PoolMode::kLastToken);
  EXPECT_EQ(std::vector<float>(out, out + 6), (std::vector<float>{3, 5, -6, 0, 0, 0}));
  run(PoolMode::kWeightedMean);  // weights by position 1..3: (1*r0 + 2*r1)/3, (2*r1 + 3*r2)/5
  EXPECT_FLOAT_EQ(out[0], 7.0f / 3);
  EXPECT_FLOAT_EQ(out[1], 9.0f / 3);
  EXPECT_FLOAT_EQ(out[2], (4.0f - 18.0f) / 5);
  EXPECT_FLOAT_EQ(out[3], 8.0f / 5);
  EXPECT_EQ(out[4], 0.0f);
  EXPECT_EQ(out[5], 0.0f);

  // Max keeps values below -1e9 only when nothing is masked (sentence-transformers writes -1e9
  // into masked slots, it does not clamp).
  const float low[] = {-3e9f, -2e9f};
  const int64_t full[] = {1, 1}, half_mask[] = {1, 0};
  ASSERT_TRUE(PoolHidden(GetParam(), low, full, 1, 2, 1, PoolMode::kMax, out).ok());
  EXPECT_EQ(out[0], -2e9f);
  ASSERT_TRUE(PoolHidden(GetParam(), low, half_mask, 1, 2, 1, PoolMode::kMax, out).ok());
  EXPECT_EQ(out[0], -1e9f);
}

TEST_P(LevelTest, L2NormalizeRows) {
  float x[] = {3, 4, 0, 0, 0, 0, 1e-20f, 0};
  ASSERT_TRUE(L2NormalizeRows(GetParam(), x, 4, 2).ok());
  EXPECT_FLOAT_EQ(x[0], 0.6f);
  EXPECT_FLOAT_EQ(x[1], 0.8f);
  EXPECT_EQ(x[2], 0.0f);  // zero row stays zero
  EXPECT_EQ(x[5], 0.0f);
  EXPECT_FLOAT_EQ(x[6], 1e-8f);  // norm below 1e-12 divides by 1e-12, as F.normalize does
}

// ---- quantisation (expected values produced by numpy 2.4 with sentence-transformers' formulas) --

const float kEmb[4][9] = {{0.1f, -0.5f, 0.01f, 2.0f, -1.25f, 0.6f, -0.3f, 0.2f, 0.9f},
                          {0.3f, 0.25f, -0.02f, -2.0f, 0.7f, -0.6f, 0.3f, -0.2f, 0.1f},
                          {-0.2f, 0.9f, 0.03f, 0.5f, 0.33f, 0.0f, 0.0f, 0.7f, -0.4f},
                          {0.05f, -0.75f, 0.0f, 1.0f, -0.1f, 0.15f, 0.45f, -0.05f, 0.0f}};

TEST(Quantize, Uint8AndInt8MatchNumpy) {
  const int want_u8[4][9] = {{153, 38, 153, 254, 0, 255, 0, 113, 255},
                             {254, 154, 0, 0, 255, 0, 204, 0, 98},
                             {0, 255, 255, 159, 206, 127, 102, 255, 0},
                             {127, 0, 102, 191, 150, 159, 255, 42, 78}};
  const int want_i8[4][9] = {{25, -89, 25, 126, -128, 127, -128, -14, 127},
                             {126, 26, -128, -128, 127, -128, 76, -128, -29},
                             {-128, 127, 127, 31, 78, 0, -26, 127, -128},
                             {0, -128, -25, 63, 22, 31, 127, -85, -49}};
  uint8_t u8[36];
  int8_t i8[36];
  ASSERT_TRUE(QuantizeUint8(&kEmb[0][0], 4, 9, nullptr, u8).ok());
  ASSERT_TRUE(QuantizeInt8(&kEmb[0][0], 4, 9, nullptr, i8).ok());
  for (int r = 0; r < 4; ++r) {
    for (int d = 0; d < 9; ++d) {
      EXPECT_EQ(u8[r * 9 + d], want_u8[r][d]) << r << "," << d;
      EXPECT_EQ(i8[r * 9 + d], want_i8[r][d]) << r << "," << d;  // trunc toward zero, not floor
    }
  }
}

TEST(Quantize, GivenRanges) {
  float ranges[18];
  for (int d = 0; d < 9; ++d) {
    ranges[d] = -1;
    ranges[9 + d] = 1;
  }
  const int want_i8[4][9] = {{12, -64, 0, -2, 97, 75, -38, 25, 114},
                             {37, 31, -3, 1, 88, -77, 37, -26, 12},
                             {-26, 114, 3, 63, 41, 0, 0, 88, -51},
                             {5, -96, 0, 126, -13, 18, 56, -6, 0}};
  const int want_u8[4][9] = {{140, 63, 128, 126, 225, 203, 89, 153, 242},
                             {165, 159, 124, 129, 216, 50, 165, 101, 140},
                             {101, 242, 131, 191, 169, 127, 127, 216, 76},
                             {133, 31, 127, 254, 114, 146, 184, 121, 127}};
  int8_t i8[36];
  uint8_t u8[36];
  ASSERT_TRUE(QuantizeInt8(&kEmb[0][0], 4, 9, ranges, i8).ok());
  ASSERT_TRUE(QuantizeUint8(&kEmb[0][0], 4, 9, ranges, u8).ok());
  for (int r = 0; r < 4; ++r) {
    for (int d = 0; d < 9; ++d) {
      if (std::fabs(kEmb[r][d]) > 1) continue;  // out of range: numpy wraps (undefined cast), we clamp
      EXPECT_EQ(i8[r * 9 + d], want_i8[r][d]) << r << "," << d;
      EXPECT_EQ(u8[r * 9 + d], want_u8[r][d]) << r << "," << d;
    }
  }
  EXPECT_EQ(i8[0 * 9 + 3], 127);   // 2.0 clamped
  EXPECT_EQ(i8[1 * 9 + 3], -128);  // -2.0 clamped
  EXPECT_EQ(u8[0 * 9 + 4], 0);     // -1.25 clamped
  // A constant dimension (step 0) lands in the lowest bucket instead of numpy's NaN cast.
  const float constant[] = {0.5f, 0.5f};
  ASSERT_TRUE(QuantizeInt8(constant, 2, 1, nullptr, i8).ok());
  EXPECT_EQ(i8[0], -128);
  float r[2];
  EXPECT_EQ(ComputeQuantizationRanges(constant, 0, 1, r).code(), codes::kInvalidArgument);
}

TEST(Quantize, BinaryMatchesNumpyPackbits) {
  float e8[4][8];
  for (int r = 0; r < 4; ++r) std::memcpy(e8[r], kEmb[r], sizeof(e8[r]));
  int8_t b[4];
  uint8_t ub[4];
  QuantizeBinary(&e8[0][0], 4, 8, b);
  QuantizeUbinary(&e8[0][0], 4, 8, ub);
  EXPECT_EQ(std::vector<int>(b, b + 4), (std::vector<int>{53, 74, -7, 22}));
  EXPECT_EQ(std::vector<int>(ub, ub + 4), (std::vector<int>{181, 202, 121, 150}));
  // dim 9: each row padded on its own (np.packbits(..., axis=-1)).
  uint8_t ub9[8];
  QuantizeUbinary(&kEmb[0][0], 4, 9, ub9);
  EXPECT_EQ(std::vector<int>(ub9, ub9 + 8), (std::vector<int>{181, 128, 202, 128, 121, 0, 150, 0}));
}

}  // namespace
}  // namespace winnow::pooling
