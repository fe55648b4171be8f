// paint_rows_avx512: paint_simd.h's span kernel in AVX-512 registers, 16 pixels of a
// row at a time, for uint8 and float32 (see paint_span.h). Masked loads and stores
// touch only the lanes of the span, so a row's last step needs no special case.
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

// The vocabulary of paint_simd.h in AVX-512: 16 lanes, masks in mask registers.
struct Avx512 {
  static constexpr int64_t kLanes = 16;
  using F = __m512;
  using I = __m512i;
  using M = __mmask16;

  static F set1(float value) { return _mm512_set1_ps(value); }
  static I set1i(int32_t value) { return _mm512_set1_epi32(value); }
  static F zero() { return _mm512_setzero_ps(); }
  static I iota() { return _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15); }

  static F add(F a, F b) { return _mm512_add_ps(a, b); }
  static F sub(F a, F b) { return _mm512_sub_ps(a, b); }
  static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static F div(F a, F b) { return _mm512_div_ps(a, b); }
  static F min(F a, F b) { return _mm512_min_ps(a, b); }
  static F max(F a, F b) { return _mm512_max_ps(a, b); }
  static F sqrt(F a) { return _mm512_sqrt_ps(a); }
  static F abs(F a) { return _mm512_abs_ps(a); }
  static F cvt(I a) { return _mm512_cvtepi32_ps(a); }
  static I cvtt(F a) { return _mm512_cvttps_epi32(a); }

  static I addi(I a, I b) { return _mm512_add_epi32(a, b); }
  static I subi(I a, I b) { return _mm512_sub_epi32(a, b); }
  static I mullo(I a, I b) { return _mm512_mullo_epi32(a, b); }
  static I mini(I a, I b) { return _mm512_min_epi32(a, b); }
  static I andi(I a, I b) { return _mm512_and_si512(a, b); }
  template <int kBits>
  static I srli(I a) { return _mm512_srli_epi32(a, kBits); }

  static M le(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_LE_OQ); }
  static M ge(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ); }
  static M nle(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_NLE_UQ); }  // not a <= b: NaN too
  static M both(M a, M b) { return a & b; }
  static M but_not(M a, M b) { return M(a & ~b); }
  static bool none(M a) { return a == 0; }
  static F zero_unless(M m, F a) { return _mm512_maskz_mov_ps(m, a); }
  static F select(M m, F if_set, F otherwise) { return _mm512_mask_mov_ps(otherwise, m, if_set); }

  // Lanes from x, the first x1 - x + 1 of them (all 16 if that many).
  struct Window {
    int64_t start;
    M lanes;
  };
  static Window window(int64_t x, int64_t x1, int64_t) {
    const int64_t count = x1 - x + 1;
    return Window{x, count >= 16 ? M(0xffff) : M((1u << count) - 1)};
  }

  // A uint8 crop's quads (a 32-bit gather each), a float32 crop's values.
  static I gather(const Quad<uint8_t>* plane, I at, M m) {
    return _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m, at, plane, 4);
  }
  static F gather(const float* plane, I at, M m) { return _mm512_mask_i32gather_ps(zero(), m, at, plane, 4); }

  // Output pixels as float32 in the lanes of `m` (others 0), and the stored forms back.
  static F load(const uint8_t* out, M m) {
    return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, out)));
  }
  static F load(const float* out, M m) { return _mm512_maskz_loadu_ps(m, out); }
  static void store(uint8_t* out, M m, I value) { _mm_mask_storeu_epi8(out, m, _mm512_cvtepi32_epi8(value)); }
  static void store(float* out, M m, F value) { _mm512_mask_storeu_ps(out, m, value); }
  static void store_id(int8_t* masks, M m, int8_t id) { _mm_mask_storeu_epi8(masks, m, _mm_set1_epi8(id)); }
};

#include "paint_simd.h"

}  // namespace

template <typename scalar_t>
void paint_rows_avx512(const Rows<scalar_t>& rows) {
  paint_rows_with<Avx512>(rows);
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
