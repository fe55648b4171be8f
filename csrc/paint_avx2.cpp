// paint_rows_avx2: paint_simd.h's span kernel in AVX2 registers, 8 pixels of a row at a
// time, for uint8 and float32 (see paint_span.h), on CPUs without AVX-512.
//
// AVX2 has no byte-masked stores, so a uint8 step reads its 8 bytes, blends in the
// painted lanes and writes the 8 back: the other lanes get the values they had. For
// that every step's 8 pixels lie inside the row: a step that would cross the row's end
// is moved left to end at its last pixel, over pixels this tubelet has already painted
// or does not cover (written again as they are now). The rows must then be at least 8
// pixels wide (composite_cpu.cpp sends narrower frames to the portable passes). No
// other thread writes these pixels meanwhile: a frame is painted by one thread.
#include "paint_span.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#include <cstdint>

namespace tubelets {

bool cpu_has_avx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2");
}

#pragma GCC push_options
#pragma GCC target("avx2")

namespace {

// The vocabulary of paint_simd.h in AVX2: 8 lanes, masks as vectors of all-ones lanes.
struct Avx2 {
  static constexpr int64_t kLanes = 8;
  using F = __m256;
  using I = __m256i;
  using M = __m256;

  static F set1(float value) { return _mm256_set1_ps(value); }
  static I set1i(int32_t value) { return _mm256_set1_epi32(value); }
  static F zero() { return _mm256_setzero_ps(); }
  static I iota() { return _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7); }

  static F add(F a, F b) { return _mm256_add_ps(a, b); }
  static F sub(F a, F b) { return _mm256_sub_ps(a, b); }
  static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F div(F a, F b) { return _mm256_div_ps(a, b); }
  static F min(F a, F b) { return _mm256_min_ps(a, b); }
  static F max(F a, F b) { return _mm256_max_ps(a, b); }
  static F sqrt(F a) { return _mm256_sqrt_ps(a); }
  static F abs(F a) { return _mm256_and_ps(a, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff))); }
  static F cvt(I a) { return _mm256_cvtepi32_ps(a); }
  static I cvtt(F a) { return _mm256_cvttps_epi32(a); }

  static I addi(I a, I b) { return _mm256_add_epi32(a, b); }
  static I subi(I a, I b) { return _mm256_sub_epi32(a, b); }
  static I mullo(I a, I b) { return _mm256_mullo_epi32(a, b); }
  static I mini(I a, I b) { return _mm256_min_epi32(a, b); }
  static I andi(I a, I b) { return _mm256_and_si256(a, b); }
  template <int kBits>
  static I srli(I a) { return _mm256_srli_epi32(a, kBits); }

  static M le(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_LE_OQ); }
  static M ge(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_GE_OQ); }
  static M nle(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_NLE_UQ); }  // not a <= b: NaN too
  static M both(M a, M b) { return _mm256_and_ps(a, b); }
  static M but_not(M a, M b) { return _mm256_andnot_ps(b, a); }
  static bool none(M a) { return _mm256_movemask_ps(a) == 0; }
  static F zero_unless(M m, F a) { return _mm256_and_ps(m, a); }
  static F select(M m, F if_set, F otherwise) { return _mm256_blendv_ps(otherwise, if_set, m); }

  // The 8 columns from x, or the row's last 8 where fewer are left (`row_width` >= 8);
  // `lanes` are those of columns x .. x1.
  struct Window {
    int64_t start;
    M lanes;
  };
  static Window window(int64_t x, int64_t x1, int64_t row_width) {
    const int64_t start = x + kLanes <= row_width ? x : row_width - kLanes;
    const I column = _mm256_add_epi32(_mm256_set1_epi32(int32_t(start)), iota());
    const I from = _mm256_cmpgt_epi32(_mm256_set1_epi32(int32_t(x)), column);   // column < x
    const I to = _mm256_cmpgt_epi32(column, _mm256_set1_epi32(int32_t(x1)));    // column > x1
    return Window{start, _mm256_castsi256_ps(_mm256_xor_si256(_mm256_or_si256(from, to), _mm256_set1_epi32(-1)))};
  }

  // A uint8 crop's quads (a 32-bit gather each), a float32 crop's values; 0 off `m`.
  static I gather(const Quad<uint8_t>* plane, I at, M m) {
    return _mm256_mask_i32gather_epi32(_mm256_setzero_si256(), reinterpret_cast<const int*>(plane), at,
                                       _mm256_castps_si256(m), 4);
  }
  static F gather(const float* plane, I at, M m) { return _mm256_mask_i32gather_ps(zero(), plane, at, m, 4); }

  // 8 bytes at `at`, with those of the lanes of `m` replaced by `value`'s.
  static void blend_bytes(void* at, M m, __m128i value) {
    const __m256i lanes = _mm256_castps_si256(m);  // -1 or 0 per lane, then as words and bytes
    const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(lanes), _mm256_extracti128_si256(lanes, 1));
    const __m128i before = _mm_loadl_epi64(static_cast<const __m128i*>(at));
    _mm_storel_epi64(static_cast<__m128i*>(at), _mm_blendv_epi8(before, value, _mm_packs_epi16(words, words)));
  }

  // Output pixels as float32 (a window's 8, inside the row), and the stored forms back
  // in the lanes of `m`: uint8 from int32 lanes in [0, 255].
  static F load(const uint8_t* out, M) {
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(out))));
  }
  static F load(const float* out, M m) { return _mm256_maskload_ps(out, _mm256_castps_si256(m)); }
  static void store(uint8_t* out, M m, I value) {
    const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(value), _mm256_extracti128_si256(value, 1));
    blend_bytes(out, m, _mm_packus_epi16(words, words));
  }
  static void store(float* out, M m, F value) { _mm256_maskstore_ps(out, _mm256_castps_si256(m), value); }
  static void store_id(int8_t* masks, M m, int8_t id) { blend_bytes(masks, m, _mm_set1_epi8(id)); }
};

#include "paint_simd.h"

}  // namespace

template <typename scalar_t>
void paint_rows_avx2(const Rows<scalar_t>& rows) {
  paint_rows_with<Avx2>(rows);
}

template void paint_rows_avx2<uint8_t>(const Rows<uint8_t>& rows);
template void paint_rows_avx2<float>(const Rows<float>& rows);

#pragma GCC pop_options

}  // namespace tubelets

#else  // not x86-64 GCC or Clang: the portable passes only

namespace tubelets {
bool cpu_has_avx2() { return false; }
template <typename scalar_t>
void paint_rows_avx2(const Rows<scalar_t>&) {}
template void paint_rows_avx2<uint8_t>(const Rows<uint8_t>& rows);
template void paint_rows_avx2<float>(const Rows<float>& rows);
}  // namespace tubelets

#endif
