// Per-pixel compositing math, shared by the CPU (composite_cpu.cpp) and CUDA
// (composite_cuda.cu) backends.
//
// Every function below mirrors tubelets/reference.py operation by operation in
// float32 (see the reference's module docstring for the formula). Built without
// contracting a*b + c into fused multiply-adds (-ffp-contract=off on the host,
// --fmad=false for nvcc) and without fast math, both backends reproduce the
// reference bit for bit.
//
// Layouts: P outputs and inputs (B, C, T, H, W) and the source (B, C, T, Hs, Ws), all
// with arbitrary strides given in elements; the tubelet parameters are contiguous.
// All indices are 64-bit: B·C·T·H·W overflows 32 bits on real batches.
#pragma once

#include <math.h>
#include <stdint.h>
#include <string.h>

#ifdef __CUDACC__
#define TUBELETS_HD __host__ __device__ __forceinline__
#else
#define TUBELETS_HD inline
#endif

namespace tubelets {

// Indices into tubelets.params.SHAPES; any other value is painted as a rectangle,
// as in the reference.
enum Shape : int32_t { kRectangle = 0, kEllipse = 1, kRhombus = 2 };

// Storage of the two 16-bit float dtypes: the raw IEEE binary16 / bfloat16 bits.
struct Half {
  uint16_t bits;
};
struct BFloat16 {
  uint16_t bits;
};

// Outputs one call paints (both clips of a pair need 2).
constexpr int kMaxCopies = 4;

// The pointers, sizes and strides of one paint call (see tubelets.reference.paint_):
// out[p] = in[p] with the tubelets painted on, for each copy p. in[p] == out[p] (with
// the same strides) paints in place.
struct PaintArgs {
  int64_t size[5];                       // B, C, T, H, W of every input and output
  int64_t copies;                        // P <= kMaxCopies
  void* out[kMaxCopies];                 // each (B, C, T, H, W)
  int64_t out_stride[kMaxCopies][5];     // in elements
  const void* in[kMaxCopies];            // each (B, C, T, H, W); no overlap with out but in place
  int64_t in_stride[kMaxCopies][5];
  const void* source;                    // (B, C, Ts, Hs, Ws), no overlap with any out
  int64_t source_size[5];
  int64_t source_stride[5];              // in elements
  int64_t num_tubelets;                  // M
  const float* inv_affine;               // (B, M, T, 2, 3) output pixel -> patch coordinates
  const float* opacity;                  // (B, M, T)
  const int32_t* src_box;                // (B, M, 4) inclusive crop in source pixels
  const int32_t* src_frame;              // (B, M), clamped to [0, Ts)
  const int32_t* shape;                  // (B, M) a Shape
  const float* softness;                 // (B, M) edge ramp width in patch units, 0 = hard
  // The source has channel size[1] more, an alpha channel that multiplies the coverage
  // (source_coverage): source_size[1] == size[1] + 1.
  bool source_alpha;
  // Null, or (B, T, H, W) contiguous: the index of the topmost tubelet painting each
  // pixel, -1 where none. With masks, copies may be 0 (masks only).
  int8_t* masks;
};

// Inclusive pixel box; empty when x1 < x0 or y1 < y0.
struct Box {
  int64_t x0, y0, x1, y1;
};

TUBELETS_HD bool is_empty(const Box& box) { return box.x1 < box.x0 || box.y1 < box.y0; }

TUBELETS_HD bool contains(const Box& box, int64_t x, int64_t y) {
  return x >= box.x0 && y >= box.y0 && x <= box.x1 && y <= box.y1;
}

// The number of pixels of one output, B·C·T·H·W.
TUBELETS_HD int64_t num_pixels(const PaintArgs& args) {
  int64_t pixels = 1;
  for (int i = 0; i < 5; ++i) pixels *= args.size[i];
  return pixels;
}

// Whether copy p is painted where it is, without a copy first.
TUBELETS_HD bool paints_in_place(const PaintArgs& args, int64_t p) {
  if (args.in[p] != args.out[p]) return false;
  for (int i = 0; i < 5; ++i) {
    if (args.in_stride[p][i] != args.out_stride[p][i]) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------
// dtype conversions: exact widening to float32, and the reference's `quantise`
// (uint8: clamp(floor(v + 0.5), 0, 255); float16/bfloat16: round to nearest even).

TUBELETS_HD uint32_t bits_of(float value) {
#ifdef __CUDA_ARCH__
  return __float_as_uint(value);
#else
  uint32_t bits;
  memcpy(&bits, &value, sizeof bits);
  return bits;
#endif
}

TUBELETS_HD float float_of(uint32_t bits) {
#ifdef __CUDA_ARCH__
  return __uint_as_float(bits);
#else
  float value;
  memcpy(&value, &bits, sizeof value);
  return value;
#endif
}

// The conversions compute every case and select, without branches: a branch on
// pixel data is mispredicted often, and selects let the host compiler vectorise them.

TUBELETS_HD float half_to_float(uint16_t half) {
  const uint32_t sign = uint32_t(half & 0x8000u) << 16;
  const uint32_t rest = uint32_t(half & 0x7fffu) << 13;  // exponent and mantissa, float's place
  const uint32_t exponent = rest & 0x0f800000u;
  const uint32_t normal = rest + ((127u - 15u) << 23);  // rebias the exponent
  // Zero or subnormal, mantissa · 2^-24: 2^-14 · (1 + mantissa / 1024) - 2^-14, exact
  // and without a float32 subnormal, which a flush-to-zero mode would zero.
  const uint32_t small = bits_of(float_of(rest + (113u << 23)) - 6.103515625e-05f);
  const uint32_t special = rest | 0x7f800000u;  // inf, NaN (its payload kept)
  return float_of(sign | (exponent == 0 ? small : exponent == 0x0f800000u ? special : normal));
}

// Drops the low `dropped` bits of `bits`, rounding to nearest even: adds just under
// half of the last kept bit, plus that bit (so ties go up to even); a carry out of the
// mantissa correctly bumps the exponent.
TUBELETS_HD uint32_t round_nearest_even(uint32_t bits, int dropped) {
  return (bits + ((1u << (dropped - 1)) - 1u) + ((bits >> dropped) & 1u)) >> dropped;
}

TUBELETS_HD uint16_t float_to_half(float value) {
  const uint32_t bits = bits_of(value);
  const uint32_t sign = (bits >> 16) & 0x8000u;
  const uint32_t magnitude = bits & 0x7fffffffu;
  // Normal (>= 2^-14): rebias the exponent, round off 13 mantissa bits.
  const uint32_t normal = round_nearest_even(magnitude - ((127u - 15u) << 23), 13);
  // Below 2^-14: adding 0.5 rounds the value to a multiple of 2^-24 (the unit of 0.5's
  // last bit), to nearest even; what the sum has above 0.5 is the subnormal's bits, up
  // to 0x400 for 2^-14 itself. A float32 subnormal flushed to zero still rounds to 0.
  const uint32_t small = bits_of(float_of(magnitude) + 0.5f) - 0x3f000000u;
  const uint32_t result = magnitude > 0x7f800000u    ? 0x7e00u  // NaN: a quiet NaN
                          : magnitude >= 0x477ff000u ? 0x7c00u  // >= 65520 rounds to inf
                          : magnitude >= 0x38800000u ? normal
                                                     : small;
  return uint16_t(sign | result);
}

TUBELETS_HD float bfloat16_to_float(uint16_t bfloat) { return float_of(uint32_t(bfloat) << 16); }

TUBELETS_HD uint16_t float_to_bfloat16(float value) {
  const uint32_t bits = bits_of(value);
  const bool nan = (bits & 0x7fffffffu) > 0x7f800000u;
  // Rounding cannot carry into the sign: the largest finite magnitude rounds to inf.
  return uint16_t(nan ? (bits >> 16) | 0x40u : round_nearest_even(bits, 16));  // quiet NaN
}

TUBELETS_HD float to_float(uint8_t value) { return float(value); }
TUBELETS_HD float to_float(Half value) { return half_to_float(value.bits); }
TUBELETS_HD float to_float(BFloat16 value) { return bfloat16_to_float(value.bits); }
TUBELETS_HD float to_float(float value) { return value; }

template <typename scalar_t>
TUBELETS_HD scalar_t quantise(float value);

// clamp(value, low, high) as fminf(fmaxf(value, low), high): a NaN value gives low.
// On the host, in comparisons that compile to one maxss and one minss: without
// -ffinite-math-only fminf/fmaxf are libm calls. The two can differ only in the sign
// of a zero result (-0 against a bound of +0), which no caller can observe: the
// source position is floored, a shape's coverage is never -0, uint8 is an integer.
TUBELETS_HD float clamp(float value, float low, float high) {
#ifdef __CUDA_ARCH__
  return fminf(fmaxf(value, low), high);
#else
  const float above = value > low ? value : low;
  return above < high ? above : high;
#endif
}

template <>
TUBELETS_HD uint8_t quantise<uint8_t>(float value) {
  // clamp(floor(value + 0.5), 0, 255), clamping first: the clamped sum is >= 0, where
  // truncation is floor. A NaN (from a NaN opacity) stores 0.
  return uint8_t(clamp(value + 0.5f, 0.0f, 255.0f));
}
template <>
TUBELETS_HD Half quantise<Half>(float value) {
  return Half{float_to_half(value)};
}
template <>
TUBELETS_HD BFloat16 quantise<BFloat16>(float value) {
  return BFloat16{float_to_bfloat16(value)};
}
template <>
TUBELETS_HD float quantise<float>(float value) {
  return value;
}

// ---------------------------------------------------------------------------
// One tubelet in one frame.

// The pixels tubelet m may touch in frame t of clip b, clipped to the frame: the box
// around the patch square (the forward map of inv_affine), one pixel wider on each side,
// as tubelets.params.frame_boxes computes it, in double. A singular map takes the frame.
TUBELETS_HD Box frame_box(const PaintArgs& args, int64_t b, int64_t m, int64_t t) {
  const float* map = args.inv_affine + ((b * args.num_tubelets + m) * args.size[2] + t) * 6;
  const double a = map[0], bb = map[1], c = map[3], d = map[4];
  const double det = a * d - bb * c;
  const double f00 = d / det, f01 = -bb / det, f10 = -c / det, f11 = a / det;
  const double centre_x = -(f00 * map[2] + f01 * map[5]), centre_y = -(f10 * map[2] + f11 * map[5]);
  const double extent_x = fabs(f00) + fabs(f01), extent_y = fabs(f10) + fabs(f11);
  const double last_x = double(args.size[4] - 1), last_y = double(args.size[3] - 1);
  double x0 = floor(centre_x - extent_x) - 1, y0 = floor(centre_y - extent_y) - 1;
  double x1 = ceil(centre_x + extent_x) + 1, y1 = ceil(centre_y + extent_y) + 1;
  x0 = isfinite(x0) ? (x0 > 0 ? x0 : 0) : 0;
  y0 = isfinite(y0) ? (y0 > 0 ? y0 : 0) : 0;
  x1 = isfinite(x1) ? (x1 < last_x ? x1 : last_x) : last_x;
  y1 = isfinite(y1) ? (y1 < last_y ? y1 : last_y) : last_y;
  if (!(x0 <= x1 && y0 <= y1)) return Box{0, 0, -1, -1};  // off the frame
  return Box{int64_t(x0), int64_t(y0), int64_t(x1), int64_t(y1)};
}

// The parameters of tubelet m in frame t of clip b, gathered once and reused for
// every pixel of its box.
struct Patch {
  float affine[6];                   // row-major 2x3, output pixel (x, y, 1) -> u
  float opacity;
  float softness;
  int32_t shape;
  float centre_x, centre_y;          // centre of the crop, source pixels
  float half_x, half_y;              // half size of the crop, source pixels
  int64_t x_lo, y_lo, x_hi, y_hi;    // the crop clamped to the source frame
  int64_t frame;                     // source frame, clamped to the source
};

TUBELETS_HD int64_t clamp_index(int64_t index, int64_t last) {
  return index < 0 ? 0 : index > last ? last : index;
}

TUBELETS_HD Patch load_patch(const PaintArgs& args, int64_t b, int64_t m, int64_t t) {
  const int64_t bm = b * args.num_tubelets + m;
  const int64_t bmt = bm * args.size[2] + t;
  Patch patch;
  for (int i = 0; i < 6; ++i) patch.affine[i] = args.inv_affine[bmt * 6 + i];
  patch.opacity = args.opacity[bmt];
  patch.softness = args.softness[bm];
  patch.shape = args.shape[bm];
  const int32_t* crop = args.src_box + bm * 4;
  const int64_t x0 = crop[0], y0 = crop[1], x1 = crop[2], y1 = crop[3];
  patch.centre_x = float(x0 + x1) * 0.5f;
  patch.centre_y = float(y0 + y1) * 0.5f;
  patch.half_x = float(x1 - x0 + 1) * 0.5f;
  patch.half_y = float(y1 - y0 + 1) * 0.5f;
  const int64_t last_x = args.source_size[4] - 1, last_y = args.source_size[3] - 1;
  patch.x_lo = clamp_index(x0, last_x);
  patch.y_lo = clamp_index(y0, last_y);
  patch.x_hi = clamp_index(x1, last_x);
  patch.y_hi = clamp_index(y1, last_y);
  patch.frame = clamp_index(args.src_frame[bm], args.source_size[2] - 1);
  return patch;
}

// The products m1·y and m4·y of u for row y, the same for every pixel of the row.
// Hoisted, they are still the same float32 products, so u keeps its rounding
// (accumulating u along x would not).
struct PatchRow {
  float x_from_y, y_from_y;
};

TUBELETS_HD PatchRow patch_row(const Patch& patch, int64_t y) {
  const float yf = float(y);
  return PatchRow{patch.affine[1] * yf, patch.affine[4] * yf};
}

// Patch coordinates u of the pixel in column x of a row.
struct PatchPoint {
  float x, y;
};

TUBELETS_HD PatchPoint patch_point(const Patch& patch, const PatchRow& row, float x) {
  const float* map = patch.affine;
  return PatchPoint{(map[0] * x + row.x_from_y) + map[2], (map[3] * x + row.y_from_y) + map[5]};
}

// Coverage from the shape mask, before opacity, at patch coordinates u (|u| <= 1).
TUBELETS_HD float shape_alpha(int32_t shape, float softness, float ux, float uy) {
  const float ax = fabsf(ux), ay = fabsf(uy);
  const float distance = shape == kEllipse   ? sqrtf(ux * ux + uy * uy)
                         : shape == kRhombus ? ax + ay
                                             : (ax > ay ? ax : ay);  // fmaxf of non-NaNs
  const float hard = distance <= 1.0f ? 1.0f : 0.0f;
  const float ramp = clamp((1.0f - distance) / softness, 0.0f, 1.0f);
  return softness > 0.0f ? ramp : hard;
}

// Whether patch coordinates u lie in the patch's square, |u_x| <= 1 and |u_y| <= 1;
// written so that a NaN (from a degenerate map) is outside. A pixel outside, or with
// alpha <= 0, keeps its value.
TUBELETS_HD bool inside_patch(PatchPoint u) {
  return (fabsf(u.x) <= 1.0f) & (fabsf(u.y) <= 1.0f);
}

// Opacity times coverage at patch coordinates u inside the patch's square.
TUBELETS_HD float pixel_alpha(const Patch& patch, PatchPoint u) {
  return patch.opacity * shape_alpha(patch.shape, patch.softness, u.x, u.y);
}

// Where patch coordinates u sample the source frame: the 2x2 pixels (x0 or x1,
// y0 or y1) and the bilinear weights of the far ones. The CPU backend takes int32
// indices where the source is small enough (see composite_cpu.cpp).
template <typename index_t>
struct SourcePoint {
  index_t x0, y0, x1, y1;
  float fx, fy;
};

template <typename index_t = int64_t>
TUBELETS_HD SourcePoint<index_t> source_point(const Patch& patch, PatchPoint u) {
  const index_t x_lo = index_t(patch.x_lo), x_hi = index_t(patch.x_hi);
  const index_t y_lo = index_t(patch.y_lo), y_hi = index_t(patch.y_hi);
  // Clamped into the crop (fmin/fmax in the reference), NaN included; s >= x_lo >= 0,
  // where truncation is floor. The integer clamp only matters where float(x_hi) rounds
  // up (sources over 2^24 pixels across): the indices stay in the crop whatever u is.
  const float sx = clamp(patch.centre_x + u.x * patch.half_x, float(x_lo), float(x_hi));
  const float sy = clamp(patch.centre_y + u.y * patch.half_y, float(y_lo), float(y_hi));
  const index_t x0 = index_t(sx) < x_hi ? index_t(sx) : x_hi;
  const index_t y0 = index_t(sy) < y_hi ? index_t(sy) : y_hi;
  return SourcePoint<index_t>{x0, y0, x0 + 1 < x_hi ? x0 + 1 : x_hi, y0 + 1 < y_hi ? y0 + 1 : y_hi,
                              sx - float(x0), sy - float(y0)};
}

// Bilinear interpolation of the four source values: along x, then along y.
TUBELETS_HD float bilinear(float v00, float v01, float v10, float v11, float fx, float fy) {
  const float top = v00 + fx * (v01 - v00);
  const float bottom = v10 + fx * (v11 - v10);
  return top + fy * (bottom - top);
}

// An output value after painting `value` over it with coverage `alpha`: unchanged
// where alpha <= 0. Computes every case and selects, so that the CPU backend's loop
// over a row vectorises.
template <typename scalar_t>
TUBELETS_HD scalar_t blend(scalar_t before, float value, float alpha) {
  const float mixed = to_float(before) * (1.0f - alpha) + value * alpha;
  const scalar_t painted = quantise<scalar_t>(alpha >= 1.0f ? value : mixed);
  return alpha <= 0.0f ? before : painted;
}

// The unit of a source alpha value: 255 is opaque in uint8, 1 in the float dtypes.
template <typename scalar_t>
TUBELETS_HD float alpha_unit() {
  return 1.0f;
}
template <>
TUBELETS_HD float alpha_unit<uint8_t>() {
  return 1.0f / 255.0f;  // the float32 nearest 1/255, as the reference's constant
}

// A bilinear sample of the source's alpha channel as a factor of coverage: times the
// unit, clamped to [0, 1] (a NaN gives 0).
template <typename scalar_t>
TUBELETS_HD float source_coverage(float sample) {
  return clamp(sample * alpha_unit<scalar_t>(), 0.0f, 1.0f);
}

// The element of pixel (x, y) of frame t of clip b in the masks.
TUBELETS_HD int64_t mask_index(const PaintArgs& args, int64_t b, int64_t t, int64_t y, int64_t x) {
  return ((b * args.size[2] + t) * args.size[3] + y) * args.size[4] + x;
}

// Paints one tubelet into output pixel (x, y) of frame t of clip b, in all P
// outputs, which already hold the pixel's value so far. The caller has checked that
// the pixel lies in the tubelet's box. The output itself carries the pixel from one
// tubelet to the next, quantised, exactly as the reference stores it after every tubelet.
template <typename scalar_t>
TUBELETS_HD void paint_pixel(const PaintArgs& args, const Patch& patch, int64_t b, int64_t m, int64_t t,
                             int64_t y, int64_t x) {
  const PatchPoint u = patch_point(patch, patch_row(patch, y), float(x));
  if (!inside_patch(u)) return;
  float alpha = pixel_alpha(patch, u);
  if (alpha <= 0.0f) return;
  const SourcePoint<int64_t> at = source_point(patch, u);

  const int64_t* ss = args.source_stride;
  const scalar_t* frame =
      static_cast<const scalar_t*>(args.source) + b * ss[0] + patch.frame * ss[2];
  const int64_t at00 = at.y0 * ss[3] + at.x0 * ss[4], at01 = at.y0 * ss[3] + at.x1 * ss[4];
  const int64_t at10 = at.y1 * ss[3] + at.x0 * ss[4], at11 = at.y1 * ss[3] + at.x1 * ss[4];
  auto sample = [&](int64_t c) {
    const scalar_t* plane = frame + c * ss[1];
    return bilinear(to_float(plane[at00]), to_float(plane[at01]), to_float(plane[at10]),
                    to_float(plane[at11]), at.fx, at.fy);
  };
  if (args.source_alpha) {
    alpha = alpha * source_coverage<scalar_t>(sample(args.size[1]));
    if (alpha <= 0.0f) return;
  }
  if (args.masks != nullptr) args.masks[mask_index(args, b, t, y, x)] = int8_t(m);
  for (int64_t c = 0; c < args.size[1]; ++c) {
    const float value = sample(c);
    for (int64_t p = 0; p < args.copies; ++p) {
      const int64_t* os = args.out_stride[p];
      scalar_t& out = static_cast<scalar_t*>(args.out[p])[b * os[0] + c * os[1] + t * os[2] +
                                                          y * os[3] + x * os[4]];
      out = blend(out, value, alpha);
    }
  }
}

// ---------------------------------------------------------------------------
// Host side.

enum class Dtype { kUInt8, kFloat16, kBFloat16, kFloat32 };

// Calls f with a value of the storage type of dtype, e.g. f(Half{}).
template <typename F>
void dispatch(Dtype dtype, F&& f) {
  switch (dtype) {
    case Dtype::kUInt8: return f(uint8_t{});
    case Dtype::kFloat16: return f(Half{});
    case Dtype::kBFloat16: return f(BFloat16{});
    case Dtype::kFloat32: return f(float{});
  }
}

// Defined in composite_cuda.cu: paints on `device`, enqueued on `stream` (a
// cudaStream_t); throws std::runtime_error if the launch fails.
void paint_cuda(const PaintArgs& args, Dtype dtype, int device, uintptr_t stream);

}  // namespace tubelets
