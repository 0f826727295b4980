// bias_act on the CPU: one fused pass over memory per mode (no intermediate tensors), with the
// bias-gradient reduction fused into the gradient pass.
//
// Tensors are [outer, C, inner] in memory. When inner > 1 the threads share out the
// (outer, C) planes, each a contiguous run with one bias value; when inner == 1
// (channels-last maps, fully connected layers) they share out rows of C values.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <vector>

#include "bias_act.h"

namespace ganbench {
namespace {

// A contiguous run of n elements sharing the bias value bc; returns the sum of the outputs
// when SUM. Restrict pointers and values passed by copy keep the loop free of reloads, and
// the template arguments keep it free of branches, so the compiler vectorizes it.
template <int A, int MODE, bool CLAMP, bool SUM, typename scalar_t, typename acc_t>
double run_span(const scalar_t* __restrict__ x, const scalar_t* __restrict__ dy,
                const scalar_t* __restrict__ g, scalar_t* __restrict__ out, int64_t n, acc_t bc,
                acc_t alpha, acc_t gain, acc_t clamp) {
  acc_t total = acc_t(0);
#pragma omp simd reduction(+ : total)
  for (int64_t i = 0; i < n; ++i) {
    const acc_t v = bias_act_elem<A, MODE, CLAMP, acc_t>(
        static_cast<acc_t>(x[i]) + bc, MODE != kForward ? static_cast<acc_t>(dy[i]) : acc_t(0),
        MODE == kGrad2 ? static_cast<acc_t>(g[i]) : acc_t(0), alpha, gain, clamp);
    out[i] = static_cast<scalar_t>(v);
    if constexpr (SUM) total += v;
  }
  return static_cast<double>(total);
}

// A row of C elements with one bias value each (bias may not be null); adds the outputs to
// part[c] when SUM.
template <int A, int MODE, bool CLAMP, bool SUM, typename scalar_t, typename acc_t>
void run_row(const scalar_t* __restrict__ x, const scalar_t* __restrict__ dy,
             const scalar_t* __restrict__ g, scalar_t* __restrict__ out,
             const acc_t* __restrict__ bias, acc_t* __restrict__ part, int64_t C, acc_t alpha,
             acc_t gain, acc_t clamp) {
#pragma omp simd
  for (int64_t c = 0; c < C; ++c) {
    const acc_t v = bias_act_elem<A, MODE, CLAMP, acc_t>(
        static_cast<acc_t>(x[c]) + bias[c], MODE != kForward ? static_cast<acc_t>(dy[c]) : acc_t(0),
        MODE == kGrad2 ? static_cast<acc_t>(g[c]) : acc_t(0), alpha, gain, clamp);
    out[c] = static_cast<scalar_t>(v);
    if constexpr (SUM) part[c] += v;
  }
}

template <int A, int MODE, bool CLAMP, bool SUM, typename scalar_t>
void bias_act_cpu_impl(const BiasActTensors& t, const BiasActScalars& s, double* db) {
  using acc_t = at::opmath_type<scalar_t>;
  const scalar_t* x = t.x.const_data_ptr<scalar_t>();
  const scalar_t* b = t.b.defined() ? t.b.const_data_ptr<scalar_t>() : nullptr;
  const scalar_t* dy = MODE != kForward ? t.dy.const_data_ptr<scalar_t>() : nullptr;
  const scalar_t* g = MODE == kGrad2 ? t.g.const_data_ptr<scalar_t>() : nullptr;
  scalar_t* out = t.out.mutable_data_ptr<scalar_t>();
  const acc_t alpha = static_cast<acc_t>(s.alpha);
  const acc_t gain = static_cast<acc_t>(s.gain);
  const acc_t clamp = static_cast<acc_t>(s.clamp);
  const int64_t outer = t.outer, C = t.C, inner = t.inner;

  if (inner > 1) {
    const int64_t planes = outer * C;
    std::vector<double> plane_sum(SUM ? planes : 0);
    const int64_t grain = std::max<int64_t>(1, 32768 / inner);
    at::parallel_for(0, planes, grain, [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        const int64_t base = p * inner;
        const acc_t bc = b ? static_cast<acc_t>(b[p % C]) : acc_t(0);
        const double sum = run_span<A, MODE, CLAMP, SUM, scalar_t, acc_t>(
            x + base, dy ? dy + base : nullptr, g ? g + base : nullptr, out + base, inner, bc,
            alpha, gain, clamp);
        if constexpr (SUM) plane_sum[p] = sum;
      }
    });
    if constexpr (SUM)
      for (int64_t p = 0; p < planes; ++p) db[p % C] += plane_sum[p];
  } else {
    // Rows of C values; a bias vector of zeros stands in for a missing bias.
    std::vector<acc_t> bias(C, acc_t(0));
    if (b)
      for (int64_t c = 0; c < C; ++c) bias[c] = static_cast<acc_t>(b[c]);
    // Blocks of rows, each at least 32K elements, so that small tensors run on one thread.
    const int64_t blocks = std::max<int64_t>(
        1, std::min<int64_t>({outer, 4 * at::get_num_threads(), outer * C / 32768}));
    std::vector<acc_t> partial(SUM ? blocks * C : 0, acc_t(0));
    at::parallel_for(0, blocks, 1, [&](int64_t begin, int64_t end) {
      for (int64_t blk = begin; blk < end; ++blk) {
        acc_t* part = SUM ? partial.data() + blk * C : nullptr;
        for (int64_t o = blk * outer / blocks; o < (blk + 1) * outer / blocks; ++o) {
          const int64_t base = o * C;
          run_row<A, MODE, CLAMP, SUM, scalar_t, acc_t>(
              x + base, dy ? dy + base : nullptr, g ? g + base : nullptr, out + base, bias.data(),
              part, C, alpha, gain, clamp);
        }
      }
    });
    if constexpr (SUM)
      for (int64_t blk = 0; blk < blocks; ++blk)
        for (int64_t c = 0; c < C; ++c) db[c] += static_cast<double>(partial[blk * C + c]);
  }
}

template <int A, int MODE, typename scalar_t>
void bias_act_cpu_dispatch(const BiasActTensors& t, const BiasActScalars& s, double* db) {
  const bool clamp = s.clamp >= 0;
  if constexpr (MODE == kForward) {  // no bias gradient to sum
    if (clamp) bias_act_cpu_impl<A, MODE, true, false, scalar_t>(t, s, db);
    else bias_act_cpu_impl<A, MODE, false, false, scalar_t>(t, s, db);
    return;
  }
  if (clamp && db) bias_act_cpu_impl<A, MODE, true, true, scalar_t>(t, s, db);
  else if (clamp) bias_act_cpu_impl<A, MODE, true, false, scalar_t>(t, s, db);
  else if (db) bias_act_cpu_impl<A, MODE, false, true, scalar_t>(t, s, db);
  else bias_act_cpu_impl<A, MODE, false, false, scalar_t>(t, s, db);
}

}  // namespace

at::Tensor bias_act_cpu(const BiasActTensors& t, int64_t mode, int64_t act,
                        const BiasActScalars& s, bool want_db) {
  if (t.x.numel() == 0) {
    return want_db ? at::zeros({t.C}, t.x.options()) : at::Tensor();
  }
  std::vector<double> db(want_db ? t.C : 0, 0.0);
  double* dbp = want_db ? db.data() : nullptr;
  AT_DISPATCH_FLOATING_TYPES(t.x.scalar_type(), "bias_act_cpu", [&] {
    dispatch_act(act, [&]<int A>() {
      switch (mode) {
        case kForward: bias_act_cpu_dispatch<A, kForward, scalar_t>(t, s, nullptr); break;
        case kGrad: bias_act_cpu_dispatch<A, kGrad, scalar_t>(t, s, dbp); break;
        default: bias_act_cpu_dispatch<A, kGrad2, scalar_t>(t, s, dbp); break;
      }
    });
  });
  if (!want_db) return at::Tensor();
  return at::tensor(db, at::TensorOptions().dtype(at::kDouble)).to(t.x.scalar_type());
}

}  // namespace ganbench
