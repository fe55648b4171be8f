// paint_rows_avx512: composite.h's paint_pixel for 16 pixels of a row at a time, in
// AVX-512 registers, for uint8 and float32 (see paint_span.h).
//
// Each step mirrors paint_pixel operation by operation in float32: the same products
// and sums in the same order, maxps/minps for clamp() (both give the second operand
// for a NaN, as clamp's selects do), truncating conversions where it truncates. So the
// results are those of the reference, bit for bit; tests/test_native.py compares this
// kernel with the portable one and the reference.
//
// Pixels outside the span, or where alpha <= 0, are masked off: nothing is read from
// or written to the outputs there. The source positions of every lane are clamped into
// the crop, so even masked-off lanes would read inside it. The taps come from the
// tubelet's Crop: a uint8 lane reads its four in one 32-bit gather, a float32 lane in
// four gathers from the padded crop.
#include "paint_span.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#include <cstdint>

namespace tubelets {

bool cpu_has_avx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
}

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq")
// GCC 12 warns inside its own avx512fintrin.h, where intrinsics start from
// _mm512_undefined_*(), which is uninitialised by design.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace {

// clamp(value, low, high) of composite.h: maxps(v, low) is `v > low ? v : low`,
// minps(a, high) is `a < high ? a : high`.
inline __m512 clamp16(__m512 value, __m512 low, __m512 high) {
  return _mm512_min_ps(_mm512_max_ps(value, low), high);
}

// A tubelet's constants, one per lane.
struct Lanes {
  __m512 m0, m2, m3, m5;  // the map's entries that do not multiply y
  __m512 opacity, softness;
  __m512 centre_x, centre_y, half_x, half_y, x_lo, y_lo, x_hi, y_hi;
  __m512i last_x, last_y;  // x_hi, y_hi as integers
  __m512i width, origin;   // the crop's cells per row, and Crop::origin
};

Lanes lanes_of(const Patch& patch, int64_t width, int64_t origin) {
  const float* m = patch.affine;
  return Lanes{_mm512_set1_ps(m[0]), _mm512_set1_ps(m[2]), _mm512_set1_ps(m[3]), _mm512_set1_ps(m[5]),
               _mm512_set1_ps(patch.opacity), _mm512_set1_ps(patch.softness),
               _mm512_set1_ps(patch.centre_x), _mm512_set1_ps(patch.centre_y),
               _mm512_set1_ps(patch.half_x), _mm512_set1_ps(patch.half_y),
               _mm512_set1_ps(float(patch.x_lo)), _mm512_set1_ps(float(patch.y_lo)),
               _mm512_set1_ps(float(patch.x_hi)), _mm512_set1_ps(float(patch.y_hi)),
               _mm512_set1_epi32(int32_t(patch.x_hi)), _mm512_set1_epi32(int32_t(patch.y_hi)),
               _mm512_set1_epi32(int32_t(width)), _mm512_set1_epi32(int32_t(origin))};
}

// shape_alpha of composite.h, for one shape.
template <int32_t kShape>
inline __m512 distance16(__m512 ux, __m512 uy, __m512 ax, __m512 ay) {
  if (kShape == kEllipse) return _mm512_sqrt_ps(_mm512_add_ps(_mm512_mul_ps(ux, ux), _mm512_mul_ps(uy, uy)));
  if (kShape == kRhombus) return _mm512_add_ps(ax, ay);
  return _mm512_max_ps(ax, ay);  // ax > ay ? ax : ay
}

// Whether a hard-edged shape covers u: distance16 <= 1. For an ellipse sqrt(s) <= 1
// exactly when s <= 1 + 2^-23, since sqrt is correctly rounded and monotone and
// sqrt(1 + 2^-23) rounds to 1: that spares the square root.
template <int32_t kShape>
inline __mmask16 covers16(__m512 ux, __m512 uy, __m512 ax, __m512 ay) {
  if (kShape == kEllipse) {
    const __m512 squared = _mm512_add_ps(_mm512_mul_ps(ux, ux), _mm512_mul_ps(uy, uy));
    return _mm512_cmp_ps_mask(squared, _mm512_set1_ps(1.00000012f), _CMP_LE_OQ);  // 1 + 2^-23
  }
  return _mm512_cmp_ps_mask(distance16<kShape>(ux, uy, ax, ay), _mm512_set1_ps(1.0f), _CMP_LE_OQ);
}

// Where 16 pixels sample the source: the index of the cell of (x0, y0) in the crop's
// plane, and the weights.
struct Taps {
  __m512i at;
  __m512 fx, fy;
};

inline Taps taps_of(const Lanes& k, __m512 ux, __m512 uy) {
  const __m512 sx = clamp16(_mm512_add_ps(k.centre_x, _mm512_mul_ps(ux, k.half_x)), k.x_lo, k.x_hi);
  const __m512 sy = clamp16(_mm512_add_ps(k.centre_y, _mm512_mul_ps(uy, k.half_y)), k.y_lo, k.y_hi);
  const __m512i x0 = _mm512_min_epi32(_mm512_cvttps_epi32(sx), k.last_x);
  const __m512i y0 = _mm512_min_epi32(_mm512_cvttps_epi32(sy), k.last_y);
  return Taps{_mm512_sub_epi32(_mm512_add_epi32(_mm512_mullo_epi32(y0, k.width), x0), k.origin),
              _mm512_sub_ps(sx, _mm512_cvtepi32_ps(x0)), _mm512_sub_ps(sy, _mm512_cvtepi32_ps(y0))};
}

// bilinear() of composite.h.
inline __m512 bilinear16(__m512 v00, __m512 v01, __m512 v10, __m512 v11, __m512 fx, __m512 fy) {
  const __m512 top = _mm512_add_ps(v00, _mm512_mul_ps(fx, _mm512_sub_ps(v01, v00)));
  const __m512 bottom = _mm512_add_ps(v10, _mm512_mul_ps(fx, _mm512_sub_ps(v11, v10)));
  return _mm512_add_ps(top, _mm512_mul_ps(fy, _mm512_sub_ps(bottom, top)));
}

// The bilinear sample of one plane of the crop at `taps`, in the lanes of `mask`.
// uint8: quads, one 32-bit gather per lane (`width` is not needed).
inline __m512 sample16(const Quad<uint8_t>* plane, int64_t, const Taps& taps, __mmask16 mask) {
  const __m512i byte = _mm512_set1_epi32(0xff);
  const __m512i quad = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), mask, taps.at, plane, 4);
  const __m512 v00 = _mm512_cvtepi32_ps(_mm512_and_si512(quad, byte));
  const __m512 v01 = _mm512_cvtepi32_ps(_mm512_and_si512(_mm512_srli_epi32(quad, 8), byte));
  const __m512 v10 = _mm512_cvtepi32_ps(_mm512_and_si512(_mm512_srli_epi32(quad, 16), byte));
  const __m512 v11 = _mm512_cvtepi32_ps(_mm512_srli_epi32(quad, 24));
  return bilinear16(v00, v01, v10, v11, taps.fx, taps.fy);
}

// float32: the padded crop of paint_span.h, a row of `width` values.
inline __m512 sample16(const float* plane, int64_t width, const Taps& taps, __mmask16 mask) {
  const __m512 none = _mm512_setzero_ps();
  const float* below = plane + width;
  return bilinear16(_mm512_mask_i32gather_ps(none, mask, taps.at, plane, 4),
                    _mm512_mask_i32gather_ps(none, mask, taps.at, plane + 1, 4),
                    _mm512_mask_i32gather_ps(none, mask, taps.at, below, 4),
                    _mm512_mask_i32gather_ps(none, mask, taps.at, below + 1, 4), taps.fx, taps.fy);
}

// Output pixels as float32, in the lanes of `mask`.
inline __m512 load16(const uint8_t* out, __mmask16 mask) {
  return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(mask, out)));
}
inline __m512 load16(const float* out, __mmask16 mask) { return _mm512_maskz_loadu_ps(mask, out); }

// quantise() of composite.h, in the lanes of `mask`: the stored form, 16 bytes or floats.
inline __m128i quantise16(__m512 value, uint8_t) {
  const __m512 clamped = clamp16(_mm512_add_ps(value, _mm512_set1_ps(0.5f)), _mm512_setzero_ps(),
                                 _mm512_set1_ps(255.0f));
  return _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(clamped));
}
inline __m512 quantise16(__m512 value, float) { return value; }

// quantise16 of a bilinear sample itself. A uint8 sample lies in [0, 255]: each of
// bilinear()'s a + f·(b - a), with f in [0, 1], rounds to a value between a and b, as
// rounding is monotone and a, b - a are exact. So clamp() changes nothing, and
// truncating v + 0.5 <= 255.5 gives at most 255.
inline __m128i quantise_sample16(__m512 value, uint8_t) {
  return _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(_mm512_add_ps(value, _mm512_set1_ps(0.5f))));
}
inline __m512 quantise_sample16(__m512 value, float) { return value; }

inline void store16(uint8_t* out, __mmask16 mask, __m128i value) { _mm_mask_storeu_epi8(out, mask, value); }
inline void store16(float* out, __mmask16 mask, __m512 value) { _mm512_mask_storeu_ps(out, mask, value); }

// Columns x0 .. x1 of the row whose products m1·y, m4·y are `row`, for `channels`
// channels (a constant where the caller's template fixes it); out[p] points at channel
// 0, column 0 of the row in output p. With `source_alpha` the crop's plane `channels`
// is an alpha channel; `mask`, if not null, points at column 0 of the row in the masks,
// which get `id` where the tubelet paints.
template <typename scalar_t, int32_t kShape, bool kSoft>
inline void paint_row(const Lanes& k, PatchRow row, int64_t x0, int64_t x1, int64_t channels,
                      int64_t copies, const typename Crop<scalar_t>::Cell* cells, int64_t width, int64_t plane,
                      const int64_t* out_plane, scalar_t* const* out, bool source_alpha, int8_t* mask,
                      int8_t id) {
  const __m512 one = _mm512_set1_ps(1.0f), zero = _mm512_setzero_ps();
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512 x_from_y = _mm512_set1_ps(row.x_from_y), y_from_y = _mm512_set1_ps(row.y_from_y);
  for (int64_t x = x0; x <= x1; x += 16) {
    const int64_t count = x1 - x + 1;
    const __mmask16 lanes = count >= 16 ? __mmask16(0xffff) : __mmask16((1u << count) - 1);
    // u of paint_pixel: (m0·x + m1·y) + m2, (m3·x + m4·y) + m5.
    const __m512 column = _mm512_cvtepi32_ps(_mm512_add_epi32(_mm512_set1_epi32(int32_t(x)), iota));
    const __m512 ux = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(k.m0, column), x_from_y), k.m2);
    const __m512 uy = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(k.m3, column), y_from_y), k.m5);
    const __m512 ax = _mm512_abs_ps(ux), ay = _mm512_abs_ps(uy);
    const __mmask16 inside = _mm512_cmp_ps_mask(ax, one, _CMP_LE_OQ) & _mm512_cmp_ps_mask(ay, one, _CMP_LE_OQ);
    const __m512 coverage =
        kSoft ? clamp16(_mm512_div_ps(_mm512_sub_ps(one, distance16<kShape>(ux, uy, ax, ay)), k.softness), zero, one)
              : _mm512_maskz_mov_ps(covers16<kShape>(ux, uy, ax, ay), one);
    __m512 alpha = _mm512_maskz_mul_ps(inside, k.opacity, coverage);
    // blend() keeps the pixel where alpha <= 0, and paints where it is not (NaN included).
    __mmask16 paint = lanes & _mm512_cmp_ps_mask(alpha, zero, _CMP_NLE_UQ);
    if (paint == 0) continue;
    const Taps taps = taps_of(k, ux, uy);
    if (source_alpha) {  // source_coverage of composite.h
      const __m512 sample = sample16(cells + channels * plane, width, taps, paint);
      alpha = _mm512_mul_ps(alpha, clamp16(_mm512_mul_ps(sample, _mm512_set1_ps(alpha_unit<scalar_t>())), zero, one));
      paint &= _mm512_cmp_ps_mask(alpha, zero, _CMP_NLE_UQ);
      if (paint == 0) continue;
    }
    if (mask != nullptr) _mm_mask_storeu_epi8(mask + x, paint, _mm_set1_epi8(id));
    const __mmask16 opaque = _mm512_cmp_ps_mask(alpha, one, _CMP_GE_OQ);
    if ((paint & ~opaque) == 0) {  // all opaque: the canvas is not read (reads that miss the cache stall)
      for (int64_t c = 0; c < channels; ++c) {
        const auto stored = quantise_sample16(sample16(cells + c * plane, width, taps, paint), scalar_t{});
        for (int64_t p = 0; p < copies; ++p) store16(out[p] + c * out_plane[p] + x, paint, stored);
      }
      continue;
    }
    const __m512 keep = _mm512_sub_ps(one, alpha);
    for (int64_t c = 0; c < channels; ++c) {
      const __m512 value = sample16(cells + c * plane, width, taps, paint);
      const __m512 painted = _mm512_mul_ps(value, alpha);
      for (int64_t p = 0; p < copies; ++p) {
        scalar_t* at = out[p] + c * out_plane[p] + x;
        // before·(1 - alpha) + value·alpha, or value where alpha >= 1.
        const __m512 mixed = _mm512_add_ps(_mm512_mul_ps(load16(at, paint), keep), painted);
        store16(at, paint, quantise16(_mm512_mask_mov_ps(mixed, opaque, value), scalar_t{}));
      }
    }
  }
}

// The rows, for `kChannels` channels (0: layout.channels, known only at run time).
// Everything the loops read is a local: a store through uint8_t* may alias anything
// else, and would make the compiler reload it after every store.
template <typename scalar_t, int32_t kShape, bool kSoft, int64_t kChannels>
void paint_block(const Rows<scalar_t>& rows) {
  const Layout& layout = rows.layout;
  const int64_t channels = kChannels ? kChannels : layout.channels, copies = layout.copies;
  const auto* cells = rows.crop.cells;
  const int64_t width = rows.crop.width, plane = rows.crop.plane;
  int64_t out_plane[kMaxCopies], out_row[kMaxCopies];
  scalar_t* frames[kMaxCopies];
  for (int64_t p = 0; p < kMaxCopies; ++p) {
    const bool used = p < copies;
    out_plane[p] = used ? layout.out_plane[p] : 0;
    out_row[p] = used ? layout.out_row[p] : 0;
    frames[p] = used ? rows.frames[p] : nullptr;
  }
  const Patch& patch = rows.patch;
  const Lanes k = lanes_of(patch, rows.crop.width, rows.crop.origin);
  for (int64_t i = 0; i < rows.count; ++i) {
    const Box span = rows.spans[i];
    if (span.x1 < span.x0) continue;
    const int64_t y = rows.y0 + i;
    scalar_t* out[kMaxCopies];
    for (int64_t p = 0; p < kMaxCopies; ++p) out[p] = frames[p] + y * out_row[p];
    // Stores that miss the cache fill the store queue and stall: ask for the next row's
    // lines early, with intent to write (float32: a span is several lines per plane).
    if (sizeof(scalar_t) > 1 && i + 1 < rows.count) {
      const Box next = rows.spans[i + 1];
      for (int64_t p = 0; p < copies; ++p) {
        for (int64_t c = 0; c < channels; ++c) {
          const scalar_t* next_row = out[p] + out_row[p] + c * out_plane[p];
          for (int64_t x = next.x0; x < next.x1; x += 64 / int64_t(sizeof(scalar_t))) __builtin_prefetch(next_row + x, 1);
          if (next.x0 <= next.x1) __builtin_prefetch(next_row + next.x1, 1);
        }
      }
    }
    int8_t* mask = rows.masks != nullptr ? rows.masks + y * layout.mask_row : nullptr;
    paint_row<scalar_t, kShape, kSoft>(k, patch_row(patch, y), span.x0, span.x1, channels, copies, cells,
                                       width, plane, out_plane, out, layout.source_alpha, mask, rows.id);
  }
}

template <typename scalar_t, int32_t kShape, bool kSoft>
void paint_channels(const Rows<scalar_t>& rows) {
  if (rows.layout.channels == 3) {  // RGB, unrolled
    paint_block<scalar_t, kShape, kSoft, 3>(rows);
  } else {
    paint_block<scalar_t, kShape, kSoft, 0>(rows);
  }
}

template <typename scalar_t, int32_t kShape>
void paint_shape(const Rows<scalar_t>& rows) {
  if (rows.patch.softness > 0.0f) {
    paint_channels<scalar_t, kShape, true>(rows);
  } else {
    paint_channels<scalar_t, kShape, false>(rows);
  }
}

}  // namespace

template <typename scalar_t>
void paint_rows_avx512(const Rows<scalar_t>& rows) {
  switch (rows.patch.shape) {
    case kEllipse: return paint_shape<scalar_t, kEllipse>(rows);
    case kRhombus: return paint_shape<scalar_t, kRhombus>(rows);
    default: return paint_shape<scalar_t, kRectangle>(rows);  // any other value: a rectangle
  }
}

template void paint_rows_avx512<uint8_t>(const Rows<uint8_t>& rows);
template void paint_rows_avx512<float>(const Rows<float>& rows);

#pragma GCC diagnostic pop
#pragma GCC pop_options

}  // namespace tubelets

#else  // not x86-64 GCC or Clang: the portable passes only

namespace tubelets {
bool cpu_has_avx512() { return false; }
template <typename scalar_t>
void paint_rows_avx512(const Rows<scalar_t>&) {}
template void paint_rows_avx512<uint8_t>(const Rows<uint8_t>& rows);
template void paint_rows_avx512<float>(const Rows<float>& rows);
}  // namespace tubelets

#endif
