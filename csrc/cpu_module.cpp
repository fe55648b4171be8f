// The module tubelets._C: Python bindings of the CPU backend (composite_cpu.cpp,
// sample_cpu.cpp, value_checks.h); see tubelets.native.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "cpu_backend.h"
#include "python_args.h"
#include "value_checks.h"

namespace py = pybind11;

namespace tubelets {
namespace {

// Ranges of TubeletConfig in this order, each (low, high).
constexpr int kRanges = 8;
// Options, as tubelets.native._config_arguments orders them: the fewest tubelets a clip
// paints, same_on_batch, the Easing, opacity_keyframes, nonlinear_square, a rotation walk.
constexpr int kOptions = 6;
// Extras: softness_p, patch_jitter, rotation_step, then the (w, h) patch anchors.
constexpr size_t kExtras = 3;
// Data pointers of the outputs in SampleOutputs' order.
constexpr int kSampleOutputs = 12;

SampleConfig make_sample_config(const std::array<int64_t, 4>& sizes, int32_t motion,
                                const std::array<bool, 3>& transforms, int32_t keyframes,
                                int32_t points, const std::vector<int32_t>& shapes,
                                const std::array<double, 2 * kRanges>& ranges, double p,
                                const std::array<int64_t, kOptions>& options,
                                const std::vector<double>& extras, uintptr_t nonlinear_matrix) {
  if (shapes.empty() || shapes.size() > 3) throw std::invalid_argument("tubelets: 1 to 3 shapes");
  if (options[0] < 0 || options[0] > sizes[0] || options[2] < kEaseLinear || options[2] > kEaseRandom) {
    throw std::invalid_argument("tubelets: options must be (min_count in [0, M], same_on_batch, easing in [0, 3])");
  }
  if (extras.size() < kExtras || (extras.size() - kExtras) % 2 != 0) {
    throw std::invalid_argument("tubelets: extras must be 3 numbers, then (w, h) pairs");
  }
  if (sizes[1] < 1) throw std::invalid_argument("tubelets: sampling needs at least one frame");
  // Only min(K, T) keyframes exist (keyframe_times); sample_clip holds them on the stack.
  const int64_t used = keyframes < sizes[1] ? keyframes : sizes[1];
  if (keyframes < 1 || used > kMaxKeyframes) {
    throw std::invalid_argument("tubelets: min(keyframes, frames) must lie in [1, " +
                                std::to_string(kMaxKeyframes) + "] for the C++ sampler");
  }
  SampleConfig config;
  config.count = sizes[0];
  config.frames = sizes[1];
  config.height = sizes[2];
  config.width = sizes[3];
  config.motion = motion;
  config.rotation = transforms[0];
  config.scale = transforms[1];
  config.shear = transforms[2];
  config.keyframes = keyframes;
  config.points = points;
  config.num_shapes = int32_t(shapes.size());
  for (size_t i = 0; i < shapes.size(); ++i) config.shapes[i] = shapes[i];
  double* fields[kRanges] = {config.patch_size, config.max_step, config.extent, config.scale_range,
                             config.rotation_range, config.shear_range, config.opacity, config.softness};
  for (int i = 0; i < kRanges; ++i) {
    fields[i][0] = ranges[2 * i];
    fields[i][1] = ranges[2 * i + 1];
  }
  config.p = p;
  config.min_count = options[0];
  config.same_on_batch = options[1] != 0;
  config.easing = int32_t(options[2]);
  config.opacity_keyframes = options[3] != 0;
  config.nonlinear_square = options[4] != 0;
  config.rotation_walk = options[5] != 0;
  config.softness_p = extras[0];
  config.patch_jitter = extras[1];
  config.rotation_step = extras[2];
  config.anchors = extras.data() + kExtras;  // alive for the call: the binding holds `extras`
  config.num_anchors = int64_t(extras.size() - kExtras) / 2;
  config.nonlinear_matrix = reinterpret_cast<const double*>(nonlinear_matrix);
  return config;
}

SampleOutputs make_sample_outputs(const std::array<uintptr_t, kSampleOutputs>& at) {
  return SampleOutputs{
      reinterpret_cast<float*>(at[0]),   reinterpret_cast<float*>(at[1]),
      reinterpret_cast<int32_t*>(at[2]), reinterpret_cast<int32_t*>(at[3]),
      reinterpret_cast<int32_t*>(at[4]), reinterpret_cast<float*>(at[5]),
      reinterpret_cast<float*>(at[6]),   reinterpret_cast<float*>(at[7]),
      reinterpret_cast<float*>(at[8]),   reinterpret_cast<float*>(at[9]),
      reinterpret_cast<int64_t*>(at[10]), reinterpret_cast<int64_t*>(at[11])};
}

}  // namespace
}  // namespace tubelets

PYBIND11_MODULE(_C, module) {
  using namespace tubelets;
  module.doc() = "tubelets CPU backend (OpenMP): compositing and sampling; see tubelets.native.";
  module.def(
      "paint",
      [](const std::string& dtype, const Layout5& size, const std::vector<StridedVideo>& outs,
         const std::vector<StridedVideo>& ins, uintptr_t source, const Layout5& source_size,
         const Layout5& source_stride, int64_t num_tubelets, const ParamPointers& params,
         uintptr_t masks, bool source_alpha, int num_threads) {
        paint_cpu(make_paint_args(size, outs, ins, source, source_size, source_stride, num_tubelets, params,
                                  masks, source_alpha),
                  parse_dtype(dtype), num_threads);
      },
      py::arg("dtype"), py::arg("size"), py::arg("outs"), py::arg("ins"), py::arg("source"),
      py::arg("source_size"), py::arg("source_stride"), py::arg("num_tubelets"), py::arg("params"),
      py::arg("masks"), py::arg("source_alpha"), py::arg("num_threads"), py::call_guard<py::gil_scoped_release>(),
      "outs[p] = ins[p] with the tubelets painted on; videos are (data pointer, strides in "
      "elements) of (B, C, T, H, W) tensors of `size`; see tubelets.reference.paint_.");
  module.def(
      "sample",
      [](uintptr_t seed, int64_t batch, const std::array<int64_t, 4>& sizes, int32_t motion,
         const std::array<bool, 3>& transforms, int32_t keyframes, int32_t points,
         const std::vector<int32_t>& shapes, const std::array<double, 2 * kRanges>& ranges, double p,
         const std::array<int64_t, kOptions>& options, const std::vector<double>& extras,
         uintptr_t nonlinear_matrix,
         const std::array<uintptr_t, kSampleOutputs>& outputs,
         int num_threads) {
        const SampleConfig config = make_sample_config(sizes, motion, transforms, keyframes, points,
                                                       shapes, ranges, p, options, extras, nonlinear_matrix);
        sample_cpu(config, *reinterpret_cast<const uint64_t*>(seed), batch, make_sample_outputs(outputs),
                   num_threads);
      },
      py::arg("seed"), py::arg("batch"), py::arg("sizes"), py::arg("motion"), py::arg("transforms"),
      py::arg("keyframes"), py::arg("points"), py::arg("shapes"), py::arg("ranges"), py::arg("p"),
      py::arg("options"), py::arg("extras"), py::arg("nonlinear_matrix"), py::arg("outputs"), py::arg("num_threads"),
      py::call_guard<py::gil_scoped_release>(),
      "Samples tubelets into preallocated outputs; see tubelets.native.sample_cpu.");
  module.def(
      "failed_value_check", &failed_value_check, py::arg("params"), py::arg("tubelets"), py::arg("frames"),
      py::arg("source_frames"), py::arg("height"), py::arg("width"), py::arg("shapes"),
      "The index of the first of tubelets.ops.value_checks() that a value fails, -1 if none.");
  module.def("simd", &simd, "The kernel that paints spans of rows: 'avx512', 'avx2' or 'portable'.");
  module.def("simds", &simds, "The kernels that can paint spans of rows on this CPU, narrowest first.");
  module.def("set_simd", &set_simd, py::arg("name"),
             "Chooses the kernel that paints spans of rows, one of simds().");
  module.def(
      "quantise",
      [](const std::string& dtype, uintptr_t values, uintptr_t out, int64_t count) {
        quantise_array(parse_dtype(dtype), values, out, count);
      },
      py::arg("dtype"), py::arg("values"), py::arg("out"), py::arg("count"),
      "Test hook: float32 values -> dtype, as the kernels store a pixel.");
  module.def(
      "to_float",
      [](const std::string& dtype, uintptr_t values, uintptr_t out, int64_t count) {
        widen_array(parse_dtype(dtype), values, out, count);
      },
      py::arg("dtype"), py::arg("values"), py::arg("out"), py::arg("count"),
      "Test hook: dtype values -> float32, as the kernels read a pixel.");
}
