// The CPU sampler of tubelets._C: sampler.h's sample_clip over the clips of a batch.
#include <cstdint>
#include <vector>

#include "cpu_backend.h"

namespace tubelets {

void sample_cpu(const SampleConfig& config, uint64_t seed, int64_t batch, const SampleOutputs& out,
                int num_threads) {
#pragma omp parallel num_threads(batch < 16 ? 1 : num_threads)  // a few clips: not worth a fork
  {
    std::vector<double> scratch(3 * config.frames + config.count);
#pragma omp for
    for (int64_t b = 0; b < batch; ++b) sample_clip(config, seed, b, out, scratch.data());
  }
}

}  // namespace tubelets
