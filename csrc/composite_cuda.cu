// CUDA backend: one thread per output pixel, one launch for all P outputs.
//
// The grid is (B·T frames) x (tiles across) x (tiles down) and covers whole frames:
// each thread copies its pixel from every input to its output (unless painted in
// place), then paints the tubelets whose box holds it. A block first computes the
// union of the tubelets' boxes in its frame, from the same few (cached, warp-uniform)
// loads in every thread; a tile that misses it only copies.
#include <cuda.h>  // driver API types only: the functions come from the runtime
#include <cuda_runtime.h>

#include <climits>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "composite.h"

namespace tubelets {
namespace {

// A tile row is one warp, so loads and stores along W coalesce.
constexpr int kTileWidth = 32;
constexpr int kTileHeight = 8;
// At least 4 resident blocks per SM caps registers at 64 per thread. With the
// block size alone, ptxas chose 40 registers for uint8 and spilled (sm_80/sm_90).
// On sm_120 and later (CUDA 13.0) that cap spills 148-152 bytes per thread, while
// the block size alone gives 60-88 registers and no spill: no minimum there.
constexpr int kMinBlocksPerSM = 4;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 1200
#define TUBELETS_PAINT_BOUNDS __launch_bounds__(kTileWidth * kTileHeight)
#else
#define TUBELETS_PAINT_BOUNDS __launch_bounds__(kTileWidth * kTileHeight, kMinBlocksPerSM)
#endif

__device__ Box union_box(const PaintArgs& args, int64_t b, int64_t t) {
  Box all{INT64_MAX, INT64_MAX, INT64_MIN, INT64_MIN};
  for (int64_t m = 0; m < args.num_tubelets; ++m) {
    const Box box = frame_box(args, b, m, t);
    if (is_empty(box)) continue;
    all = Box{min(all.x0, box.x0), min(all.y0, box.y0), max(all.x1, box.x1), max(all.y1, box.y1)};
  }
  return all;
}

template <typename scalar_t>
__device__ void copy_pixel(const PaintArgs& args, int64_t b, int64_t t, int64_t y, int64_t x) {
  for (int64_t p = 0; p < args.copies; ++p) {
    if (paints_in_place(args, p)) continue;
    const int64_t* os = args.out_stride[p];
    const int64_t* is = args.in_stride[p];
    scalar_t* out = static_cast<scalar_t*>(args.out[p]) + b * os[0] + t * os[2] + y * os[3] + x * os[4];
    const scalar_t* in =
        static_cast<const scalar_t*>(args.in[p]) + b * is[0] + t * is[2] + y * is[3] + x * is[4];
    for (int64_t c = 0; c < args.size[1]; ++c) out[c * os[1]] = in[c * is[1]];
  }
}

template <typename scalar_t>
__global__ void TUBELETS_PAINT_BOUNDS paint_kernel(const PaintArgs args) {
  // The host checked that B·T fits the grid's 32-bit x: divide in 32 bits.
  const unsigned frames = unsigned(args.size[2]);
  const int64_t b = blockIdx.x / frames, t = blockIdx.x % frames;
  const int64_t tile_x = int64_t(blockIdx.y) * kTileWidth;
  const int64_t tile_y = int64_t(blockIdx.z) * kTileHeight;
  const int64_t x = tile_x + threadIdx.x, y = tile_y + threadIdx.y;
  if (x >= args.size[4] || y >= args.size[3]) return;
  copy_pixel<scalar_t>(args, b, t, y, x);
  if (args.masks != nullptr) args.masks[mask_index(args, b, t, y, x)] = -1;

  const Box tile{tile_x, tile_y, tile_x + kTileWidth - 1, tile_y + kTileHeight - 1};
  const Box work = union_box(args, b, t);
  if (work.x1 < tile.x0 || work.y1 < tile.y0 || work.x0 > tile.x1 || work.y0 > tile.y1) return;
  for (int64_t m = 0; m < args.num_tubelets; ++m) {
    if (!contains(frame_box(args, b, m, t), x, y)) continue;
    paint_pixel<scalar_t>(args, load_patch(args, b, m, t), b, m, t, y, x);
  }
}

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) {
    throw std::runtime_error(std::string("tubelets CUDA backend: ") + what + ": " +
                             cudaGetErrorString(status));
  }
}

// Makes `device` current for the launch, and the caller's device current again after,
// by the rule of c10's CUDA guard (ExchangeDevice, then MaybeSetDevice): switch only if
// the devices differ, and switch back only to a device whose primary context is already
// active. Since CUDA 12 cudaSetDevice creates the primary context (hundreds of MB) of the
// device it makes current, and a thread that never chose a device reports device 0, so a
// plain restore would create a context on GPU 0 in a process that only uses GPU 1. Where
// the previous device has no context nothing on this thread has used it, and the launch's
// device stays current, as torch leaves it. cudaGetDevice creates no context.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    check(cudaGetDevice(&previous_), "cudaGetDevice");
    if (previous_ != device) {
      check(cudaSetDevice(device), "cudaSetDevice");
      switched_ = true;
    }
  }
  ~DeviceGuard() {
    if (switched_ && has_primary_context(previous_)) cudaSetDevice(previous_);
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  // The driver's cuDevicePrimaryCtxGetState, reached through the runtime so that the
  // module needs no libcuda at link time; runtime and driver number devices alike. False
  // when the driver cannot tell: at worst the launch's device stays current.
  static bool has_primary_context(int device) {
    using GetState = CUresult (*)(CUdevice, unsigned int*, int*);
    static const GetState get_state = [] {
      void* function = nullptr;
#if CUDART_VERSION >= 12000
      cudaDriverEntryPointQueryResult found{};
#if CUDART_VERSION >= 12050  // cudaGetDriverEntryPoint is deprecated from here on
      const cudaError_t status = cudaGetDriverEntryPointByVersion(
          "cuDevicePrimaryCtxGetState", &function, 7000, cudaEnableDefault, &found);
#else
      const cudaError_t status = cudaGetDriverEntryPoint(
          "cuDevicePrimaryCtxGetState", &function, cudaEnableDefault, &found);
#endif
      const bool usable = status == cudaSuccess && found == cudaDriverEntryPointSuccess;
#else  // CUDA 11.3 to 11.8: no query result
      const bool usable = cudaGetDriverEntryPoint("cuDevicePrimaryCtxGetState", &function,
                                                  cudaEnableDefault) == cudaSuccess;
#endif
      return usable ? reinterpret_cast<GetState>(function) : nullptr;
    }();
    unsigned int flags = 0;
    int active = 0;  // the driver may leave it unset for an inactive context
    return get_state != nullptr && get_state(device, &flags, &active) == CUDA_SUCCESS &&
           active == 1;
  }

  int previous_ = 0;
  bool switched_ = false;
};

}  // namespace

void paint_cuda(const PaintArgs& args, Dtype dtype, int device, uintptr_t stream) {
  if (num_pixels(args) == 0) return;
  const int64_t frames = args.size[0] * args.size[2];
  const int64_t tiles_x = (args.size[4] + kTileWidth - 1) / kTileWidth;
  const int64_t tiles_y = (args.size[3] + kTileHeight - 1) / kTileHeight;
  if (frames > INT_MAX || tiles_x > 65535 || tiles_y > 65535) {
    throw std::invalid_argument("tubelets CUDA backend: too many frames or too large frames");
  }
  const dim3 grid{unsigned(frames), unsigned(tiles_x), unsigned(tiles_y)};
  const dim3 block{kTileWidth, kTileHeight};
  DeviceGuard guard(device);
  dispatch(dtype, [&](auto storage) {
    paint_kernel<decltype(storage)>
        <<<grid, block, 0, reinterpret_cast<cudaStream_t>(stream)>>>(args);
  });
  check(cudaGetLastError(), "launching paint_kernel");
}

}  // namespace tubelets
