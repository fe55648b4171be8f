// The module tubelets._cuda: Python bindings of the CUDA backend. Compiled by
// the host compiler; the kernels live in composite_cuda.cu.
#include <cuda_runtime_api.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "composite.h"
#include "python_args.h"

namespace py = pybind11;

// The nvcc targets of this build, "sm_80+sm_90+compute_90", from setup.py.
#ifndef TUBELETS_CUDA_ARCHS
#error "setup.py defines TUBELETS_CUDA_ARCHS: the targets the module is built for"
#endif
#define TUBELETS_STRINGIZE_(...) #__VA_ARGS__
#define TUBELETS_STRINGIZE(...) TUBELETS_STRINGIZE_(__VA_ARGS__)

namespace {

std::vector<std::string> built_archs() {
  const std::string listed = TUBELETS_STRINGIZE(TUBELETS_CUDA_ARCHS);
  std::vector<std::string> archs;
  for (size_t start = 0; start <= listed.size();) {
    const size_t end = std::min(listed.find('+', start), listed.size());
    if (end > start) archs.push_back(listed.substr(start, end - start));
    start = end + 1;
  }
  return archs;
}

// The CUDA version the driver supports, 1000 * major + 10 * minor; 0 without a driver.
// Only asks the driver library for its version: no device or context is initialised.
int driver_version() {
  int version = 0;
  if (cudaDriverGetVersion(&version) != cudaSuccess) return 0;
  return version;
}

}  // namespace

PYBIND11_MODULE(_cuda, module) {
  using namespace tubelets;
  module.doc() = "tubelets CUDA compositing backend; see tubelets.native.";
  module.def(
      "paint",
      [](const std::string& dtype, const Layout5& size, const std::vector<StridedVideo>& outs,
         const std::vector<StridedVideo>& ins, uintptr_t source, const Layout5& source_size,
         const Layout5& source_stride, int64_t num_tubelets, const ParamPointers& params,
         uintptr_t masks, bool source_alpha, int device, uintptr_t stream) {
        paint_cuda(make_paint_args(size, outs, ins, source, source_size, source_stride, num_tubelets, params,
                                  masks, source_alpha),
                   parse_dtype(dtype), device, stream);
      },
      py::arg("dtype"), py::arg("size"), py::arg("outs"), py::arg("ins"), py::arg("source"),
      py::arg("source_size"), py::arg("source_stride"), py::arg("num_tubelets"), py::arg("params"),
      py::arg("masks"), py::arg("source_alpha"), py::arg("device"), py::arg("stream"), py::call_guard<py::gil_scoped_release>(),
      "Enqueues outs[p] = ins[p] with the tubelets painted on, on `stream` (a cudaStream_t) of "
      "`device`; the arguments are those of tubelets._C.paint.");
  module.def(
      "runtime_version", [] { return CUDART_VERSION; },
      "The CUDA runtime version the module was built with and links statically, "
      "1000 * major + 10 * minor (13000 for CUDA 13.0).");
  module.def("driver_version", &driver_version,
             "The CUDA version this machine's driver supports (cudaDriverGetVersion), as "
             "runtime_version(); 0 without a driver.");
  module.def("archs", &built_archs,
             "The nvcc targets built in: 'sm_XX' cubins and 'compute_XX' PTX.");
}
