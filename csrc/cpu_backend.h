// The entry points of tubelets._C, the CPU backend; bound in cpu_module.cpp.
#pragma once

#include <stdint.h>

#include <string>
#include <vector>

#include "composite.h"
#include "sampler.h"

namespace tubelets {

// composite_cpu.cpp: out[p] = in[p] with the tubelets painted on, on `num_threads`.
void paint_cpu(const PaintArgs& args, Dtype dtype, int num_threads);

// composite_cpu.cpp: which kernel paints the spans of rows, "avx512", "avx2" or
// "portable" (the default: the widest this CPU has); simds lists this CPU's, narrowest
// first, and set_simd chooses one (tests compare them).
const char* simd();
std::vector<std::string> simds();
void set_simd(const std::string& name);

// composite_cpu.cpp, test hooks: composite.h's dtype conversions over `count` values.
void quantise_array(Dtype dtype, uintptr_t values, uintptr_t out, int64_t count);
void widen_array(Dtype dtype, uintptr_t values, uintptr_t out, int64_t count);

// sample_cpu.cpp: sample_clip for clips 0 .. batch-1, on `num_threads`.
void sample_cpu(const SampleConfig& config, uint64_t seed, int64_t batch, const SampleOutputs& out,
                int num_threads);

}  // namespace tubelets
