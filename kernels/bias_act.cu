// bias_act on CUDA: one thread per element (grid-stride), element math from bias_act.h,
// the same code the CPU version runs. The binding reduces the bias gradient with ATen.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>

#include <algorithm>

#include "bias_act.h"

namespace ganbench {
namespace {

template <int A, int MODE, typename scalar_t, typename acc_t>
__global__ void bias_act_kernel(const scalar_t* __restrict__ x, const scalar_t* __restrict__ b,
                                const scalar_t* __restrict__ dy, const scalar_t* __restrict__ g,
                                scalar_t* __restrict__ out, int64_t total, int64_t C,
                                int64_t inner, acc_t alpha, acc_t gain, acc_t clamp) {
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += stride) {
    const acc_t bc = b ? static_cast<acc_t>(b[(i / inner) % C]) : acc_t(0);
    const acc_t d = MODE != kForward ? static_cast<acc_t>(dy[i]) : acc_t(0);
    const acc_t gg = MODE == kGrad2 ? static_cast<acc_t>(g[i]) : acc_t(0);
    const acc_t z = static_cast<acc_t>(x[i]) + bc;
    out[i] = static_cast<scalar_t>(clamp >= acc_t(0)
                                       ? bias_act_elem<A, MODE, true>(z, d, gg, alpha, gain, clamp)
                                       : bias_act_elem<A, MODE, false>(z, d, gg, alpha, gain, clamp));
  }
}

}  // namespace

void bias_act_cuda(const BiasActTensors& t, int64_t mode, int64_t act, const BiasActScalars& s) {
  const c10::cuda::CUDAGuard guard(t.x.device());
  const int64_t total = t.x.numel();
  if (total == 0) return;
  const int threads = 256;
  const int64_t blocks = std::min<int64_t>((total + threads - 1) / threads, 65536);
  cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, t.x.scalar_type(), "bias_act_cuda", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const scalar_t* x = t.x.const_data_ptr<scalar_t>();
    const scalar_t* b = t.b.defined() ? t.b.const_data_ptr<scalar_t>() : nullptr;
    const scalar_t* dy = t.dy.defined() ? t.dy.const_data_ptr<scalar_t>() : nullptr;
    const scalar_t* g = t.g.defined() ? t.g.const_data_ptr<scalar_t>() : nullptr;
    scalar_t* out = t.out.mutable_data_ptr<scalar_t>();
    const acc_t alpha = static_cast<acc_t>(s.alpha);
    const acc_t gain = static_cast<acc_t>(s.gain);
    const acc_t clamp = static_cast<acc_t>(s.clamp);
    dispatch_act(act, [&]<int A>() {
      const unsigned nb = static_cast<unsigned>(blocks);
      if (mode == kForward)
        bias_act_kernel<A, kForward, scalar_t, acc_t><<<nb, threads, 0, stream>>>(
            x, b, dy, g, out, total, t.C, t.inner, alpha, gain, clamp);
      else if (mode == kGrad)
        bias_act_kernel<A, kGrad, scalar_t, acc_t><<<nb, threads, 0, stream>>>(
            x, b, dy, g, out, total, t.C, t.inner, alpha, gain, clamp);
      else
        bias_act_kernel<A, kGrad2, scalar_t, acc_t><<<nb, threads, 0, stream>>>(
            x, b, dy, g, out, total, t.C, t.inner, alpha, gain, clamp);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  });
}

}  // namespace ganbench
