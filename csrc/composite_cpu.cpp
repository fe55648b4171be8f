// The CPU backend of tubelets._C, OpenMP over a chunk of clips at a time: first every
// tubelet's crop is read into cells (paint_span.h's Crop: for uint8 the four bilinear
// taps of each source pixel side by side, else the crop padded by a row and a column),
// then each of the chunk's frames is copied from the inputs to the outputs (unless
// painted in place) and painted tubelet by tubelet, row by row,
// over the part of the row the patch may cover, in runs of up to kRun pixels: the frame
// is still in cache when it is painted, so each output pixel goes to memory once.
// Since every crop is read before any pixel is written, the source may be an output
// painted in place.
//
// Painting a whole tubelet before the next keeps each pixel's order of
// operations that of the reference (tubelets in index order, quantised after
// each), and touches only the boxes, not the union box around them.
//
// Where the CPU has AVX-512 or AVX2, spans of uint8 and float32 rows on the fast path
// (see fast_path) go to paint_simd.h's kernel (paint_avx512.cpp: 16 pixels a step in
// registers, ~3x the portable passes; paint_avx2.cpp: 8, ~2.4x). Elsewhere each run goes
// in passes over arrays, one per step of composite.h's per-pixel math, so that the
// compiler vectorises every pass but the gathers from the crop. All compute exactly the
// float32 expressions of paint_pixel, so the results are those of the reference bit for
// bit.
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <atomic>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "composite.h"
#include "cpu_backend.h"
#include "paint_span.h"

namespace tubelets {
namespace {

// Where along each row of a box the patch may have alpha > 0. Each limit bounds
// |w_x·u_x + w_y·u_y|, an affine function of the pixel, so it holds only for x between
// two lines in y, from + slope·y and to + slope·y. The limits: the patch's square,
// |u_x| <= 1 and |u_y| <= 1; within it a rhombus also has |u_x ± u_y| <= 1 and an
// ellipse |u_x ± u_y| <= sqrt(2) (its octagon). Elsewhere coverage is 0, and so is alpha,
// unless opacity is not finite (NaN·0): then the whole square is painted, as in the
// reference. Solved once per tubelet and frame in double for a bound widened by a slack
// far above the float32 rounding of u (and of these lines in double); rows are then
// clamped to the box and widened by a pixel. Conservative: the exact per-pixel test
// still decides; the spans only skip what it would reject, such as half of the box of
// a rotated square.
class PatchSpans {
 public:
  PatchSpans(const Patch& patch, const Box& box) : box_(box) {
    limit(patch, 1.0, 0.0, 1.0);
    limit(patch, 0.0, 1.0, 1.0);
    if (std::isfinite(patch.opacity) && (patch.shape == kRhombus || patch.shape == kEllipse)) {
      const double bound = patch.shape == kRhombus ? 1.0 : std::sqrt(2.0);
      limit(patch, 1.0, 1.0, bound);
      limit(patch, 1.0, -1.0, bound);
    }
  }

  // Columns x0 .. x1 of row y (x1 < x0: none).
  Box row(int64_t y) const {
    double lo = double(box_.x0), hi = double(box_.x1);
    for (int k = 0; k < count_; ++k) {
      const double from = from_[k] + slope_[k] * double(y), to = to_[k] + slope_[k] * double(y);
      lo = from > lo ? from : lo;
      hi = to < hi ? to : hi;
    }
    if (lo > hi + 2.0) return Box{0, y, -1, y};
    // Now lo, hi lie in [x0 - 2, x1 + 2]; truncation - 1 <= floor, + 1 >= ceil.
    const int64_t x0 = int64_t(lo) - 1, x1 = int64_t(hi) + 1;
    return Box{x0 > box_.x0 ? x0 : box_.x0, y, x1 < box_.x1 ? x1 : box_.x1, y};
  }

 private:
  // Adds |wx·u_x + wy·u_y| <= bound. A zero or non-finite coefficient (a degenerate
  // map) gives no lines: no limit from it.
  void limit(const Patch& patch, double wx, double wy, double bound) {
    const float* m = patch.affine;
    const double a = wx * m[0] + wy * m[3], b = wx * m[1] + wy * m[4], c = wx * m[2] + wy * m[5];
    const double reach_x = std::fmax(std::fabs(double(box_.x0)), std::fabs(double(box_.x1)));
    const double reach_y = std::fmax(std::fabs(double(box_.y0)), std::fabs(double(box_.y1)));
    auto size = [&](const float* row) {  // bounds the terms of one coordinate of u
      return std::fabs(row[0]) * reach_x + std::fabs(row[1]) * reach_y + std::fabs(row[2]);
    };
    const double slack = 1e-5 * (1.0 + std::fabs(wx) * size(m) + std::fabs(wy) * size(m + 3));
    double from = (-bound - slack - c) / a, to = (bound + slack - c) / a;
    const double slope = -b / a;
    if (!(std::isfinite(from) && std::isfinite(to) && std::isfinite(slope))) return;
    if (a < 0) std::swap(from, to);
    from_[count_] = from;
    to_[count_] = to;
    slope_[count_] = slope;
    ++count_;
  }

  Box box_;
  int count_ = 0;
  double from_[4], to_[4], slope_[4];
};

// Pixels of a row painted together: bounds the scratch arrays of paint_run.
constexpr int64_t kRun = 64;
// Rows handed to the SIMD kernels together.
constexpr int64_t kRowBlock = 64;
// Channels sampled together, sharing the source positions.
constexpr int64_t kChannelGroup = 4;

// quantise<uint8_t> over values[lo, hi) into out[lo, hi). With SSE2, 16 at a time:
// maxps and minps are exactly clamp()'s two selects (a NaN gives the low bound), which
// the compiler vectorises as compare-and-mask sequences, three times the instructions.
inline void quantise_row(const float* values, int64_t lo, int64_t hi, uint8_t* out) {
  int64_t i = lo;
#if defined(__SSE2__)
  const __m128 half = _mm_set1_ps(0.5f), low = _mm_setzero_ps(), high = _mm_set1_ps(255.0f);
  auto clamped = [&](int64_t at) {
    const __m128 value = _mm_add_ps(_mm_loadu_ps(values + at), half);
    return _mm_cvttps_epi32(_mm_min_ps(_mm_max_ps(value, low), high));
  };
  for (; i + 16 <= hi; i += 16) {
    const __m128i first = _mm_packs_epi32(clamped(i), clamped(i + 4));
    const __m128i second = _mm_packs_epi32(clamped(i + 8), clamped(i + 12));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm_packus_epi16(first, second));
  }
#endif
  for (; i < hi; ++i) out[i] = quantise<uint8_t>(values[i]);
}

// The fast path: rows contiguous in every output (the usual layouts), a source below
// 2^24 pixels across, so that source indices are exact in float32 and fit int32 (SSE2
// vectorises int32 conversions, not int64 ones), and a crop plane whose cell indices
// fit int32 (AVX-512 gathers take int32 indices): a padded crop has a row and a column
// more than the source at most.
bool fast_path(const PaintArgs& args) {
  const int64_t limit = int64_t(1) << 24;
  bool rows = true;
  for (int64_t p = 0; p < args.copies; ++p) rows &= args.out_stride[p][4] == 1;
  return rows && args.source_size[3] <= limit && args.source_size[4] <= limit &&
         (args.source_size[3] + 1) * (args.source_size[4] + 1) <= INT32_MAX;
}

// Cells of one chunk of clips, at most about this many bytes unless one clip needs more:
// memory stays bounded whatever the batch size.
constexpr int64_t kChunkBytes = int64_t(32) << 20;

// The first column (row) of the source that a crop starting at `low` can sample: `low`
// itself, or below it where float32 rounds it down (sources over 2^24 pixels across):
// source_point clamps positions in float32, as the reference does.
inline int64_t reach_low(int64_t low) {
  const int64_t rounded = int64_t(float(low));
  return rounded < low ? rounded : low;
}

// The cells of a tubelet's crop (paint_span.h's Crop), from reach_low of its first
// column and row: channels × height × width quads, or the values with a copied column
// and row, channels × (height + 1) × (width + 1).
template <typename scalar_t>
inline int64_t crop_cells(const Patch& patch, int64_t channels) {
  const int64_t pad = CropCell<scalar_t>::kQuads ? 0 : 1;
  return channels * (patch.y_hi - reach_low(patch.y_lo) + 1 + pad) * (patch.x_hi - reach_low(patch.x_lo) + 1 + pad);
}

// Reads a tubelet's crop of `frame` (channel 0 of its source frame) into `cells`
// (crop_cells of them), as paint_span.h's Crop lays them out; returns the Crop.
template <typename scalar_t>
Crop<scalar_t> read_crop(const Patch& patch, const scalar_t* frame, const int64_t* stride, int64_t channels,
                         typename Crop<scalar_t>::Cell* cells) {
  const int64_t x_lo = reach_low(patch.x_lo), y_lo = reach_low(patch.y_lo);
  const int64_t width = patch.x_hi - x_lo + 1, height = patch.y_hi - y_lo + 1;
  const int64_t column = stride[4];
  if constexpr (CropCell<scalar_t>::kQuads) {
    for (int64_t c = 0; c < channels; ++c) {
      for (int64_t y = y_lo; y <= patch.y_hi; ++y) {
        const scalar_t* row = frame + c * stride[1] + y * stride[3] + x_lo * column;
        const scalar_t* below = y < patch.y_hi ? row + stride[3] : row;
        Quad<scalar_t>* out = cells + (c * height + (y - y_lo)) * width;
        // The last column's right neighbour is itself (clamped to the crop): apart, so
        // that the loop has no select and vectorises where the rows are contiguous.
        for (int64_t x = 0; x + 1 < width; ++x) {
          out[x] = Quad<scalar_t>{{row[x * column], row[(x + 1) * column], below[x * column], below[(x + 1) * column]}};
        }
        const int64_t last = (width - 1) * column;
        out[width - 1] = Quad<scalar_t>{{row[last], row[last], below[last], below[last]}};
      }
    }
    return Crop<scalar_t>{cells, width, width * height, y_lo * width + x_lo};
  } else {
    const int64_t padded = width + 1, plane = padded * (height + 1);
    for (int64_t c = 0; c < channels; ++c) {
      scalar_t* out = cells + c * plane;
      for (int64_t y = y_lo; y <= patch.y_hi; ++y, out += padded) {
        const scalar_t* row = frame + c * stride[1] + y * stride[3] + x_lo * column;
        if (column == 1) {
          std::memcpy(out, row, sizeof(scalar_t) * width);
        } else {
          for (int64_t x = 0; x < width; ++x) out[x] = row[x * column];
        }
        out[width] = out[width - 1];
      }
      std::memcpy(out, out - padded, sizeof(scalar_t) * padded);  // the last row, again
    }
    return Crop<scalar_t>{cells, padded, plane, y_lo * padded + x_lo};
  }
}

// The kernels that paint spans, narrowest first: SIMD_NAMES[kernel].
enum Simd : int { kPortable = 0, kAvx2 = 1, kAvx512 = 2 };
constexpr const char* SIMD_NAMES[] = {"portable", "avx2", "avx512"};

bool cpu_has(Simd kernel) {
  return kernel == kPortable || (kernel == kAvx2 && cpu_has_avx2()) || (kernel == kAvx512 && cpu_has_avx512());
}

// The kernel that paints spans: the widest this CPU has, unless set_simd chose another.
std::atomic<int> simd_kernel{cpu_has(kAvx512) ? kAvx512 : cpu_has(kAvx2) ? kAvx2 : kPortable};

// Paints the `count` (<= kRun) pixels from column x of one row with one tubelet.
// `patch` and `row` come by value: a copy the compiler knows nothing else writes
// lets it vectorise the first pass.
// `rows[p]` points at column x, channel 0, of the row in output p.
// `mask` is null or points at column x of the row in the masks, which get `id` where the
// tubelet paints.
template <typename scalar_t, bool kFast>
void paint_run(const Layout& layout, const Patch patch, const PatchRow row, int64_t x,
               int64_t count, const Crop<scalar_t>& crop, scalar_t* const* rows, int8_t* mask, int8_t id) {
  using index_t = typename std::conditional<kFast, int32_t, int64_t>::type;

  // 1. Per pixel: alpha, and the quad it samples (always inside the crop, so every
  //    read below is in bounds, whatever alpha is).
  float alpha[kRun], fx[kRun], fy[kRun];
  index_t at[kRun];
  const index_t first = index_t(x), n = index_t(count);   // x fits: boxes are int32
  const index_t width = index_t(crop.width), origin = index_t(crop.origin);
  // Rounded up to whole SSE vectors (kRun is a multiple of 4), which spares the loop
  // its scalar tail; the pixels past the run are computed and ignored.
  const index_t blocks = (n + 3) / 4;
  for (index_t i = 0; i < blocks * 4; ++i) {
    const PatchPoint u = patch_point(patch, row, float(first + i));
    alpha[i] = inside_patch(u) ? pixel_alpha(patch, u) : 0.0f;
    const SourcePoint<index_t> point = source_point<index_t>(patch, u);
    at[i] = point.y0 * width + point.x0 - origin;
    fx[i] = point.fx;
    fy[i] = point.fy;
  }
  if (layout.source_alpha) {  // every pixel's, without a branch: alpha <= 0 stays <= 0
    const auto* plane = crop.cells + layout.channels * crop.plane;
    for (index_t i = 0; i < n; ++i) {
      scalar_t tap[4];
      Crop<scalar_t>::taps(plane, at[i], crop.width, tap);
      const float sample = bilinear(to_float(tap[0]), to_float(tap[1]), to_float(tap[2]), to_float(tap[3]),
                                    fx[i], fy[i]);
      alpha[i] = alpha[i] * source_coverage<scalar_t>(sample);
    }
  }

  // 2. Only pixels from the first to the last painted one go on (the run is a pixel or
  //    two wider than the patch). In that range a convex patch of opacity 1 with hard
  //    edges has alpha >= 1 throughout, where blend() stores the value whatever was
  //    there: then the canvas is not read (reads that miss the cache stall, stores do not).
  index_t lo = 0, hi = n;
  while (lo < hi && alpha[lo] <= 0.0f) ++lo;
  while (hi > lo && alpha[hi - 1] <= 0.0f) --hi;
  bool opaque = true;
  for (index_t i = lo; i < hi; ++i) opaque &= alpha[i] >= 1.0f;
  if (mask != nullptr) {
    for (index_t i = lo; i < hi; ++i) mask[i] = alpha[i] <= 0.0f ? mask[i] : id;
  }

  for (int64_t group_start = 0; group_start < layout.channels; group_start += kChannelGroup) {
    const int64_t group = layout.channels - group_start < kChannelGroup
                              ? layout.channels - group_start
                              : kChannelGroup;
    // 3. Gather the quad of each channel (no arithmetic: it is the one pass that
    //    cannot vectorise), then interpolate.
    const auto* planes = crop.cells + group_start * crop.plane;
    scalar_t corners[kChannelGroup][4][kRun];
    for (index_t i = lo; i < hi; ++i) {
      for (int64_t g = 0; g < group; ++g) {
        scalar_t tap[4];
        Crop<scalar_t>::taps(planes + g * crop.plane, at[i], crop.width, tap);
        for (int k = 0; k < 4; ++k) corners[g][k][i] = tap[k];
      }
    }
    for (int64_t g = 0; g < group; ++g) {
      const scalar_t(&v)[4][kRun] = corners[g];
      float value[kRun];
      for (index_t i = lo; i < hi; ++i) {
        value[i] = bilinear(to_float(v[0][i]), to_float(v[1][i]), to_float(v[2][i]),
                            to_float(v[3][i]), fx[i], fy[i]);
      }
      // 4. Blend into each copy, along the row.
      for (int64_t p = 0; p < layout.copies; ++p) {
        scalar_t* out = rows[p] + (group_start + g) * layout.out_plane[p];
        const int64_t column = kFast ? 1 : layout.out_column[p];
        if (opaque && kFast && std::is_same<scalar_t, uint8_t>::value) {
          quantise_row(value, lo, hi, reinterpret_cast<uint8_t*>(out));
        } else if (opaque) {
          for (index_t i = lo; i < hi; ++i) out[i * column] = quantise<scalar_t>(value[i]);
        } else {
          for (index_t i = lo; i < hi; ++i) out[i * column] = blend(out[i * column], value[i], alpha[i]);
        }
      }
    }
  }
}

// Copies one H x W plane between strided layouts: whole planes or rows with memcpy
// where they are contiguous.
template <typename scalar_t>
void copy_plane(scalar_t* out, const int64_t* out_stride, const scalar_t* in, const int64_t* in_stride,
                int64_t height, int64_t width) {
  const bool rows = out_stride[4] == 1 && in_stride[4] == 1;
  if (rows && out_stride[3] == width && in_stride[3] == width) {
    std::memcpy(out, in, sizeof(scalar_t) * height * width);
    return;
  }
  for (int64_t y = 0; y < height; ++y) {
    scalar_t* to = out + y * out_stride[3];
    const scalar_t* from = in + y * in_stride[3];
    if (rows) {
      std::memcpy(to, from, sizeof(scalar_t) * width);
    } else {
      for (int64_t x = 0; x < width; ++x) to[x * out_stride[4]] = from[x * in_stride[4]];
    }
  }
}

// Paints frame t of clip b in every output: copies it from the inputs (unless painted
// in place), then paints the tubelets in index order, reading tubelet m's crop from
// crops[m].
template <typename scalar_t, bool kFast>
void paint_frame(const PaintArgs& args, const Layout& layout, const bool* in_place, int64_t b, int64_t t,
                 const Crop<scalar_t>* crops) {
  constexpr bool kVector = kFast && (std::is_same<scalar_t, uint8_t>::value || std::is_same<scalar_t, float>::value);
  const int64_t channels = args.size[1], height = args.size[3], width = args.size[4];
  scalar_t* frame[kMaxCopies];  // channel 0 of frame t of clip b in each output
  for (int64_t p = 0; p < args.copies; ++p) {
    const int64_t* os = args.out_stride[p];
    frame[p] = static_cast<scalar_t*>(args.out[p]) + b * os[0] + t * os[2];
    if (in_place[p]) continue;
    const int64_t* is = args.in_stride[p];
    const scalar_t* from = static_cast<const scalar_t*>(args.in[p]) + b * is[0] + t * is[2];
    for (int64_t c = 0; c < channels; ++c) {
      copy_plane(frame[p] + c * os[1], os, from + c * is[1], is, height, width);
    }
  }
  int8_t* masks = args.masks != nullptr ? args.masks + mask_index(args, b, t, 0, 0) : nullptr;
  if (masks != nullptr) std::memset(masks, -1, size_t(height * width));
  // The SIMD kernels paint uint8 and float32 rows on the fast path; AVX2 rows of 8 or more.
  int simd = kVector ? simd_kernel.load(std::memory_order_relaxed) : kPortable;
  if (simd == kAvx2 && width < 8) simd = kPortable;
  for (int64_t m = 0; m < args.num_tubelets; ++m) {
    const Box box = frame_box(args, b, m, t);
    if (is_empty(box)) continue;
    const Patch patch = load_patch(args, b, m, t);
    const Crop<scalar_t>& crop = crops[m];
    const PatchSpans spans(patch, box);
    if (simd != kPortable) {
      // Rows in blocks, so that the kernel sets up its registers once per block.
      Box block[kRowBlock];
      for (int64_t y0 = box.y0; y0 <= box.y1; y0 += kRowBlock) {
        const int64_t count = box.y1 - y0 + 1 < kRowBlock ? box.y1 - y0 + 1 : kRowBlock;
        for (int64_t i = 0; i < count; ++i) block[i] = spans.row(y0 + i);
        const Rows<scalar_t> rows{layout, patch, y0, count, block, crop, frame, masks, int8_t(m)};
        simd == kAvx512 ? paint_rows_avx512(rows) : paint_rows_avx2(rows);
      }
      continue;
    }
    Box span = spans.row(box.y0);
    for (int64_t y = box.y0; y <= box.y1; ++y) {
      const Box next = y < box.y1 ? spans.row(y + 1) : Box{0, y + 1, -1, y + 1};
      const PatchRow row = patch_row(patch, y);
      scalar_t* rows[kMaxCopies];
      for (int64_t p = 0; p < args.copies; ++p) rows[p] = frame[p] + y * args.out_stride[p][3];
      // Stores that miss the cache fill the store queue and stall: ask for the next
      // row's lines (inside the box) early, with intent to write. Inline, not in a
      // helper: GCC deems a function of prefetches pure and drops its calls. Measured
      // on the paper's case: float32 -30%; a uint8 span is about one cache line per
      // plane, where the prefetches cost ~1.5%, so not there.
      if (kFast && sizeof(scalar_t) > 1 && next.x0 <= next.x1) {
        constexpr int64_t kLine = 64 / sizeof(scalar_t);  // elements per cache line
        for (int64_t p = 0; p < args.copies; ++p) {
          for (int64_t c = 0; c < channels; ++c) {
            const scalar_t* plane = rows[p] + args.out_stride[p][3] + c * layout.out_plane[p];
            for (int64_t x = next.x0; x < next.x1; x += kLine) __builtin_prefetch(plane + x, 1);
            __builtin_prefetch(plane + next.x1, 1);
          }
        }
      }
      for (int64_t x = span.x0; x <= span.x1; x += kRun) {
        const int64_t count = span.x1 - x + 1 < kRun ? span.x1 - x + 1 : kRun;
        scalar_t* at[kMaxCopies];
        for (int64_t p = 0; p < args.copies; ++p) at[p] = rows[p] + x * layout.out_column[p];
        paint_run<scalar_t, kFast>(layout, patch, row, x, count, crop, at,
                                   masks != nullptr ? masks + y * width + x : nullptr, int8_t(m));
      }
      span = next;
    }
  }
}

template <typename scalar_t, bool kFast>
void paint_frames(const PaintArgs& args, int num_threads) {
  const int64_t batch = args.size[0], channels = args.source_size[1], frames = args.size[2];  // crops': all
  const int64_t tubelets = args.num_tubelets;
  const int64_t* ss = args.source_stride;
  Layout layout{args.copies, args.size[1], {}, {}, {}, args.source_alpha, args.size[4]};
  bool in_place[kMaxCopies];
  for (int64_t p = 0; p < args.copies; ++p) {
    layout.out_plane[p] = args.out_stride[p][1];
    layout.out_row[p] = args.out_stride[p][3];
    layout.out_column[p] = args.out_stride[p][4];
    in_place[p] = paints_in_place(args, p);
  }
  using Cell = typename Crop<scalar_t>::Cell;
  // Each tubelet's first cell, counted from its chunk's first; chunks of whole clips.
  std::vector<int64_t> first(batch * tubelets + 1);
  std::vector<int64_t> chunks{0};  // the first clip of each chunk, then batch
  int64_t largest = 0;             // cells of the largest chunk
  for (int64_t b = 0, cells = 0; b < batch; ++b) {
    if (cells * int64_t(sizeof(Cell)) >= kChunkBytes) {
      chunks.push_back(b);
      cells = 0;
    }
    for (int64_t m = 0; m < tubelets; ++m) {
      first[b * tubelets + m] = cells;
      cells += crop_cells<scalar_t>(load_patch(args, b, m, 0), channels);
    }
    largest = cells > largest ? cells : largest;
  }
  chunks.push_back(batch);
  // Not value-initialised: every cell is written before it is read.
  std::unique_ptr<Cell[]> cells(new Cell[largest > 0 ? largest : 1]);
  std::vector<Crop<scalar_t>> crops(batch * tubelets);
  for (size_t chunk = 0; chunk + 1 < chunks.size(); ++chunk) {
    const int64_t b0 = chunks[chunk], clips = chunks[chunk + 1] - b0;
    // Every crop of the chunk is read before any of its pixels is written.
#pragma omp parallel for schedule(dynamic) num_threads(num_threads)
    for (int64_t bm = b0 * tubelets; bm < (b0 + clips) * tubelets; ++bm) {
      const int64_t b = bm / tubelets, m = bm % tubelets;
      const Patch patch = load_patch(args, b, m, 0);
      crops[bm] = read_crop(patch, static_cast<const scalar_t*>(args.source) + b * ss[0] + patch.frame * ss[2], ss,
                            channels, cells.get() + first[bm]);
    }
    // Boxes differ in size from frame to frame: hand frames out dynamically.
#pragma omp parallel for schedule(dynamic) num_threads(num_threads)
    for (int64_t bt = b0 * frames; bt < (b0 + clips) * frames; ++bt) {
      const int64_t b = bt / frames;
      paint_frame<scalar_t, kFast>(args, layout, in_place, b, bt % frames, crops.data() + b * tubelets);
    }
  }
}

}  // namespace

void paint_cpu(const PaintArgs& args, Dtype dtype, int num_threads) {
  if (num_pixels(args) == 0) return;
  const bool fast = fast_path(args);
  dispatch(dtype, [&](auto storage) {
    using scalar_t = decltype(storage);
    if (fast) {
      paint_frames<scalar_t, true>(args, num_threads);
    } else {
      paint_frames<scalar_t, false>(args, num_threads);
    }
  });
}

const char* simd() { return SIMD_NAMES[simd_kernel.load()]; }

std::vector<std::string> simds() {
  std::vector<std::string> names;
  for (int kernel = kPortable; kernel <= kAvx512; ++kernel) {
    if (cpu_has(Simd(kernel))) names.push_back(SIMD_NAMES[kernel]);
  }
  return names;
}

void set_simd(const std::string& name) {
  for (int kernel = kPortable; kernel <= kAvx512; ++kernel) {
    if (name != SIMD_NAMES[kernel]) continue;
    if (!cpu_has(Simd(kernel))) throw std::invalid_argument("tubelets: this CPU has no " + name);
    simd_kernel.store(kernel);
    return;
  }
  throw std::invalid_argument("tubelets: simd must be 'portable', 'avx2' or 'avx512', got '" + name + "'");
}

// Test hooks: the dtype conversions of composite.h over `count` values.
void quantise_array(Dtype dtype, uintptr_t values, uintptr_t out, int64_t count) {
  dispatch(dtype, [&](auto storage) {
    using scalar_t = decltype(storage);
    const float* in = reinterpret_cast<const float*>(values);
    scalar_t* result = reinterpret_cast<scalar_t*>(out);
    for (int64_t i = 0; i < count; ++i) result[i] = quantise<scalar_t>(in[i]);
  });
}

void widen_array(Dtype dtype, uintptr_t values, uintptr_t out, int64_t count) {
  dispatch(dtype, [&](auto storage) {
    using scalar_t = decltype(storage);
    const scalar_t* in = reinterpret_cast<const scalar_t*>(values);
    float* result = reinterpret_cast<float*>(out);
    for (int64_t i = 0; i < count; ++i) result[i] = to_float(in[i]);
  });
}

}  // namespace tubelets
